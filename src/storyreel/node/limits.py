"""How long a render node serves: the limits that make it fit an elastic fleet.

A node on a cluster is cattle: a supervisor starts it when tasks wait and stops it when
they are gone. Three limits let it behave there:

- `max_tasks`: claim at most this many tasks, finish them, exit 0 (a batch job's worth);
  the prefetch counts, so the node never claims one past the limit.
- `exit_when_idle`: exit 0 once the node has held nothing and the coordinator has had
  nothing to give it for this long (a job that ends when the queue is drained).
- `grace`: after the first stop signal the node finishes its current render and upload;
  past this many seconds it hands back everything and exits. Supervisors must allow a
  little longer than this before they kill the process (Kubernetes'
  terminationGracePeriodSeconds, systemd's TimeoutStopSec, Slurm's and HTCondor's kill
  delays): the hard stop itself needs a few seconds (pipeline.HALT_GRACE).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# A stop signal's default grace: a render of a few minutes of 1080p video and its upload fit.
DEFAULT_GRACE_SECONDS = 120.0


@dataclass
class Limits:
    """The node's limits (None: no limit) and the clocks they are checked against."""

    max_tasks: int | None = None
    exit_when_idle: float | None = None
    grace: float | None = DEFAULT_GRACE_SECONDS
    clock: Callable[[], float] = time.monotonic
    _busy_at: float = field(init=False)
    _stop_at: float | None = field(init=False, default=None)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._busy_at = self.clock()

    def may_claim(self, granted: int) -> bool:
        """Room for one more claim under `max_tasks`, `granted` claims so far."""
        return self.max_tasks is None or granted < self.max_tasks

    # -- exit_when_idle ----------------------------------------------------------
    def busy(self) -> None:
        """The node holds a task now (or just let one go): the idle clock starts again."""
        with self._lock:
            self._busy_at = self.clock()

    def idle_over(self, holding: bool) -> bool:
        """True once the node held nothing and got nothing for `exit_when_idle` seconds."""
        if holding:
            self.busy()
            return False
        if self.exit_when_idle is None:
            return False
        with self._lock:
            return self.clock() - self._busy_at >= self.exit_when_idle

    # -- grace -----------------------------------------------------------------
    def stopping(self) -> None:
        """The first stop arrived: the grace period starts (once)."""
        if self._stop_at is None:
            self._stop_at = self.clock()

    def grace_over(self) -> bool:
        """True once the first stop is older than `grace` seconds."""
        if self.grace is None or self._stop_at is None:
            return False
        return self.clock() - self._stop_at >= self.grace
