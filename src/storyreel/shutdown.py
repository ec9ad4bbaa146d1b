"""One two-stage shutdown for every long-running command (`main`, `run`, `render`,
`dashboard`), after rq's warm and cold shutdown.

The first SIGINT/SIGTERM sets `soft`: finish or hand back the current work. The second sets
`hard`: stop now. A second signal within a second of the first is the same stop arriving
twice (a terminal's Ctrl-C reaches every process of its group while a parent passes it on)
and is ignored.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import NoReturn

from storyreel.logs import MAIN_WORKER, get_logger

# A second signal this soon after the first is a duplicate of it, not a second stop (s).
REPEAT_SECONDS = 1.0
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_at_once(signum: int) -> NoReturn:
    """A hard stop for a command with nothing to hand back: end the process now
    (exit status 130 for SIGINT, 143 for SIGTERM)."""
    os._exit(128 + signum)


class Shutdown:
    """`soft` and `hard` stop events, set by signals once `install`ed (or by calling
    `request_stop` / `request_force_stop`); `on_soft` / `on_hard` run in the handler."""

    def __init__(self, *, on_soft: Callable[[], None] | None = None,
                 on_hard: Callable[[int], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, component: str = MAIN_WORKER) -> None:
        """`component` names the process in the log (main_worker, render_worker)."""
        self.soft = threading.Event()
        self.hard = threading.Event()
        self.on_soft = on_soft
        self.on_hard = on_hard
        self.clock = clock
        self.log = get_logger(component)
        self._requested_at: float | None = None

    def install(self) -> Shutdown:
        """Handle SIGINT and SIGTERM in this process (call from the main thread)."""
        for signum in SIGNALS:
            signal.signal(signum, self._handle)
        return self

    def _handle(self, signum: int, _frame: object) -> None:
        if self.soft.is_set():
            self.request_force_stop(signum)
        else:
            self.request_stop()

    def request_stop(self) -> None:
        """First stage: finish or hand back the current work."""
        self._requested_at = self.clock()
        self.soft.set()
        if self.on_soft is not None:
            self.on_soft()

    def request_force_stop(self, signum: int = signal.SIGTERM) -> None:
        """Second stage: stop now (ignored within REPEAT_SECONDS of the first)."""
        if self._requested_at is not None and self.clock() - self._requested_at < REPEAT_SECONDS:
            self.log.debug("Stop signal ignored: received twice within %.0f s", REPEAT_SECONDS)
            return
        self.soft.set()
        self.hard.set()
        if self.on_hard is not None:
            self.on_hard(signum)
