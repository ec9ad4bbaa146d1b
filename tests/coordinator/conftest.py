"""Fixtures shared by the coordinator's unit tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from coordkit import Clock, coordinator, make_project


@pytest.fixture()
def claimed(tmp_path: Path):
    """Two queued tasks, n1 holding the older one (attempt 1)."""
    project = make_project(tmp_path / "root", tasks=2)
    clock = Clock()
    coord = coordinator(project, clock, "n1", "n2")
    grant = coord.claim("n1")
    return project, coord, clock, grant.lease.task_id
