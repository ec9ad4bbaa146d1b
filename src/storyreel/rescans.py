"""When to list a folder in full again: the main worker's indexes follow the moves it makes
itself and list their folders in full only to notice what an operator moved by hand.

A full listing grows with the project (10,000 queued tasks, 10,000 story folders), so the
interval grows with it: a listing is repeated every `seconds`, or less often when one
costs more than LISTING_SHARE of a core, so an idle main worker's cost stays flat.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# An idle main worker spends at most this share of a core on each index's full listings.
LISTING_SHARE = 0.005


class Rescan:
    """The schedule of one index's full listings."""

    def __init__(self, seconds: float, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._monotonic = monotonic
        self._listed_at: float | None = None
        self._cost = 0.0  # CPU seconds the last listing took
        self._began: float | None = None

    @property
    def interval(self) -> float:
        """Seconds between full listings now."""
        return max(self.seconds, self._cost / LISTING_SHARE)

    def due(self) -> bool:
        return self._listed_at is None or self._monotonic() - self._listed_at >= self.interval

    def now(self) -> None:
        """Make the next look-up list in full (something changed that the index cannot follow)."""
        self._listed_at = None

    def begin(self) -> None:
        """A full listing starts (on this thread)."""
        self._began = time.thread_time()

    def done(self) -> None:
        """The listing begun last ended: it counts from now, and its cost sets the interval."""
        if self._began is not None:
            self._cost = time.thread_time() - self._began
        self._began = None
        self._listed_at = self._monotonic()
