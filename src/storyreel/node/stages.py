"""What a render node does to one task, as three verbs: fetch, render, upload.

Each verb moves one held task through one stage and, when the task ends there
(lost, handed back, failed, uploaded), ends its lease through HeldTasks. The node
(pipeline.py) runs each verb on its own thread and passes tasks between them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from storyreel.config import validation_problems
from storyreel.errors import LeaseLost, NodeError, RenderError
from storyreel.layout import FINAL_NAME, Layout, TaskState
from storyreel.logs import RENDER_WORKER, get_logger
from storyreel.node.client import CoordinatorClient
from storyreel.node.faults import RenderFaults
from storyreel.node.held import HeldTasks, host
from storyreel.node.job import FailedStage, Job, JobStage, span
from storyreel.node.narrating import narrate_task
from storyreel.node.outbox import Outbox
from storyreel.protocol import (
    SIDECAR_NAMES,
    THUMBNAIL_NAME,
    Downloaded,
    Rendered,
    StageEvent,
    Uploaded,
)
from storyreel.render.job import Progress, render_task
from storyreel.render.parts import render_part
from storyreel.render.progress import ProgressReport
from storyreel.render.thumbnail import make_thumbnail
from storyreel.taskmeta import TaskKind
from storyreel.units import human_size

log = get_logger(RENDER_WORKER)


# ffmpeg may end on a group-wide stop signal a moment before the node's own handler has
# run: this long it waits to see that stop before it counts the render as failed (s).
SIGNAL_SEEN_SECONDS = 1.0


@dataclass
class Stages:
    """The three verbs and what they share: the coordinator, the held leases, the outbox."""

    client: CoordinatorClient
    held: HeldTasks
    outbox: Outbox
    halt: threading.Event  # the node's hard stop
    stopping: threading.Event  # the node's first stop: finish or hand back
    encoders: list[str]
    upload_retries: int
    retry_backoff_seconds: float
    shared: Layout | None = None  # the project root, when this machine sees it: inputs read in place
    encoder: str | None = None  # forces this encoder over each task's own setting
    progress_bar: bool = False  # a bar on a terminal, else a log line every few seconds
    faults: RenderFaults = field(default_factory=RenderFaults.from_env)  # a drill switch (faults.py)

    def fetch(self, job: Job) -> bool:
        """Get the task's inputs; False when the task was handed back or lost instead."""
        job.stage = JobStage.DOWNLOADING
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
                self.held.lose(job, exc)
                self.held.drop(job)
                return False
            except NodeError as exc:
                if not job.cancel.is_set():
                    log.error("Cannot fetch the inputs of task %s: %s; handing it back", job.label, exc)
                self.held.release(job)
                return False
        job.stage = JobStage.WAITING_TO_RENDER
        log.info("Downloaded task %s (%s%s)", job.label, human_size(total), ", in place" if self.shared else "")
        self._event(Downloaded, job, started, bytes=total, in_place=self.shared is not None)
        return True

    def render(self, job: Job) -> bool:
        """Render the task (or, for a narrate task, speak its text); True when the result
        waits for its upload, False when the task ended here (lost, handed back on a hard
        stop, or failed)."""
        job.stage = JobStage.RENDERING
        self.held.beat(job)
        started = time.time()
        assert job.inputs is not None
        narrating = job.kind == TaskKind.NARRATE
        part = job.kind == TaskKind.SEGMENT
        log.info("%s task %s", "Narrating" if narrating else "Rendering a part for" if part else "Rendering",
                 job.label)
        report = ProgressReport(job.label, interactive=self.progress_bar,
                                verb="narrate" if narrating else "render")

        def on_progress(progress: Progress) -> None:
            job.progress = progress  # sent with the next heartbeat
            report(progress)

        try:
            if narrating:
                narrated = narrate_task(job.inputs, job.work, cancel=job.cancel, on_progress=on_progress)
            elif part:
                result = render_part(job.inputs, job.output, encoder=self.encoder, on_progress=on_progress,
                                     cancel=job.cancel, captions_dir=job.work / "captions")
            else:
                result = render_task(job.inputs, job.work / FINAL_NAME, encoder=self.encoder,
                                     on_progress=on_progress, cancel=job.cancel)
            if self.faults.fails(job.task_id):
                raise RenderError(job.output, "ffmpeg failed (fault injection)", returncode=1)
        except RenderError as exc:
            if job.lost.is_set():
                self.held.drop(job)
            elif self._stopped(exc):
                # A stop signal sent to the node's whole process group (a terminal's Ctrl-C,
                # a supervisor) reaches ffmpeg too: the render did not fail, it was stopped.
                self.held.release(job)
            else:
                what = "narration" if narrating else "render"
                self.held.fail(job, started, f"{what} failed: {exc.reason}", exc.stderr,
                               stage=FailedStage.RENDER, bad_input=exc.bad_input)
            return False
        finally:
            report.close()
        job.stage = JobStage.RENDERED
        if narrating:
            log.info("Narrated task %s: %.1f s of speech with %s (%s) in %.1f s", job.label, narrated.seconds,
                     narrated.engine, narrated.voice_name, time.time() - started)
            self._event(Rendered, job, started, media_seconds=round(narrated.seconds, 3), encoder=narrated.engine)
            return True
        try:
            if not part:
                make_thumbnail(job.inputs, result.output, job.work / THUMBNAIL_NAME)  # a sidecar
        except RenderError as exc:  # the video is good: it is published without a thumbnail
            log.warning("No thumbnail for task %s: %s", job.label, exc.reason)
        log.info("Rendered task %s in %.1f s (%.1f s of video, %s)", job.label, result.wall_seconds,
                 result.media_seconds, result.encoder)
        self._event(Rendered, job, started, media_seconds=round(result.media_seconds, 3),
                    encoder=result.encoder)
        return True

    def _stopped(self, exc: RenderError) -> bool:
        """The render ended because the node is stopping, not because it failed. Once the node
        has seen its stop, any render error counts (ffmpeg stopped by the same signal may end
        with any code, or its truncated output may fail the check); before that, only an
        ffmpeg that says it was signalled waits a moment for the node's own handler."""
        if self.halt.is_set() or self.stopping.is_set():
            return True
        return _interrupted(exc) and self.stopping.wait(SIGNAL_SEEN_SECONDS)

    def upload(self, job: Job) -> None:
        """Upload the render: one try and up to `upload_retries` more with a doubling wait
        (SPEC §8); the task ends here whatever happens (uploaded, failed, lost, or handed back
        on a hard stop). A coordinator that is restarting or whose disk is full (507) uses up
        no try: the render is kept and sent again once it can take it."""
        job.stage = JobStage.UPLOADING
        started = time.time()
        tries = 1 + self.upload_retries
        for number in range(1, tries + 1):
            try:
                self.client.wait_reachable(host(), self.encoders)
                for name in SIDECAR_NAMES:  # thumbnail, captions, a narration's words: before the file
                    if (job.work / name).is_file():
                        self.client.upload_sidecar(job.task_id, job.attempt, job.work / name, abort=job.cancel)
                answer = self.client.upload(job.task_id, job.attempt, job.output, abort=job.cancel)
            except LeaseLost as exc:
                self.held.lose(job, exc)
                self.held.drop(job)
                return
            except NodeError as exc:
                log.warning("Upload of task %s failed (try %d of %d): %s", job.label, number, tries, exc)
                if number < tries and not self.halt.wait(self.retry_backoff_seconds * 2 ** (number - 1)):
                    continue
                if self.halt.is_set():
                    self.held.release(job)
                    return
                self.held.fail(job, started, f"upload failed {tries} times: {exc}", "",
                               stage=FailedStage.UPLOAD)
                return
            log.info("Uploaded task %s: %s", job.label, answer.output)
            self._event(Uploaded, job, started, bytes=answer.bytes, tries=number)
            self.held.drop(job)
            return

    def _event(self, kind: type[StageEvent], job: Job, started: float, **fields: Any) -> None:
        """A stage event for the coordinator's event log, sent now or queued in order. One whose
        figures are out of bounds (a clock stepped back) is logged and not sent."""
        try:
            body = kind(node=self.client.node, task_id=job.task_id, attempt=job.attempt, **span(started),
                        **fields)
        except ValidationError as exc:
            log.warning("Not sending the %s event of task %s: %s", kind.model_fields["event"].default,
                        job.label, validation_problems(exc))
            return
        self.outbox.send(body)


def _interrupted(exc: RenderError) -> bool:
    """True when ffmpeg ended because it was sent a signal (it exits 255 after SIGINT or
    SIGTERM, saying so; a negative code is a signal it did not handle)."""
    code = exc.returncode
    return code is not None and (code < 0 or (code == 255 and "received signal" in exc.stderr.lower()))
