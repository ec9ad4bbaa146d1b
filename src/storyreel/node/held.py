"""The leases a render node holds, and how each one ends on the node's side.

A task is held from its claim until it is dropped: uploaded, failed, handed back
(released) or lost. Lost means the coordinator answered 409: our attempt no longer
holds the task, so it is dropped at once and never handed back. Every held lease
gets a heartbeat; the upload's own answer decides about a task being uploaded.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

from storyreel.errors import LeaseLost, NodeError, NotRegistered, Refused, TaskRevoked, Unreachable
from storyreel.layout import attempt_dir_name
from storyreel.logs import RENDER_WORKER, get_logger
from storyreel.node.client import CoordinatorClient
from storyreel.node.job import FailedStage, Job, JobStage, span
from storyreel.node.names import files_problem, lease_problem

log = get_logger(RENDER_WORKER)

# One task rendering and one downloading (or uploading): SPEC §7's timeline.
MAX_LEASES = 2


class HeldTasks:
    """At most MAX_LEASES tasks, each with its node-local scratch folder in `work_dir`."""

    def __init__(self, client: CoordinatorClient, work_dir: Path, encoders: list[str]) -> None:
        self._client = client
        self._work_dir = work_dir
        self._encoders = encoders
        self._jobs: dict[str, Job] = {}
        self._lock = threading.RLock()  # the run loop and every stage thread
        self._slots = threading.Semaphore(MAX_LEASES)
        self.granted = 0  # claims granted since the node started (the fetch thread counts them)

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    # -- a lease begins ----------------------------------------------------------
    def take_slot(self, timeout: float) -> bool:
        """Wait up to `timeout` for room for one more lease; claim only after this."""
        return self._slots.acquire(timeout=timeout)

    def claim(self, abort: threading.Event) -> Job | None:
        """Ask for a task with the slot taken; None (and the slot back) when none was granted,
        or when the grant names an input file that is not a plain name (reported failed)."""
        job = self._ask(abort)
        if job is None:
            self._slots.release()
            return None
        self.granted += 1
        with self._lock:
            self._jobs[job.task_id] = job
        log.info("Claimed task %s", job.label)
        if problem := files_problem(job.files):
            self.fail(job, time.time(), f"refused the task: {problem}", "", stage=FailedStage.DOWNLOAD)
            return None
        return job

    def _ask(self, abort: threading.Event) -> Job | None:
        try:
            grant = self._client.claim(abort=abort)
        except NotRegistered:
            self.register_again()
            return None
        except Unreachable:
            return None
        except Refused as exc:  # an answer that is no grant at all: nothing to report it to
            log.error("Refused a task from the coordinator: %s", exc)
            return None
        if grant is None:
            return None
        if problem := lease_problem(grant):  # nothing we could address it by: its lease runs out
            log.error("Refused a task from the coordinator: %s", problem)
            return None
        work = self._work_dir / attempt_dir_name(grant.task_id, grant.attempt)
        return Job(grant.task_id, grant.attempt, grant.metadata, grant.files, work)

    # -- a lease ends ----------------------------------------------------------
    def drop(self, job: Job) -> bool:
        """Forget a task (done, failed, lost or released); False when it was already forgotten."""
        with self._lock:
            if self._jobs.get(job.task_id) is not job:
                return False
            del self._jobs[job.task_id]
        self._slots.release()
        shutil.rmtree(job.work, ignore_errors=True)
        return True

    def release(self, job: Job) -> None:
        """Hand a task back unfinished, so another node (or we, later) can take it at once."""
        if self.drop(job) and not job.lost.is_set():
            try:
                self._client.release(job.task_id, job.attempt)
                log.info("Released task %s", job.label)
            except NodeError as exc:
                log.warning("Could not release task %s (%s); its lease will run out", job.label, exc)

    def lose(self, job: Job, exc: Exception) -> None:
        """Our attempt no longer holds the task: cancel whatever works on it."""
        if not job.lost.is_set():
            log.warning("Lost the lease on task %s: %s; dropping it", job.label, exc)
        job.lost.set()
        job.cancel.set()

    def revoke(self, job: Job, why: str) -> None:
        """The operator took the task back (cancelled it, or paused this node): stop its
        ffmpeg or transfer now, upload nothing; the stage working on it drops it."""
        if not job.lost.is_set():
            log.warning("Task %s: %s; stopping it, nothing is uploaded", job.label, why)
        job.lost.set()
        job.cancel.set()

    def fail(self, job: Job, started: float, reason: str, stderr: str, *, stage: FailedStage,
             bad_input: str | None = None) -> None:
        """Report the task failed (it goes to trash/failed/ on the main worker) and drop it;
        `bad_input` names the clip the render could not decode."""
        timing = span(started)
        log.error("Task %s failed: %s%s", job.label, reason,
                  f" (the clip {bad_input} could not be decoded)" if bad_input else "")
        try:
            self._client.fail(job.task_id, job.attempt, reason, stderr, stage=stage.value, bad_input=bad_input,
                              **timing)
        except LeaseLost as exc:
            self.lose(job, exc)
        except NodeError as exc:
            log.error("Could not report task %s failed (%s); its lease will run out", job.label, exc)
        self.drop(job)

    # -- heartbeats --------------------------------------------------------------
    def beat(self, job: Job) -> None:
        """One heartbeat for one lease, carrying its stage and progress."""
        try:
            answer = self._client.heartbeat(job.task_id, job.attempt, job.report())
        except TaskRevoked as exc:
            self.revoke(job, str(exc))
            return
        except LeaseLost as exc:
            if job.stage != JobStage.UPLOADING:  # during an upload, the upload's own answer decides
                self.lose(job, exc)
            return
        except (Unreachable, Refused) as exc:
            log.debug("Heartbeat of task %s not delivered: %s", job.label, exc)
            return
        if answer.revoked:
            self.revoke(job, answer.revoked)
        if not answer.registered:
            self.register_again()

    def alive(self) -> None:
        """With no lease to heartbeat, tell the coordinator the node is still there."""
        try:
            self._client.alive()
        except NotRegistered:
            self.register_again()
        except NodeError as exc:
            log.debug("Alive signal not delivered: %s", exc)

    def register_again(self) -> None:
        try:
            self._client.register(host(), self._encoders)
        except NodeError as exc:
            log.debug("Could not register again: %s", exc)


def host() -> str:
    return socket.gethostname()
