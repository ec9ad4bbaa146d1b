"""The reaper: the expiry owner of processing/.

Each pass judges every folder in processing/ on the main worker's clock. A hold whose
lease ran out goes back to tasks/ as the next attempt, or, once its leases have run
out `max_attempts` times, to trash/failed/ with the reason. A folder without a held
lease (its lease.json was lost) is honoured for one lease period first. A move the disk
has no room for is tried again next pass (a full disk is logged once per spell). Leases granted
before the main worker (re)started get one more lease period from its start, so nodes
that kept rendering while it was down are not punished for it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from storyreel import lifecycle
from storyreel.config import CoordinatorSettings
from storyreel.coordinator.holds import Hold, HoldStore, Outcome
from storyreel.coordinator.leases import Lease
from storyreel.coordinator.taskqueue import list_task_ids
from storyreel.diskspace import disk_full
from storyreel.errors import FilesystemError
from storyreel.layout import Layout, TaskState
from storyreel.logs import MAIN_WORKER, Event, EventLog, get_logger

log = get_logger(MAIN_WORKER)


class Reaper:
    """Ends the holds that ran out. `requeue(task_id, outcome)` puts a task back in tasks/
    (the facade's, shared with a node's release)."""

    def __init__(self, holds: HoldStore, layout: Layout, settings: CoordinatorSettings, events: EventLog, *,
                 requeue: Callable[[str, Outcome], None], started_at: float) -> None:
        self.holds = holds
        self.layout = layout
        self.settings = settings
        self.events = events
        self.requeue = requeue
        self.started_at = started_at
        self._disk_full = False  # a move failed for a full disk and none has worked since

    def reap(self, now: float) -> list[str]:
        """One pass over processing/; returns the task ids it moved. The caller holds the
        coordinator's lock (no other move runs meanwhile)."""
        moved: list[str] = []
        present = list_task_ids(self.layout.state_dir(TaskState.PROCESSING))
        for task_id in self.holds.task_ids() - set(present):
            self.holds.end(task_id, Outcome.VANISHED)  # moved out of processing/ by hand
        for task_id in present:
            try:
                with self.holds.lock:  # judged and ended at once: no renewal slips in between
                    hold = self.due(task_id, now)
                    if hold is None:
                        continue
                    dest = self._end(hold)
            except FilesystemError as exc:
                self._cannot(task_id, exc)
                continue
            if self._disk_full:
                self._disk_full = False
                log.info("Expired tasks can be moved again: disk space is back")
            self._report(hold, dest, now)
            moved.append(task_id)
        return moved

    def _cannot(self, task_id: str, exc: FilesystemError) -> None:
        """A move that failed is tried again next pass; a full disk is reported once per
        spell (it lasts many passes), any other fault every time."""
        if not disk_full(exc):
            log.error("Cannot reap task %s: %s", task_id, exc)
        elif not self._disk_full:
            self._disk_full = True
            log.warning("Cannot reap task %s: %s; expired tasks stay in processing/ until space "
                        "returns", task_id, exc)

    def due(self, task_id: str, now: float) -> Hold | None:
        """The task's hold when it has run out now, else None."""
        hold = self.holds.load(task_id)
        if hold is None:
            return self.holds.orphan(task_id, now)
        if not hold.lease.expired(now) or self.in_grace(hold, now):
            return None
        return hold

    def in_grace(self, hold: Hold, now: float) -> bool:
        """True for a lease granted before this main worker started, within one lease period
        of its start."""
        return hold.lease.claimed_at < self.started_at and now < self.started_at + self.settings.lease_seconds

    def _end(self, hold: Hold) -> Path | None:
        """Requeue an expired hold, or abandon it after its last attempt: returns where an
        abandoned task went (None: back in tasks/)."""
        lease = hold.lease
        if lease.expiries + 1 < self.settings.max_attempts:
            self.requeue(hold.task_id, Outcome.EXPIRED)
            return None
        self.holds.end(hold.task_id, Outcome.ABANDONED)
        return lifecycle.fail(self.layout, hold.task_id, self._abandon_reason(lease), "", node=lease.node,
                              attempt=lease.attempt)

    def _abandon_reason(self, lease: Lease) -> str:
        return (f"abandoned: lease expired {lease.expiries + 1} times "
                f"(max_attempts = {self.settings.max_attempts}); last holder {lease.node}")

    def _report(self, hold: Hold, abandoned_to: Path | None, now: float) -> None:
        lease, task_id = hold.lease, hold.task_id
        if abandoned_to is None:
            log.warning("Lease of task %s expired (%s, attempt %d, %.1f s overdue); queued again as attempt %d",
                        task_id, lease.node, lease.attempt, now - lease.deadline, lease.attempt + 1)
            self.events.emit(Event.REQUEUED, task_id=task_id, node=lease.node, attempt=lease.attempt + 1,
                             reason="lease expired")
            return
        log.warning("Task %s abandoned after attempt %d on %s; moved to %s", task_id, lease.attempt,
                    lease.node, abandoned_to.relative_to(self.layout.root))
        self.events.emit(Event.FAILED, task_id=task_id, node=lease.node, attempt=lease.attempt,
                         reason=self._abandon_reason(lease))
