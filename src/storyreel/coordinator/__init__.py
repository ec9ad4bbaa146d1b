"""The main worker's side of the render farm: leases, the reaper and the HTTP API."""

from __future__ import annotations

from storyreel.coordinator.api import create_app
from storyreel.coordinator.server import CoordinatorServer
from storyreel.coordinator.service import Coordinator

__all__ = ["Coordinator", "CoordinatorServer", "create_app"]
