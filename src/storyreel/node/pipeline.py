"""A render node: three stages — download, render, upload — joined by queues of one.

While task N renders, N+1 downloads and N-1 uploads (SPEC §7); the node never
holds more than two leases, and it heartbeats every lease it holds. A task whose
lease is lost (409) is dropped at once, whatever stage it is in.

Shutdown: the first stop releases the prefetched task at once and lets the
current render and its upload finish; the second cancels the render and
releases everything.
"""

from __future__ import annotations

import queue
import re
import shutil
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storyreel.errors import (
    LeaseLost,
    NodeError,
    NotRegistered,
    Refused,
    RenderError,
    Unauthorized,
    Unreachable,
)
from storyreel.layout import FINAL_NAME, Layout, TaskState
from storyreel.logs import RENDER_WORKER, Event, get_logger
from storyreel.node.client import CoordinatorClient
from storyreel.protocol import FarmSettings, TaskFile
from storyreel.render.job import Progress, render_task
from storyreel.render.progress import ProgressReport

log = get_logger(RENDER_WORKER)

# One task rendering and one downloading (or uploading): SPEC §7's timeline.
MAX_LEASES = 2
# How often blocked stages look at the stop flags (s).
TICK = 0.2
# After a hard stop, stages get this long to stop ffmpeg and close transfers (s).
HALT_GRACE = 5.0
# A node's scratch folder for one attempt of one task: `<task uuid>-a<attempt>`.
JOB_DIR_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-a\d+$")
# Stage events kept while the coordinator cannot be reached: hours of work for one node.
OUTBOX_LIMIT = 1000


@dataclass
class NodeConfig:
    """What the coordinator tells a node when it registers (the farm's settings)."""

    heartbeat_seconds: float = 5.0
    poll_seconds: float = 2.0
    upload_retries: int = 3
    retry_backoff_seconds: float = 2.0
    root: str = ""

    @classmethod
    def from_register(cls, reply: FarmSettings) -> NodeConfig:
        data = reply.model_dump()
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass
class Job:
    """One task this node holds: its lease (task id + attempt) and where its files are."""

    task_id: str
    attempt: int
    metadata: dict[str, Any]
    files: list[TaskFile]
    work: Path  # node-local folder for this attempt
    inputs: Path | None = None  # the folder render_task reads
    stage: str = "claimed"
    progress: Progress | None = None
    lost: threading.Event = field(default_factory=threading.Event)
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def label(self) -> str:
        return f"{self.task_id} (attempt {self.attempt})"

    def report(self) -> dict[str, Any]:
        progress = self.progress
        return {
            "stage": self.stage,
            "percent": progress.percent if progress else None,
            "eta_seconds": progress.eta_seconds if progress else None,
            "speed": progress.speed if progress else None,
        }


