"""A render node: three stages — fetch, render, upload — joined by queues of one.

While task N renders, N+1 downloads and N-1 uploads (SPEC §7); the node never
holds more than two leases (held.MAX_LEASES), and it heartbeats every lease it holds.
A task whose lease is lost (409) is dropped at once, whatever stage it is in.
The verbs are in stages.py, the held leases in held.py, the stage events on their
way to the coordinator in outbox.py.

Shutdown: the first stop releases the prefetched task at once and lets the
current render and its upload finish; the second (the hard stop) cancels the
render and releases everything. The node's limits (limits.py) end its service on
their own: after `max_tasks` claims, after `exit_when_idle` seconds with nothing to
do, and the hard stop comes by itself once the first stop is `grace` seconds old.
"""

from __future__ import annotations

import queue
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from storyreel.errors import Unauthorized
from storyreel.layout import ATTEMPT_DIR_RE, Layout
from storyreel.logs import RENDER_WORKER, get_logger
from storyreel.node.client import CoordinatorClient
from storyreel.node.held import HeldTasks
from storyreel.node.job import PREFETCH_STAGES, Job
from storyreel.node.limits import Limits
from storyreel.node.outbox import Outbox
from storyreel.node.stages import Stages
from storyreel.protocol import FarmSettings
from storyreel.units import plural

log = get_logger(RENDER_WORKER)

# How often blocked stages look at the stop flags (s).
TICK = 0.2
# After a hard stop, stages get this long to stop ffmpeg and close transfers (s).
HALT_GRACE = 5.0


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


