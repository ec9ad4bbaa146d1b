"""The farm state: one typed document (model.py), built in one place (build.py), read by
`storyreel status`, the dashboard and `/metrics`."""

from __future__ import annotations

from storyreel.farmstate.build import build_state
from storyreel.farmstate.model import FarmState, NodeRow, NodeState, NodeTask

__all__ = ["FarmState", "NodeRow", "NodeState", "NodeTask", "build_state"]
