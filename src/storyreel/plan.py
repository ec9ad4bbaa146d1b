"""scanned/ → tasks/<id>/: one task per voice chapter that has none yet."""

from __future__ import annotations

from storyreel.project import Project


class Planner:
    def __init__(self, project: Project) -> None:
        self.project = project

    def plan_pending(self) -> list[str]:
        """Create tasks for voice chapters that have none; returns the new task ids."""
        return []
