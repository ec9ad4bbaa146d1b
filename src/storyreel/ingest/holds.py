"""Files left in raw/ after an error: each waits out a pause that grows with every failure.

A file that fails the same way again (same size and mtime) waits twice as long as
before, up to a ceiling; a file that changes is looked at again at once and its pause
starts over.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from storyreel.ingest.watch import Signature

# The first pause after an error (disk full, permissions): long enough not to spin, short
# enough that a fixed disk is noticed within a minute.
RETRY_SECONDS = 60.0
# The longest pause: a file that keeps failing is still tried again every hour.
MAX_RETRY_SECONDS = 3600.0
# The signature of a file that could not even be looked at (lstat failed): held by name.
UNSEEN = Signature(-1, -1)


@dataclass(frozen=True)
class Hold:
    signature: Signature
    until: float
    pause: float
    reason: str = ""  # the error that left the file in raw/


@dataclass(frozen=True)
class HeldFile:
    """A file that stays in raw/ until its pause ends or it changes: what views show."""

    path: Path
    reason: str
    retry_in: float | None  # seconds until it is tried again; None: only once it changes


class Holds:
    """Which files wait in raw/ after an error, and until when."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._held: dict[Path, Hold] = {}

    def hold(self, path: Path, sig: Signature, reason: str = "") -> float:
        """Leave `path` alone for a while after `reason`; returns the pause in seconds."""
        before = self._held.get(path)
        pause = RETRY_SECONDS
        if before is not None and before.signature == sig:
            pause = min(before.pause * 2, MAX_RETRY_SECONDS)
        self._held[path] = Hold(sig, self.clock() + pause, pause, reason)
        return pause

    def waiting(self, path: Path, sig: Signature) -> bool:
        """True while `path`, unchanged since it failed, is still in its pause."""
        held = self._held.get(path)
        return held is not None and held.signature == sig and self.clock() < held.until

    def pause(self, path: Path) -> float | None:
        """The pause `path` waits out now, or None when it is not held."""
        held = self._held.get(path)
        return held.pause if held is not None else None

    def held(self) -> list[HeldFile]:
        """Every file in its pause now, by path."""
        now = self.clock()
        return [HeldFile(path, hold.reason, hold.until - now)
                for path, hold in sorted(self._held.items()) if now < hold.until]

    def release(self, path: Path) -> None:
        """The file left raw/ (or went through): forget its failures."""
        self._held.pop(path, None)

    def keep_only(self, present: set[Path]) -> None:
        for path in [p for p in self._held if p not in present]:
            del self._held[path]
