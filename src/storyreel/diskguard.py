"""Disk back-pressure: below the free-space floor no task is planned or claimed.

`space_ok(project)` is asked before planning a task and before handing one to a
node. Each crossing of the floor is logged once, in SPEC §9's words
(`Low disk space: 0.8GB remaining, below the 1.0GB floor; …`), and once more
when space returns.
GB here means 10⁹ bytes, as `df -H` shows it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from storyreel import fsops
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.project import Project

GB = 1_000_000_000


@dataclass
class DiskReport:
    free_bytes: int
    low_bytes: int
    floor_bytes: int

    @property
    def low(self) -> bool:
        return self.free_bytes < self.low_bytes

    @property
    def paused(self) -> bool:
        """Below the floor: no new tasks are planned or claimed."""
        return self.free_bytes < self.floor_bytes


class DiskGuard:
    """Watches free space under one folder and logs each crossing once."""

    def __init__(self, path: Path, component: str = MAIN_WORKER) -> None:
        self.path = Path(path)
        self.log = get_logger(component)
        self._lock = threading.Lock()
        self._paused = False

    def check(self, low_gb: float, floor_gb: float) -> DiskReport:
        """Measure free space now; log one WARN when it drops below `floor_gb` and one
        INFO when it comes back. (The plain low-space warning above `low_gb` is the
        main worker's LowDiskWarner.)"""
        report = DiskReport(fsops.free_bytes(self.path), int(low_gb * GB), int(floor_gb * GB))
        free_gb = report.free_bytes / GB
        with self._lock:
            if report.paused and not self._paused:
                self.log.warning(
                    "Low disk space: %.1fGB remaining, below the %.1fGB floor; "
                    "no task is planned or claimed until space returns", free_gb, floor_gb,
                )
            elif self._paused and not report.paused:
                self.log.info("Disk space back: %.1fGB free; planning and claiming resume", free_gb)
            self._paused = report.paused
        return report


_guards: dict[Path, DiskGuard] = {}
_guards_lock = threading.Lock()


def guard_for(project: Project) -> DiskGuard:
    """The one guard of a project root, so each crossing is logged once per process."""
    with _guards_lock:
        return _guards.setdefault(project.layout.root, DiskGuard(project.layout.root))


def measure(project: Project) -> DiskReport:
    """Free space against the project's thresholds, without logging (for readers)."""
    disk = project.settings.disk
    return DiskReport(
        fsops.free_bytes(project.layout.root), int(disk.low_space_gb * GB), int(disk.floor_gb * GB)
    )


def check(project: Project) -> DiskReport:
    disk = project.settings.disk
    return guard_for(project).check(disk.low_space_gb, disk.floor_gb)


def space_ok(project: Project) -> bool:
    """True when free space under the project root is above `[disk] floor_gb`."""
    return not check(project).paused
