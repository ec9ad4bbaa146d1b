"""`storyreel run` on one machine: the main worker plus one in-process renderer.

The renderer loop reads like the SPEC: take the oldest task, move it to
processing/, render it, publish it to output/ or send it to trash/failed/.
"""

from __future__ import annotations

import sys
import threading
import time

from storyreel import lifecycle
from storyreel.errors import StoryreelError
from storyreel.layout import FINAL_NAME, Layout, TaskState, is_ignored_name
from storyreel.logs import RENDER_WORKER, Event, get_logger
from storyreel.mainworker import MainWorker
from storyreel.project import Project
from storyreel.render.job import Progress, RenderError, render_task

log = get_logger(RENDER_WORKER)

NODE_NAME = "local"  # how the in-process renderer appears in events
# Wait between looks for work when there is none (s).
IDLE_WAIT_SECONDS = 0.5
# Without a terminal, one progress line this often (s) keeps logs readable.
PROGRESS_LOG_SECONDS = 5.0


def oldest_task(layout: Layout) -> str | None:
    """The queued task created first (by folder time), or None."""
    ids = layout.task_ids(TaskState.QUEUED)

    def created(task_id: str) -> float:
        try:
            return layout.task_dir(task_id).stat().st_mtime
        except OSError:
            return float("inf")

    return min(ids, key=created) if ids else None


def raw_has_files(layout: Layout) -> bool:
    """True while raw/ still holds a file for the ingest to take."""
    for path in layout.raw.rglob("*"):
        if path.is_file() and not any(is_ignored_name(p) for p in path.relative_to(layout.raw).parts):
            return True
    return False


