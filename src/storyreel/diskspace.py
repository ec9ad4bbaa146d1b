"""Free space under the project root: SPEC §9's low-space warning and the floor below
which no task is planned or claimed.

- `LowDiskWarner` logs `Low disk space: 2.3GB remaining` while space is below
  `[disk] low_space_gb`, at most once in a while.
- `space_ok(project)` is asked before planning a task and before handing one to a
  node. Below `[disk] floor_gb` it says no; each crossing of the floor is logged once
  (`Low disk space: 0.8GB remaining, below the 1.0GB floor; …`), and once more when
  space returns.

GB here means 10⁹ bytes, as `df -H` and disk vendors count.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from storyreel import fsops
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.project import Project

GB = 1_000_000_000
# Repeat the low-space warning this often while space stays low, so the log is not flooded.
REPEAT_SECONDS = 600.0


class LowDiskWarner:
    """Logs a WARN line when free space under `path` is below `threshold_gb`."""

    def __init__(
        self, log: logging.Logger, path: Path, threshold_gb: float, *,
        repeat_seconds: float = REPEAT_SECONDS, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.path = path
        self.threshold = threshold_gb * GB
        self.repeat_seconds = repeat_seconds
        self.clock = clock
        self._last: float | None = None

    def check(self) -> int:
        """Measure free space; warn if low and not warned recently. Returns the free bytes."""
        free = fsops.free_bytes(self.path)
        if free >= self.threshold:
            self._last = None  # space came back: warn at once if it runs low again
            return free
        now = self.clock()
        if self._last is None or now - self._last >= self.repeat_seconds:
            self._last = now
            self.log.warning("Low disk space: %.1fGB remaining", free / GB)
        return free


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