class Node:
    def __init__(self, client: CoordinatorClient, config: NodeConfig, work_dir: Path, *,
                 encoders: list[str], copy_inputs: bool = False, encoder: str | None = None,
                 progress_bar: bool = False) -> None:
        self.client = client
        self.progress_bar = progress_bar  # a bar on a terminal, else a log line every few seconds
        self.config = config
        self.work_dir = work_dir
        self.encoders = encoders
        self.encoder = encoder  # forces this encoder over each task's own setting
        self.shared = None if copy_inputs else _shared_root(config.root, client)
        self.stopping = threading.Event()  # first stop: no new claims, release the prefetched task
        self.halt = client.give_up  # second stop: cancel everything
        self._held: dict[str, Job] = {}
        self._lock = threading.RLock()  # also taken from signal handlers (stop)
        self._slots = threading.Semaphore(MAX_LEASES)
        self._to_render: queue.Queue[Job | None] = queue.Queue(maxsize=1)
        self._to_upload: queue.Queue[Job | None] = queue.Queue(maxsize=1)
        self._done = threading.Event()
        # Stage events not yet delivered (coordinator restarting); oldest dropped past the limit.
        self._outbox: deque[tuple[str, dict[str, Any]]] = deque(maxlen=OUTBOX_LIMIT)
        self._flushing = threading.Lock()
        if self.shared:
            log.info("Project root %s is visible here: inputs are read in place", config.root)

    # -- control ---------------------------------------------------------------
    def run(self) -> None:
        """Work until stopped; returns once every stage has finished or been cancelled."""
        stages = [threading.Thread(target=self._guard, args=(fn,), name=name, daemon=True) for name, fn in (
            ("download", self._download_stage), ("render", self._render_stage), ("upload", self._upload_stage),
        )]
        beat = threading.Thread(target=self._heartbeat_stage, name="heartbeat", daemon=True)
        beat.start()
        for thread in stages:
            thread.start()
        announced = False
        try:
            while any(t.is_alive() for t in stages):
                if self.stopping.is_set() and not announced:
                    announced = True
                    self._on_stop()
                if self.halt.is_set():
                    self._halt_now()
                    for thread in stages:  # let the render stop its ffmpeg before we exit
                        thread.join(HALT_GRACE)
                    break
                time.sleep(TICK)
        finally:
            self._done.set()
            beat.join(TICK * 5)
            if not self.halt.is_set():
                self._flush_events()

    def _guard(self, stage: Any) -> None:
        """Run a stage; an unexpected error stops the node instead of leaving it half alive."""
        try:
            stage()
        except Unauthorized as exc:
            log.error("%s; stopping", exc)
            self.stop_now()
        except Exception:
            log.exception("The %s stage stopped on an unexpected error; stopping the node",
                          threading.current_thread().name)
            self.stop_now()

    def stop(self) -> None:
        """First stop: claim nothing more, hand back the prefetched task, finish the current one.
        Only sets a flag, so a signal handler may call it; `run` does the rest."""
        self.stopping.set()

    def stop_now(self) -> None:
        """Second stop: cancel the render and release every task this node holds."""
        self.stopping.set()
        self.halt.set()

    def _on_stop(self) -> None:
        log.info("Stopping: finishing the current render and upload; the prefetched task goes back")
        with self._lock:
            for job in self._held.values():
                if job.stage in ("claimed", "downloading"):
                    job.cancel.set()

    def _halt_now(self) -> None:
        log.warning("Stopping now: cancelling the render and releasing every task")
        with self._lock:
            jobs = list(self._held.values())
        for job in jobs:
            job.cancel.set()
            self._release(job)

    # -- bookkeeping -------------------------------------------------------------
    def _drop(self, job: Job) -> bool:
        """Forget a task (done, failed, lost or released); False when it was already forgotten."""
        with self._lock:
            if self._held.get(job.task_id) is not job:
                return False
            del self._held[job.task_id]
        self._slots.release()
        shutil.rmtree(job.work, ignore_errors=True)
        return True

    def _release(self, job: Job) -> None:
        """Hand a task back unfinished, so another node (or we, later) can take it at once."""
        if self._drop(job) and not job.lost.is_set():
            try:
                self.client.release(job.task_id, job.attempt)
                log.info("Released task %s", job.label)
            except NodeError as exc:
                log.warning("Could not release task %s (%s); its lease will run out", job.label, exc)

    def _lose(self, job: Job, exc: Exception) -> None:
        if not job.lost.is_set():
            log.warning("Lost the lease on task %s: %s; dropping it", job.label, exc)
        job.lost.set()
        job.cancel.set()

    def _event(self, event: Event, job: Job, started: float, **fields: Any) -> None:
        """Queue a stage event for the coordinator's event log and try to send it now."""
        ended = time.time()
        with self._lock:
            self._outbox.append((str(event), {
                "task_id": job.task_id, "attempt": job.attempt, "started": round(started, 3),
                "ended": round(ended, 3), "seconds": round(ended - started, 3), **fields,
            }))
        self._flush_events()

    def _flush_events(self) -> None:
        """Send queued events in order; what cannot be sent now waits for the next heartbeat."""
        with self._flushing:
            while True:
                with self._lock:
                    if not self._outbox:
                        return
                    event, fields = self._outbox[0]
                try:
                    self.client.event(event, **fields)
                except Refused as exc:
                    log.warning("The coordinator refused the %s event of task %s: %s", event,
                                fields["task_id"], exc)
                except NodeError as exc:
                    log.debug("The %s event of task %s waits: %s", event, fields["task_id"], exc)
                    return
                with self._lock:
                    self._outbox.popleft()

    def _beat(self, job: Job) -> None:
        try:
            answer = self.client.heartbeat(job.task_id, job.attempt, job.report())
        except LeaseLost as exc:
            if job.stage != "uploading":  # during an upload, the upload's own answer decides
                self._lose(job, exc)
            return
        except (Unreachable, Refused) as exc:
            log.debug("Heartbeat of task %s not delivered: %s", job.label, exc)
            return
        if not answer.registered:
            self._register_again()

    def _register_again(self) -> None:
        try:
            self.client.register(_host(), self.encoders)
        except NodeError as exc:
            log.debug("Could not register again: %s", exc)

    # -- stage 1: claim and download -------------------------------------------------
    def _download_stage(self) -> None:
        try:
            while not self.stopping.is_set():
                if not self._slots.acquire(timeout=TICK):
                    continue
                job = self._claim()
                if job is None:
                    self._slots.release()
                    self.stopping.wait(self.config.poll_seconds)
                    continue
                # A stop that came while the claim was on its way sends the task straight back.
                if self.stopping.is_set() or (self._fetch(job) and not self._hand_over(job)):
                    self._release(job)
        finally:
            self._release_prefetched()
            self._put(self._to_render, None)

    def _release_prefetched(self) -> None:
        """On stop, a task waiting for the renderer goes back now, not after the current render."""
        while True:
            try:
                job = self._to_render.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                self._release(job)

    def _claim(self) -> Job | None:
        try:
            grant = self.client.claim(abort=self.stopping)
        except NotRegistered:
            self._register_again()
            return None
        except Unreachable:
            return None
        if grant is None:
            return None
        job = Job(grant.task_id, grant.attempt, grant.metadata, grant.files,
                  self.work_dir / job_dir_name(grant.task_id, grant.attempt))
        with self._lock:
            self._held[job.task_id] = job
        log.info("Claimed task %s", job.label)
        return job

    def _fetch(self, job: Job) -> bool:
        """Get the task's inputs; False when the task was handed back or lost instead."""
        job.stage = "downloading"
        started = time.time()
        job.work.mkdir(parents=True, exist_ok=True)
        total = 0
        if self.shared is not None:
            job.inputs = self.shared.task_dir(job.task_id, TaskState.PROCESSING)
        else:
            job.inputs = job.work / "inputs"
            job.inputs.mkdir(exist_ok=True)
            try:
                for entry in job.files:
                    total += self.client.download(job.task_id, job.attempt, entry.name, entry.size,
                                                  entry.sha256, job.inputs / entry.name, job.cancel)
            except LeaseLost as exc:
                self._lose(job, exc)
                self._drop(job)
                return False
            except NodeError as exc:
                if not job.cancel.is_set():
                    log.error("Cannot fetch the inputs of task %s: %s; handing it back", job.label, exc)
                self._release(job)
                return False
        job.stage = "queued"
        log.info("Downloaded task %s (%d bytes%s)", job.label, total, ", in place" if self.shared else "")
        self._event(Event.DOWNLOADED, job, started, bytes=total, in_place=self.shared is not None)
        return True

    def _hand_over(self, job: Job) -> bool:
        """Queue a fetched task for the renderer; False when stopping first."""
        while not self.stopping.is_set() and not job.lost.is_set():
            try:
                self._to_render.put(job, timeout=TICK)
                return True
            except queue.Full:
                continue
        if job.lost.is_set():
            self._drop(job)
            return True
        return False

    # -- stage 2: render ----------------------------------------------------------------
    def _render_stage(self) -> None:
        try:
            while (job := self._to_render.get()) is not None:
                if self.stopping.is_set() or job.lost.is_set():
                    self._release(job)  # a prefetched task goes back at once
                    continue
                self._render(job)
        finally:
            self._put(self._to_upload, None)

    def _render(self, job: Job) -> None:
        job.stage = "rendering"
        self._beat(job)
        started = time.time()
        output = job.work / FINAL_NAME
        assert job.inputs is not None
        log.info("Rendering task %s", job.label)
        report = ProgressReport(job.label, interactive=self.progress_bar)

        def on_progress(progress: Progress) -> None:
            job.progress = progress  # sent with the next heartbeat
            report(progress)

        try:
            result = render_task(job.inputs, output, encoder=self.encoder, on_progress=on_progress,
                                 cancel=job.cancel)
        except RenderError as exc:
            if job.lost.is_set():
                self._drop(job)
            elif self.halt.is_set():
                self._release(job)
            else:
                self._fail(job, started, f"render failed: {exc.reason}", exc.stderr, stage="render")
            return
        finally:
            report.close()
        job.stage = "rendered"
        log.info("Rendered task %s in %.1f s (%.1f s of video, %s)", job.label, result.wall_seconds,
                 result.media_seconds, result.encoder)
        self._event(Event.RENDERED, job, started, media_seconds=round(result.media_seconds, 3),
                    encoder=result.encoder)
        if not self._put(self._to_upload, job):
            self._release(job)

    def _fail(self, job: Job, started: float, reason: str, stderr: str, *, stage: str) -> None:
        ended = time.time()
        log.error("Task %s failed: %s", job.label, reason)
        try:
            self.client.fail(job.task_id, job.attempt, reason, stderr, stage=stage, started=round(started, 3),
                             ended=round(ended, 3), seconds=round(ended - started, 3))
        except LeaseLost as exc:
            self._lose(job, exc)
        except NodeError as exc:
            log.error("Could not report task %s failed (%s); its lease will run out", job.label, exc)
        self._drop(job)

    # -- stage 3: upload --------------------------------------------------------------------
    def _upload_stage(self) -> None:
        while (job := self._to_upload.get()) is not None:
            if job.lost.is_set():
                self._drop(job)
                continue
            self._upload(job)

    def _upload(self, job: Job) -> None:
        job.stage = "uploading"
        started = time.time()
        output = job.work / FINAL_NAME
        tries = self.config.upload_retries
        for number in range(1, tries + 1):
            try:
                self.client.wait_reachable(_host(), self.encoders)  # a restarting coordinator is no failed try
                answer = self.client.upload(job.task_id, job.attempt, output)
            except LeaseLost as exc:
                self._lose(job, exc)
                self._drop(job)
                return
            except NodeError as exc:
                log.warning("Upload of task %s failed (try %d of %d): %s", job.label, number, tries, exc)
                if number < tries and not self.halt.wait(self.config.retry_backoff_seconds * 2 ** (number - 1)):
                    continue
                if self.halt.is_set():
                    self._release(job)
                    return
                self._fail(job, started, f"upload failed {tries} times: {exc}", "", stage="upload")
                return
            log.info("Uploaded task %s: %s", job.label, answer.output)
            self._event(Event.UPLOADED, job, started, bytes=answer.bytes, tries=number)
            self._drop(job)
            return

    # -- heartbeats ---------------------------------------------------------------------------
    def _heartbeat_stage(self) -> None:
        while not self._done.wait(self.config.heartbeat_seconds):
            with self._lock:
                jobs = list(self._held.values())
            for job in jobs:
                self._beat(job)
            self._flush_events()
            if not jobs:
                try:
                    self.client.alive()
                except NotRegistered:
                    self._register_again()
                except NodeError as exc:
                    log.debug("Alive signal not delivered: %s", exc)

    # -- helpers ----------------------------------------------------------------------------------
    def _put(self, target: queue.Queue[Job | None], item: Job | None) -> bool:
        """Put into a queue of one, giving up (False) on a hard stop."""
        while True:
            try:
                target.put(item, timeout=TICK)
                return True
            except queue.Full:
                if self.halt.is_set():
                    return False


def job_dir_name(task_id: str, attempt: int) -> str:
    return f"{task_id}-a{attempt}"


def clear_leftovers(work_dir: Path) -> None:
    """Remove the per-task folders a killed node left in its work dir (its own scratch files:
    inputs it downloaded and renders it never uploaded)."""
    for entry in work_dir.iterdir():
        if entry.is_dir() and JOB_DIR_RE.match(entry.name):
            shutil.rmtree(entry, ignore_errors=True)


def _host() -> str:
    import socket

    return socket.gethostname()


def _shared_root(root: str, client: CoordinatorClient) -> Layout | None:
    """The project root when this machine sees it at the announced path (same token file)."""
    if not root:
        return None
    layout = Layout(root)
    try:
        token = layout.token_file.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return layout if token and token == client.token else None
