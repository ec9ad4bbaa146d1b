"""The SPEC §9 low-disk warning: `Low disk space: 2.3GB remaining`, at most once in a while."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from storyreel import fsops

# Repeat the warning this often while space stays low, so the log is not flooded.
REPEAT_SECONDS = 600.0
# Bytes per GB in the message (SI, as disk vendors and `df -H` count).
GB = 1_000_000_000


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