class ProgressReport:
    """A rich progress bar on a terminal, else a log line every few seconds."""

    def __init__(self, task_id: str, interactive: bool) -> None:
        self.task_id = task_id
        self._last_log = 0.0
        self._bar = None
        if interactive:
            from rich.console import Console
            from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as Bar

            self._bar = Bar(TextColumn("render {task.description}"), BarColumn(),
                            TextColumn("{task.percentage:>5.1f}%  {task.fields[speed]}"),
                            TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            self._bar.start()
            self._row = self._bar.add_task(task_id[:8], total=100.0, speed="")

    def __call__(self, progress: Progress) -> None:
        speed = f"{progress.speed:.2f}x" if progress.speed else "…"
        if self._bar is not None:
            self._bar.update(self._row, completed=progress.percent, speed=speed)
            return
        now = time.monotonic()
        if now - self._last_log >= PROGRESS_LOG_SECONDS or progress.percent >= 100:
            self._last_log = now
            eta = f"{progress.eta_seconds:.0f} s" if progress.eta_seconds is not None else "unknown"
            log.info("Rendering %s: %.1f%% at %s, ETA %s", self.task_id, progress.percent, speed, eta)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


class LocalRenderer:
    """Claims, renders and completes (or fails) tasks one at a time in this process."""

    def __init__(self, project: Project, *, encoder: str | None = None,
                 interactive: bool | None = None) -> None:
        self.project = project
        self.layout = project.layout
        self.encoder = encoder
        self.interactive = sys.stderr.isatty() if interactive is None else interactive

    def recover(self) -> None:
        """Tasks a killed run left in processing/ go back to tasks/ (or are tidied if done)."""
        lifecycle.tidy(self.layout)
        for task_id in self.layout.task_ids(TaskState.PROCESSING):
            lifecycle.release(self.layout, task_id)
            log.info("Returned unfinished task %s to tasks/", task_id)

    def render_one(self, task_id: str, cancel: threading.Event | None = None) -> TaskState:
        """Claim → render → complete or fail. Returns where the task ended up."""
        layout, events = self.layout, self.project.events
        folder = lifecycle.claim(layout, task_id)
        events.emit(Event.CLAIMED, task_id=task_id, node=NODE_NAME, attempt=1)
        log.info("Claimed task %s", task_id)
        if (folder / FINAL_NAME).is_file():
            # An earlier run rendered and verified it, then stopped before publishing it.
            final = lifecycle.complete(layout, task_id, folder / FINAL_NAME)
            log.info("Finished task %s → %s (rendered by an earlier run)", task_id,
                     final.relative_to(layout.root))
            return TaskState.DONE
        report = ProgressReport(task_id, self.interactive)
        started = time.time()
        try:
            result = render_task(folder, folder / FINAL_NAME, encoder=self.encoder,
                                 on_progress=report, cancel=cancel)
        except RenderError as exc:
            report.close()
            if cancel is not None and cancel.is_set():
                lifecycle.release(layout, task_id)
                events.emit(Event.RELEASED, task_id=task_id, node=NODE_NAME, attempt=1)
                log.info("Stopped rendering %s; it is back in tasks/", task_id)
                return TaskState.QUEUED
            dest = lifecycle.fail(layout, task_id, exc.reason, exc.stderr, node=NODE_NAME, attempt=1)
            events.emit(Event.FAILED, task_id=task_id, node=NODE_NAME, attempt=1, reason=exc.reason)
            log.error("Task %s failed: %s (stderr in %s)", task_id, exc.reason, dest)
            return TaskState.FAILED
        report.close()
        ended = time.time()
        events.emit(Event.RENDERED, task_id=task_id, node=NODE_NAME, attempt=1, started=started,
                    ended=ended, seconds=round(result.wall_seconds, 3),
                    media_seconds=result.media_seconds, encoder=result.encoder)
        final = lifecycle.complete(layout, task_id, result.output)
        events.emit(Event.COMPLETED, task_id=task_id, node=NODE_NAME, attempt=1,
                    media_seconds=result.media_seconds)
        log.info("Finished task %s → %s", task_id, final.relative_to(layout.root))
        return TaskState.DONE


def run_local(project: Project, stop: threading.Event, *, until_idle: bool = False,
              encoder: str | None = None, interactive: bool | None = None) -> None:
    """The main worker in a thread and the renderer here, until `stop` (or idle)."""
    layout = project.layout
    worker = MainWorker(project)
    renderer = LocalRenderer(project, encoder=encoder, interactive=interactive)
    worker.start()
    renderer.recover()
    lock = threading.Lock()  # one main-worker cycle at a time
    worker_error: list[BaseException] = []

    def cycle() -> bool:
        with lock:
            return worker.cycle()

    def main_loop() -> None:
        try:
            while not stop.is_set():
                cycle()
                stop.wait(IDLE_WAIT_SECONDS)
        except BaseException as exc:  # handed to the main thread and re-raised there
            worker_error.append(exc)
            stop.set()

    thread = threading.Thread(target=main_loop, name="main-worker", daemon=True)
    thread.start()
    try:
        while not stop.is_set():
            task_id = oldest_task(layout)
            if task_id is not None:
                try:
                    renderer.render_one(task_id, cancel=stop)
                except StoryreelError as exc:
                    log.error("Cannot render task %s: %s", task_id, exc)
                    stop.wait(IDLE_WAIT_SECONDS)
                continue
            if until_idle and _idle(worker, layout, cycle):
                log.info("Nothing left to do: raw/, tasks/ and processing/ are empty")
                break
            stop.wait(IDLE_WAIT_SECONDS)
    finally:
        stop.set()
        thread.join()
        worker.ingestor.close()
    if worker_error:
        raise worker_error[0]


def _idle(worker: MainWorker, layout: Layout, cycle) -> bool:
    """Drained: a full main-worker cycle changed nothing and raw/, tasks/, processing/ are empty."""
    changed = cycle()
    return not (
        changed or worker.ingestor.pending() or raw_has_files(layout)
        or layout.task_ids(TaskState.QUEUED) or layout.task_ids(TaskState.PROCESSING)
    )