class Node:
    """Claims, fetches, renders and uploads tasks until stopped.

    `halt` is the node's hard stop: `stop_now` sets it. The client was built with the
    same event, so a hard stop also ends its waits for the coordinator."""

    def __init__(self, client: CoordinatorClient, config: NodeConfig, work_dir: Path, *,
                 halt: threading.Event, encoders: list[str], copy_inputs: bool = False,
                 encoder: str | None = None, progress_bar: bool = False,
                 limits: Limits | None = None) -> None:
        self.config = config
        self.limits = limits or Limits()
        self.stopping = threading.Event()  # first stop: no new claims, release the prefetched task
        self.halt = halt  # second stop: cancel everything
        self.held = HeldTasks(client, work_dir, encoders)
        self.outbox = Outbox(client)
        shared = None if copy_inputs else _shared_root(config.root, client)
        self.stages = Stages(client=client, held=self.held, outbox=self.outbox, halt=halt,
                             stopping=self.stopping,
                             encoders=encoders, upload_retries=config.upload_retries,
                             retry_backoff_seconds=config.retry_backoff_seconds, shared=shared,
                             encoder=encoder, progress_bar=progress_bar)
        self._to_render: queue.Queue[Job | None] = queue.Queue(maxsize=1)
        self._to_upload: queue.Queue[Job | None] = queue.Queue(maxsize=1)
        self._done = threading.Event()
        if shared:
            log.info("Project root %s is visible here: inputs are read in place", config.root)

    # -- control ---------------------------------------------------------------
    def run(self) -> None:
        """Work until stopped; returns once every stage has finished or been cancelled."""
        stages = [_thread(name, self._guarded(loop)) for name, loop in (
            ("download", self._fetching), ("render", self._rendering), ("upload", self._uploading),
        )]
        beat = _thread("heartbeat", self._heartbeats)
        beat.start()
        for thread in stages:
            thread.start()
        announced = False
        try:
            while any(t.is_alive() for t in stages):
                if self.held.jobs():
                    self.limits.busy()
                if self.stopping.is_set() and not announced:
                    announced = True
                    self._on_stop()
                if announced and not self.halt.is_set() and self.limits.grace_over():
                    log.warning("The stop's grace period of %g s is over", self.limits.grace)
                    self.stop_now()
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
                self.outbox.close()

    def stop(self) -> None:
        """First stop: claim nothing more, hand back the prefetched task, finish the current one.
        Only sets a flag, so a signal handler may call it; `run` does the rest."""
        self.stopping.set()

    def stop_now(self) -> None:
        """Second stop: cancel the render and release every task this node holds."""
        self.stopping.set()
        self.halt.set()

    def _guarded(self, loop: Callable[[], None]) -> Callable[[], None]:
        """A stage loop whose unexpected error stops the node instead of leaving it half alive."""

        def run() -> None:
            try:
                loop()
            except Unauthorized as exc:
                log.error("%s; stopping", exc)
                self.stop_now()
            except Exception:
                log.exception("The %s stage stopped on an unexpected error; stopping the node",
                              threading.current_thread().name)
                self.stop_now()

        return run

    def _on_stop(self) -> None:
        self.limits.stopping()
        log.info("Stopping: finishing the current render and upload; the prefetched task goes back")
        for job in self.held.jobs():
            if job.stage in PREFETCH_STAGES:
                job.cancel.set()

    def _halt_now(self) -> None:
        log.warning("Stopping now: cancelling the render and releasing every task")
        for job in self.held.jobs():
            job.cancel.set()
            self.held.release(job)

    # -- the stage threads ---------------------------------------------------------
    def _fetching(self) -> None:
        """Claim a task whenever a lease is free (and the limits allow one more), fetch it,
        hand it to the renderer."""
        try:
            while not self.stopping.is_set() and self._may_claim():
                if not self.held.take_slot(timeout=TICK):
                    continue
                job = self.held.claim(abort=self.stopping)
                if job is None:
                    if self.limits.idle_over(holding=bool(self.held.jobs())):
                        log.info("Nothing to claim and nothing held for %g s: exiting",
                                 self.limits.exit_when_idle)
                        self.stop()
                    self.stopping.wait(self.config.poll_seconds)
                    continue
                # A stop that came while the claim was on its way sends the task straight back.
                if self.stopping.is_set() or (self.stages.fetch(job) and not self._hand_over(job)):
                    self.held.release(job)
        finally:
            if self.stopping.is_set():
                self._release_prefetched()
            self._put(self._to_render, None)

    def _may_claim(self) -> bool:
        """False once `max_tasks` claims were granted: the claimed tasks finish, then the node exits."""
        if self.limits.may_claim(self.held.granted):
            return True
        log.info("Claimed %s, the most allowed (--max-tasks): finishing them, then exiting",
                 plural(self.held.granted, "task"))
        return False

    def _hand_over(self, job: Job) -> bool:
        """Queue a fetched task for the renderer; False when stopping first."""
        while not self.stopping.is_set() and not job.lost.is_set():
            try:
                self._to_render.put(job, timeout=TICK)
                return True
            except queue.Full:
                continue
        if job.lost.is_set():
            self.held.drop(job)
            return True
        return False

    def _release_prefetched(self) -> None:
        """On stop, a task waiting for the renderer goes back now, not after the current render."""
        while True:
            try:
                job = self._to_render.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                self.held.release(job)

    def _rendering(self) -> None:
        """Render each fetched task and pass it to the uploader."""
        try:
            while (job := self._to_render.get()) is not None:
                if self.stopping.is_set() or job.lost.is_set():
                    self.held.release(job)  # a prefetched task goes back at once
                    continue
                if self.stages.render(job) and not self._put(self._to_upload, job):
                    self.held.release(job)
        finally:
            self._put(self._to_upload, None)

    def _uploading(self) -> None:
        """Upload each rendered task."""
        while (job := self._to_upload.get()) is not None:
            if job.lost.is_set():
                self.held.drop(job)
                continue
            self.stages.upload(job)

    def _heartbeats(self) -> None:
        """Every heartbeat period: one heartbeat per held lease, then the waiting events."""
        while not self._done.wait(self.config.heartbeat_seconds):
            jobs = self.held.jobs()
            for job in jobs:
                self.held.beat(job)
            self.outbox.flush()
            if not jobs:
                self.held.alive()

    def _put(self, target: queue.Queue[Job | None], item: Job | None) -> bool:
        """Put into a queue of one, giving up (False) on a hard stop."""
        while True:
            try:
                target.put(item, timeout=TICK)
                return True
            except queue.Full:
                if self.halt.is_set():
                    return False


def clear_leftovers(work_dir: Path) -> None:
    """Remove the per-task folders a killed node left in its work dir (its own scratch files:
    inputs it downloaded and renders it never uploaded)."""
    for entry in work_dir.iterdir():
        if entry.is_dir() and ATTEMPT_DIR_RE.match(entry.name):
            shutil.rmtree(entry, ignore_errors=True)


def _thread(name: str, target: Callable[[], None]) -> threading.Thread:
    return threading.Thread(target=target, name=name, daemon=True)


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
