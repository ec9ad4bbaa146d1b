"""Holds: which node holds each task in processing/, under which attempt, until when.

One `Hold` per held task keeps everything about it: the lease (node, attempt, deadline),
the deadline its lease.json holds on disk, and the stage and progress the node last
reported. The `HoldStore` is the only writer of lease.json and the only owner of holds:
a hold starts with a claim (`start`), is renewed by heartbeats (`renew`), is checked
by every request of its node (`held`, the fence) and ends through one door,
`end(task_id, outcome)`.

The store has its own small lock, so a heartbeat never waits for a claim that lists
tasks/ or hashes files. Moves of a held folder take it too (`lock`), so a renewal
never writes into a folder that is being moved.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from storyreel.coordinator import leases
from storyreel.coordinator.leases import Lease, LeaseState
from storyreel.errors import FilesystemError, Revoked, StaleLease, UnknownTask
from storyreel.layout import Layout, TaskState
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.protocol import TaskProgress

log = get_logger(MAIN_WORKER)

# A renewal is written to lease.json once the deadline there trails the one in memory by this
# share of a lease period. Only a restarted coordinator reads that deadline, and it grants every
# lease from before the restart a whole period anyway, so a live node loses nothing by the lag.
LEASE_WRITE_LAG = 0.25
# The stage of a task claimed and not yet reported on by a heartbeat.
CLAIMED_STAGE = "claimed"


class Outcome(StrEnum):
    """How a hold ends."""

    COMPLETED = "completed"  # its render was published in output/
    FAILED = "failed"  # its node gave up: trash/failed/
    RELEASED = "released"  # handed back unfinished: tasks/ again
    EXPIRED = "expired"  # its lease ran out: tasks/ again, as the next attempt
    ABANDONED = "abandoned"  # its lease ran out once too often: trash/failed/
    VANISHED = "vanished"  # its folder left processing/ by hand
    RETRIED = "retried"  # its render failed: tasks/ again, for another node
    CANCELLED = "cancelled"  # the operator cancelled it: trash/failed/
    REVOKED = "revoked"  # the operator paused its node: tasks/ again, for another node

    @property
    def record(self) -> str | None:
        """The state of the lease.json left behind in the folder (None: none is written)."""
        return _RECORDS.get(self)


_RECORDS = {Outcome.RELEASED: LeaseState.RELEASED, Outcome.EXPIRED: LeaseState.EXPIRED,
            Outcome.ABANDONED: LeaseState.EXPIRED, Outcome.RETRIED: LeaseState.FAILED,
            Outcome.REVOKED: LeaseState.RELEASED}
# The operator's word to an attempt it took a task from, by outcome: its node's next request
# is answered with it (the heartbeat reply's `revoked`, 410 for the rest).
REVOKED_BECAUSE = {Outcome.CANCELLED: "cancelled by the operator",
                   Outcome.REVOKED: "taken back: the operator paused this node"}
# Revoked attempts remembered for their nodes' next requests; older ones get a plain 409.
MAX_REVOKED = 1000


@dataclass
class Hold:
    """One held task: its lease in memory and on disk, and its node's last report."""

    lease: Lease
    written: float  # the deadline processing/<id>/lease.json holds (0: none is written)
    progress: TaskProgress = field(default_factory=lambda: TaskProgress(stage=CLAIMED_STAGE))

    @property
    def task_id(self) -> str:
        return self.lease.task_id

    @property
    def node(self) -> str:
        return self.lease.node

    @property
    def attempt(self) -> int:
        return self.lease.attempt

    def row(self) -> dict[str, object]:
        """The task as the node table shows it."""
        return {"task_id": self.task_id, "attempt": self.attempt, "stage": self.progress.stage,
                "progress": self.progress.percent, "eta_seconds": self.progress.eta_seconds,
                "speed": self.progress.speed}


