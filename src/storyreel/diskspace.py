"""Free space under the project root: SPEC §9's low-space warning and the floor below
which no task is planned or claimed.

The main worker makes one `DiskWatcher` and hands it to the planner and the coordinator,
so each crossing of the floor is logged once however many of them ask.

- `warn_if_low()`, once per main-worker cycle, logs `Low disk space: 2.3GB remaining`
  while space is below `[disk] low_space_gb`, at most once in a while.
- `space_ok()` is asked before planning a task and before handing one to a node. Below
  `[disk] floor_gb` it says no; each crossing of the floor is logged once
  (`Low disk space: 0.8GB remaining, below the 1.0GB floor; …`), and once more when
  space returns.
- `spare_bytes()` is what an upload may take: the free space above the floor.
- `disk_full(exc)` tells a full disk (ENOSPC, EDQUOT) behind an error from any other fault.
- `measure(project)` reads the same figures without logging, for `status` and the dashboard.

GB here means 10⁹ bytes, as `df -H` and disk vendors count.
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from storyreel import fsops
from storyreel.config import DiskSettings
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.project import Project

GB = 1_000_000_000
# Repeat the low-space warning this often while space stays low, so the log is not flooded.
REPEAT_SECONDS = 600.0
# The errors that mean "no room left": the disk, or the main worker's quota on it, is full.
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def disk_full(exc: BaseException | None) -> bool:
    """True when `exc`, or an error it was raised from, is a full disk or quota."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


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


def _report(path: Path, disk: DiskSettings) -> DiskReport:
    return DiskReport(fsops.free_bytes(path), int(disk.low_space_gb * GB), int(disk.floor_gb * GB))


def measure(project: Project) -> DiskReport:
    """Free space against the project's thresholds, without logging (for readers)."""
    return _report(project.layout.root, project.settings.disk)


class DiskWatcher:
    """Watches free space under `path` against `settings` (read live, so a changed
    threshold applies at the next check). Thread-safe: nodes claim from HTTP threads."""

    def __init__(
        self, path: Path, settings: DiskSettings, *, component: str = MAIN_WORKER,
        repeat_seconds: float = REPEAT_SECONDS, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.settings = settings
        self.log = get_logger(component)
        self.repeat_seconds = repeat_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._paused = False
        self._warned_low_at: float | None = None

    @classmethod
    def for_project(cls, project: Project) -> DiskWatcher:
        return cls(project.layout.root, project.settings.disk)

    def warn_if_low(self) -> DiskReport:
        """Measure; warn when below `low_space_gb` and not warned recently."""
        report = _report(self.path, self.settings)
        with self._lock:
            if not report.low:
                self._warned_low_at = None  # space came back: warn at once if it runs low again
                return report
            now = self.clock()
            if self._warned_low_at is None or now - self._warned_low_at >= self.repeat_seconds:
                self._warned_low_at = now
                self.log.warning("Low disk space: %.1fGB remaining", report.free_bytes / GB)
        return report

    def check(self) -> DiskReport:
        """Measure; log one WARN when space drops below `floor_gb` and one INFO when it
        comes back."""
        report = _report(self.path, self.settings)
        free_gb, floor_gb = report.free_bytes / GB, self.settings.floor_gb
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

    def space_ok(self) -> bool:
        """True when free space is above `[disk] floor_gb`."""
        return not self.check().paused

    def spare_bytes(self) -> int:
        """The free space above `[disk] floor_gb` (0 below it): what an upload may fill."""
        report = self.check()
        return max(0, report.free_bytes - report.floor_bytes)
