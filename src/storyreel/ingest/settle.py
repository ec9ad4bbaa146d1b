"""Taking a file the moment its stability window ends, not at the next pass of the loop.

The `Settler` is one thread beside the main worker's loop. It sleeps until the earliest
window of a settling file ends, or until a filesystem event names a path, then asks the
ingestor to take what is due (`take`). The loop's passes still walk raw/ and collect
finished checks; the settler only removes the wait for the next pass.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

# With nothing settling, the settler looks again this often anyway (a file a pass found
# between two events starts its window there).
IDLE_WAIT_SECONDS = 0.5
# After an event, this long for the rest of a burst to arrive, so a drop of hundreds of
# files is taken in a few looks rather than one per event.
GATHER_SECONDS = 0.02
# Waits end this much after a window's end, so the file is stable when looked at.
LATE_SECONDS = 0.001


class Settler:
    """Calls `take` when `due()` (the clock time the earliest window ends, or None) comes,
    or soon after `poke` (an event); keeps the first error `take` raises for `failure`."""

    def __init__(self, due: Callable[[], float | None], take: Callable[[], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.due = due
        self.take = take
        self.clock = clock
        self.failure: BaseException | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ingest-settler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def poke(self) -> None:
        """Something under raw/ changed: look soon."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _wait(self) -> None:
        due = self.due()
        timeout = IDLE_WAIT_SECONDS if due is None else due - self.clock() + LATE_SECONDS
        if self._wake.wait(min(max(timeout, 0.0), IDLE_WAIT_SECONDS)):
            self._wake.clear()
            self._stop.wait(GATHER_SECONDS)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wait()
            if self._stop.is_set():
                return
            try:
                self.take()
            except BaseException as exc:  # noqa: BLE001 - handed to the loop, which raises it
                self.failure = exc
                return