class HoldStore:
    """Every hold of one project's processing/, and its lease.json files."""

    def __init__(self, layout: Layout, lease_seconds: float) -> None:
        self.layout = layout
        self.lease_seconds = lease_seconds
        self.lock = threading.RLock()
        self._holds: dict[str, Hold] = {}
        self._orphans: dict[str, float] = {}  # processing/<id> without a held lease → first seen
        self._renewals_failing = False  # the last renewal written failed (a full disk)
        self._revoked: dict[str, tuple[Lease, str]] = {}  # task → the attempt taken back, and why

    def _dir(self, task_id: str) -> Path:
        return self.layout.task_dir(task_id, TaskState.PROCESSING)

    # -- a hold begins ---------------------------------------------------------------------
    def grant(self, task_id: str, node: str, now: float) -> Lease:
        """Write a claim's lease into tasks/<id>/lease.json (durably), one attempt past the
        last; the folder moves to processing/ next, then `start` holds it."""
        queued = self.layout.task_dir(task_id, TaskState.QUEUED)
        lease = leases.new_lease(task_id, node, leases.read_lease(queued), self.lease_seconds, now)
        leases.write_lease(queued, lease)
        return lease

    def start(self, lease: Lease) -> Hold:
        with self.lock:
            hold = self._holds[lease.task_id] = Hold(lease, written=lease.deadline)
            self._orphans.pop(lease.task_id, None)
            return hold

    def load(self, task_id: str) -> Hold | None:
        """The task's hold; one written before a restart is read from lease.json once."""
        with self.lock:
            hold = self._holds.get(task_id)
            if hold is None:
                lease = leases.read_lease(self._dir(task_id))
                if lease is not None and lease.state == LeaseState.HELD:
                    # Its stage is unknown until its node reports again.
                    hold = self._holds[task_id] = Hold(lease, lease.deadline, TaskProgress())
            return hold

    def orphan(self, task_id: str, now: float) -> Hold | None:
        """A folder in processing/ without a held lease (its lease.json was lost): honoured for
        one lease period from when it was first seen, then held by a stand-in lease that
        has run out, for the reaper to end."""
        with self.lock:
            first = self._orphans.setdefault(task_id, now)
            if now - first < self.lease_seconds:
                return None
            last = leases.read_lease(self._dir(task_id))
            lease = Lease(task_id=task_id, node=last.node if last else "?", attempt=last.attempt if last else 1,
                          deadline=now, claimed_at=first, renewed_at=first,
                          expiries=last.expiries if last else 0)
            hold = self._holds[task_id] = Hold(lease, written=0.0)
            self._orphans.pop(task_id, None)
            return hold

    # -- while it lasts --------------------------------------------------------------------
    def held(self, task_id: str, node: str, attempt: int) -> Hold:
        """The hold (node, attempt) has on the task now: the fence every request of a node
        passes. StaleLease when another attempt holds it or it has moved on."""
        with self.lock:
            revoked = self._revoked.get(task_id)
            if revoked is not None and revoked[0].node == node and revoked[0].attempt == attempt:
                raise Revoked(f"task {task_id} attempt {attempt} of {node} was {revoked[1]}")
            hold = self._holds.get(task_id)
            if hold is not None:
                if self._dir(task_id).is_dir():
                    if hold.lease.matches(node, attempt):
                        return hold
                    raise _stale(task_id, node, attempt, f"held by {hold.node} attempt {hold.attempt}")
                self.end(task_id, Outcome.VANISHED)
            return self._held_on_disk(task_id, node, attempt)

    def _held_on_disk(self, task_id: str, node: str, attempt: int) -> Hold:
        """Ask the folders about a task this store holds nothing for."""
        found = self.layout.find_task(task_id)
        if found is None:
            raise UnknownTask(f"no task {task_id}")
        state, _ = found
        hold = self.load(task_id) if state == TaskState.PROCESSING else None
        if hold is None:
            raise _stale(task_id, node, attempt, str(state))
        if not hold.lease.matches(node, attempt):
            raise _stale(task_id, node, attempt, f"held by {hold.node} attempt {hold.attempt}")
        return hold

    def renew(self, task_id: str, node: str, attempt: int, progress: TaskProgress, now: float, *,
              wait: bool = True) -> Lease | None:
        """Extend the lease (node, attempt) holds and note its progress. With `wait=False`,
        None at once, changing nothing, when a move holds the store."""
        if not self.lock.acquire(blocking=wait):
            return None
        try:
            hold = self.held(task_id, node, attempt)
            lease = hold.lease = leases.renewed(hold.lease, self.lease_seconds, now)
            hold.progress = progress
            if lease.deadline - hold.written >= LEASE_WRITE_LAG * self.lease_seconds:
                self._write_renewal(hold)
            return lease
        finally:
            self.lock.release()

    def _write_renewal(self, hold: Hold) -> None:
        """Bring lease.json up to the renewal in memory. No fsync: losing one only shortens
        the lease (see write_lease). A write that fails (a full disk) costs nothing but the
        lag: the renewal holds in memory and the next one writes again; one WARN when
        writing starts failing, one INFO when it works again."""
        try:
            leases.write_lease(self._dir(hold.task_id), hold.lease, durable=False)
        except FilesystemError as exc:
            if not self._renewals_failing:
                self._renewals_failing = True
                log.warning("Cannot write the lease of task %s: %s; renewals are kept in memory "
                            "until it can be written", hold.task_id, exc.reason)
            return
        hold.written = hold.lease.deadline
        if self._renewals_failing:
            self._renewals_failing = False
            log.info("Lease renewals reach the disk again (task %s)", hold.task_id)

    def holds(self) -> list[Hold]:
        """The holds now, by task id (a copy: safe to read while others change)."""
        with self.lock:
            return [Hold(h.lease, h.written, h.progress) for _, h in sorted(self._holds.items())]

    def task_ids(self) -> set[str]:
        with self.lock:
            return set(self._holds)

    # -- the end ---------------------------------------------------------------------------
    def end(self, task_id: str, outcome: Outcome) -> Hold | None:
        """The one way a hold ends. A released or expired hold leaves its record in
        lease.json (written durably, before the folder moves back to tasks/), so the next
        claim continues the attempt count; the others leave the folder as it is."""
        with self.lock:
            hold = self._holds.get(task_id)
            if hold is not None and outcome.record is not None:
                # Written before the hold is let go: when it cannot be (a full disk), the
                # hold stays as it was and the caller moves nothing.
                leases.write_lease(self._dir(task_id), leases.ended(hold.lease, outcome.record))
            self._holds.pop(task_id, None)
            self._orphans.pop(task_id, None)
            if hold is not None and outcome in REVOKED_BECAUSE:
                self._revoked[task_id] = (hold.lease, REVOKED_BECAUSE[outcome])
                while len(self._revoked) > MAX_REVOKED:
                    self._revoked.pop(next(iter(self._revoked)))
            return hold


def _stale(task_id: str, node: str, attempt: int, holder: str) -> StaleLease:
    return StaleLease(f"task {task_id} attempt {attempt} of {node} is no longer current ({holder})")
