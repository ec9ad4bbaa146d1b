"""The read-only web side of the coordinator: dashboard, its JSON state, and /metrics."""

from __future__ import annotations

from storyreel.web.routes import mount

__all__ = ["mount"]
