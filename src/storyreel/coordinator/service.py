"""The coordinator: hands tasks to render nodes under leases and takes their results back.

It lives inside the main worker, the only writer of the project root, and is a thin
facade over the pieces that own each state: the queue index of tasks/ (taskqueue.py)
and the claims made from it (claims.py), the holds of processing/ and their lease.json
(holds.py), the node table (nodes.py), the reaper (reaper.py) and the upload checks
(upload.py). The folders stay the durable
state: lease.json in processing/<id>/ says who holds a task, so a restarted main
worker carries on where its predecessor stopped.

Locks: every move of a task folder and every change of the queue happens under the
facade's lock, so a claim is a plain rename and a stale node can never race a fresh
one. Public methods take it, private helpers assume it. Heartbeats, downloads and the
fence of each request only need the hold store's own small lock, which no listing of
tasks/ and no hashing ever holds.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from storyreel import lifecycle
from storyreel.config import validation_problems
from storyreel.coordinator import badclip, upload
from storyreel.coordinator.claims import Claims
from storyreel.coordinator.control import Control
from storyreel.coordinator.grants import Grant, TaskFiles, servable
from storyreel.coordinator.holds import HoldStore, Outcome
from storyreel.coordinator.leases import Lease
from storyreel.coordinator.nodes import NodeInfo, NodeTable
from storyreel.coordinator.reaper import Reaper
from storyreel.coordinator.splits import Splits
from storyreel.coordinator.stagefence import StageFence
from storyreel.coordinator.taskqueue import QueueIndex
from storyreel.diskspace import GB, DiskWatcher
from storyreel.errors import BadEvent, CoordinatorError, Revoked, UnknownTask, UnregisteredNode
from storyreel.ingest import narrated
from storyreel.layout import TaskState
from storyreel.logs import MAIN_WORKER, Event, get_logger
from storyreel.project import Project
from storyreel.protocol import EVENT_BODY, FarmSettings, StageEvent, TaskFile, TaskProgress
from storyreel.taskmeta import TaskKind

log = get_logger(MAIN_WORKER)

# The failure report's stage whose failures are retried on another node (node/job.py FailedStage).
RENDER_STAGE = "render"
# A refused event's reason is cut here: a hostile body must not make a log line huge.
MAX_REFUSAL_CHARS = 500


class Coordinator:
    """Claims, heartbeats, downloads, uploads, failures and the reaper for one project."""

    def __init__(self, project: Project, *, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, disk: DiskWatcher | None = None,
                 on_retry: Callable[[str], None] | None = None,
                 on_filed: Callable[[], None] | None = None) -> None:
        """`clock` judges leases (wall time); `monotonic` paces the listings of tasks/;
        `disk` is the main worker's watcher of free space (a private one when None);
        `on_retry(task_id)` tells the planner a failed task's chapter may be planned again;
        `on_filed()` that a narration was filed in scanned/."""
        self.project = project
        self.disk = disk if disk is not None else DiskWatcher.for_project(project)
        self.layout = project.layout
        self.settings = project.settings.coordinator
        self.clock = clock
        self._on_filed = on_filed or (lambda: None)
        self._lock = threading.RLock()
        self.queue = QueueIndex(self.layout, monotonic=monotonic)
        self.holds = HoldStore(self.layout, self.settings.lease_seconds)
        self.stage_fence = StageFence(self.holds)  # which stage events nodes may still send
        self.nodes = NodeTable(self.settings.heartbeat_seconds)
        self.files = TaskFiles()
        self.splits = Splits(self.layout, self.queue, project.events)  # long chapters over several nodes
        self.claims = Claims(self.layout, self.queue, self.holds, self.nodes, clock, self.splits)
        self.control = Control(self, on_retry=on_retry)  # the operator's steering
        # started_at: leases granted before this start get one more lease period (reaper.py).
        self.reaper = Reaper(self.holds, self.layout, self.settings, project.events, requeue=self._requeue,
                             started_at=clock())

    # -- nodes ---------------------------------------------------------------
    def register(self, node: str, host: str, encoders: list[str], version: str,
                 address: str = "", *, narrators: list[str] | None = None) -> FarmSettings:
        now = self.clock()
        narrators = list(narrators or [])
        self.nodes.register(NodeInfo(node, host, list(encoders), version, now, now, address=address,
                                     narrators=narrators))
        log.info("Render node %s registered from %s%s (encoders %s%s, version %s)", node, host,
                 f" at {address}" if address and address != host else "", ", ".join(encoders) or "none",
                 f"; narrates with {', '.join(narrators)}" if narrators else "", version)
        self.project.events.emit(Event.NODE_REGISTERED, node=node, host=host, encoders=list(encoders),
                                 narrators=narrators, version=version)
        return FarmSettings(root=str(self.layout.root), lease_seconds=self.settings.lease_seconds,
                            heartbeat_seconds=self.settings.heartbeat_seconds,
                            **self.project.settings.node.model_dump(exclude={"work_dir"}))

    def nodes_snapshot(self) -> list[dict[str, Any]]:
        """Every known node with its current tasks and render progress (for the dashboard)."""
        return self.nodes.snapshot(self.holds.holds())

    def is_registered(self, node: str) -> bool:
        return self.nodes.is_registered(node)

    def node_alive(self, node: str) -> None:
        """A node with nothing to do still says it is there."""
        if self.nodes.seen(node, self.clock()) is None:
            raise UnregisteredNode(f"node {node!r} must register first")

    # -- claiming ------------------------------------------------------------
    def claim(self, node: str) -> Grant | None:
        """Give `node` the oldest queued task it can render, or None when there is none."""
        with self._lock:
            info = self.nodes.seen(node, self.clock())
            if info is None:
                raise UnregisteredNode(f"node {node!r} must register before claiming")
            if not self.disk.space_ok():
                return None  # below [disk] floor_gb: nothing is handed out until space returns
            if self.nodes.claim_refusal(node) is not None:
                return None  # paused or draining: claim_refusal says why
            found = self.claims.take(info)
            if found is None:
                return None
            lease, metadata = found
        log.info("Task %s claimed by %s (attempt %d)", lease.task_id, node, lease.attempt)
        self.project.events.emit(Event.CLAIMED, task_id=lease.task_id, node=node, attempt=lease.attempt)
        processing = self.layout.task_dir(lease.task_id, TaskState.PROCESSING)
        return Grant(lease, metadata, self.splits.grant_files(processing, metadata, self.files.list(processing)))

    def note_queued(self, task_ids: list[str]) -> None:
        """Tasks just created in tasks/ (by the planner): claimable from now on."""
        if task_ids:
            with self._lock:
                self.queue.add(task_ids)

    def queued_view(self, limit: int) -> tuple[int, list[str]] | None:
        """How many tasks are queued and the first `limit` in the order nodes get them (for the
        farm state, which then lists no folder of tasks/); None before tasks/ was first listed."""
        with self._lock:
            if not self.queue.built:
                return None
            return len(self.queue), list(itertools.islice(self.queue, limit))

    def rescan_queue(self) -> tuple[int, int]:
        """List tasks/ again so folders moved in or out by hand are seen; the listing runs
        outside the lock. Returns how many tasks it added to and dropped from the queue."""
        with self._lock:
            since = self.queue.begin_rescan()
        listed = self.queue.list_folder()
        with self._lock:
            added, dropped = self.queue.merge(listed, since)
        if added or dropped:
            log.debug("Queue listing: %d task(s) found in tasks/, %d gone", added, dropped)
        return added, dropped

    # -- while a node holds a task -------------------------------------------------
    def file_for(self, task_id: str, node: str, attempt: int, name: str) -> tuple[Path, TaskFile]:
        """The file `name` of a task that (node, attempt) holds; never any other path."""
        if not servable(name):
            raise UnknownTask(f"no file {name!r} in task {task_id}")
        self.holds.held(task_id, node, attempt)
        task_dir = self.layout.task_dir(task_id, TaskState.PROCESSING)
        entry = self.files.find(task_dir, name)
        if entry is None:
            raise UnknownTask(f"no file {name!r} in task {task_id}")
        return task_dir / name, entry

    def heartbeat(self, task_id: str, node: str, attempt: int, progress: TaskProgress | dict[str, Any], *,
                  wait: bool = True) -> Lease | None:
        """Extend the lease of a task the node still holds and note its progress.

        A node this coordinator has not met (it restarted) is still honoured; `is_registered`
        tells it to register again so it shows in the node table. With `wait=False` it returns
        None at once, changing nothing, when a move holds the hold store."""
        report = progress if isinstance(progress, TaskProgress) else TaskProgress.model_validate(progress)
        try:
            lease = self.holds.renew(task_id, node, attempt, report, self.clock(), wait=wait)
        except CoordinatorError as exc:
            self.nodes.seen(node, self.clock())
            found = self.layout.find_task(task_id)
            # A beat that crossed the node's own finished upload is no news.
            quiet = isinstance(exc, Revoked) or bool(found and found[0] == TaskState.DONE)
            level = logging.DEBUG if quiet else logging.WARNING
            log.log(level, "Refused heartbeat for task %s from %s attempt %d: lease no longer held",
                    task_id, node, attempt)
            exc.logged = True
            raise
        if lease is not None:
            self.nodes.seen(node, self.clock())
        return lease

    # -- results ---------------------------------------------------------------
    def upload_target(self, task_id: str, node: str, attempt: int, size: int = 0) -> Path:
        """A hidden temp name in processing/<id>/ to stream an upload of `size` bytes into,
        once the fence, `max_upload_gb` and the free space above the floor allow it."""
        self.nodes.seen(node, self.clock())
        self.holds.held(task_id, node, attempt)
        upload.check_room(task_id, size, cap=int(self.settings.max_upload_gb * GB), spare=self.disk.spare_bytes())
        return upload.part_path(self.layout.task_dir(task_id, TaskState.PROCESSING))

    def finish_upload(self, task_id: str, node: str, attempt: int, part: Path, receipt: upload.Receipt, *,
                      expected_size: int | None, expected_sha256: str | None) -> Path:
        """Check an uploaded render and publish it as output/<id>/final.mp4; a narrate task's
        voice is filed as its chapter in scanned/ instead (ingest/narrated.py), a segment
        task's part into its render task's folder (splits.py)."""
        try:
            upload.check_announced(task_id, receipt, expected_size, expected_sha256)
            self.holds.held(task_id, node, attempt)
            processing = self.layout.task_dir(task_id, TaskState.PROCESSING)
            info = upload.verify(task_id, processing, part)  # ffprobe: no lock held
            media_seconds = info.duration
            segment = upload.kind(processing) == TaskKind.SEGMENT
            if segment:
                self.splits.check_part(task_id, processing, info)
            sidecars = {} if segment else upload.sidecars(task_id, processing, attempt)
            narration = narrated.prepare(self.project, task_id, processing, part, sidecars)  # decodes it: no lock held
            facts = {"loudness": loud} if (loud := upload.loudness_record(info)) else {}
            filed: Path | None = None  # a segment task's part, in its render task's folder
            with self._lock, self.holds.lock:
                self.holds.held(task_id, node, attempt)
                if narration is not None:
                    final = narration.file(node)
                    lifecycle.finish_narration(self.layout, task_id)
                elif segment:
                    filed = self.splits.file_part(task_id, part)  # None: its render task no longer waits
                    final = filed or processing
                else:
                    final = lifecycle.complete(self.layout, task_id, part, sidecars, facts)
                self.stage_fence.ended(self.holds.end(task_id, Outcome.COMPLETED), Outcome.COMPLETED)
            self.nodes.succeeded(node)
        except CoordinatorError as exc:
            self.discard_upload(task_id, part)
            log.warning("Refused upload of task %s from %s attempt %d: %s", task_id, node, attempt, exc)
            exc.logged = True
            raise
        except BaseException:
            self.discard_upload(task_id, part)
            raise
        kind = {"kind": "narrate"} if narration is not None else {}
        if segment:
            kind = {"kind": "segment", "parent": filed.parent.name if filed is not None else ""}
        self.project.events.emit(Event.COMPLETED, task_id=task_id, node=node, attempt=attempt,
                                 media_seconds=media_seconds, bytes=receipt.size, **kind)
        log.info("Task %s done: %s uploaded by %s (attempt %d)", task_id,
                 final.relative_to(self.layout.root), node, attempt)
        if narration is not None:
            self._on_filed()
        return final

    def discard_upload(self, task_id: str, part: Path) -> None:
        """Remove a refused or broken upload, wherever its task folder has moved since."""
        with self._lock:
            part.unlink(missing_ok=True)
            found = self.layout.find_task(task_id)
            if found is not None:
                (found[1] / part.name).unlink(missing_ok=True)

    def fail(self, task_id: str, node: str, attempt: int, reason: str, stderr: str,
             details: dict[str, Any] | None = None, *, bad_input: str | None = None) -> Path | None:
        """A node gave up on a task. A render that failed (stage "render", no bad clip) is queued
        again for another node up to `[coordinator] max_render_failures` (None is returned);
        then, as every other failure, it goes to trash/failed/<id>/ with stderr.log
        (SPEC §8). When its render could not decode the clip `bad_input`, that clip goes to
        trash/invalid/ first and the chapter is planned again with other clips (badclip.py)."""
        self.nodes.seen(node, self.clock())
        details = dict(details or {})
        with self._lock, self.holds.lock:
            hold = self.holds.held(task_id, node, attempt)
            failures = [*hold.lease.failed_nodes, node]
            clip = None
            soft = bad_input is None and details.get("stage") == RENDER_STAGE  # not bad input, not an upload
            if soft and len(failures) < self.settings.max_render_failures:
                self._requeue(task_id, Outcome.RETRIED)
                dest = None
            else:
                details["failed_nodes"] = failures
                dest, clip = self._trash_failed(task_id, node, attempt, reason, stderr, details, bad_input)
            self.control.after_failure(node, task_id)
        if dest is None:
            log.warning("Task %s failed on %s (attempt %d): %s; queued again for another node "
                        "(failure %d of %d)", task_id, node, attempt, reason, len(failures),
                        self.settings.max_render_failures)
            self.project.events.emit(Event.REQUEUED, task_id=task_id, node=node, attempt=attempt,
                                     reason=f"render failed on {node}: {reason}"[:MAX_REFUSAL_CHARS])
            return None
        log.error("Task %s failed on %s (attempt %d): %s; moved to %s%s", task_id, node, attempt, reason,
                  dest.relative_to(self.layout.root),
                  f"; its chapter is planned again without {clip.source}" if clip else "")
        self.project.events.emit(Event.FAILED, task_id=task_id, node=node, attempt=attempt, reason=reason,
                                 **details)
        return dest

    def _trash_failed(self, task_id: str, node: str, attempt: int, reason: str, stderr: str,
                      details: dict[str, Any], bad_input: str | None) -> tuple[Path, Any]:
        """Move a held task that failed for the last time to trash/failed/ (under both locks)."""
        clip = None
        if bad_input is not None:
            processing = self.layout.task_dir(task_id, TaskState.PROCESSING)
            clip = badclip.set_aside(self.project, processing, bad_input, reason)
            details |= clip.details() if clip else {"bad_input": bad_input}
        dest = lifecycle.fail(self.layout, task_id, reason, stderr, node=node, attempt=attempt,
                              replan=clip is not None, **details)
        self.stage_fence.ended(self.holds.end(task_id, Outcome.FAILED), Outcome.FAILED)
        return dest, clip

    def release(self, task_id: str, node: str, attempt: int) -> None:
        """A node hands a task back unfinished (shutdown): it is queued again at once."""
        self.nodes.seen(node, self.clock())
        with self._lock, self.holds.lock:
            self.holds.held(task_id, node, attempt)
            self._requeue(task_id, Outcome.RELEASED)
        log.info("Task %s released by %s (attempt %d); queued again", task_id, node, attempt)
        self.project.events.emit(Event.RELEASED, task_id=task_id, node=node, attempt=attempt)

    def _requeue(self, task_id: str, outcome: Outcome) -> None:
        """End the hold (its record stays in lease.json) and move the task back to tasks/."""
        self.stage_fence.ended(self.holds.end(task_id, outcome), outcome)
        lifecycle.release(self.layout, task_id)
        self.queue.add([task_id])

    def record_event(self, event: StageEvent | bytes) -> dict[str, Any]:
        """Append a node's stage event (downloaded, rendered, uploaded; a model or its JSON) to
        the event log. Refused with one WARN line: BadEvent (422) for a body that is not a
        stage event, StaleLease or DuplicateEvent (409) for one its attempt may not send."""
        if not isinstance(event, StageEvent):
            try:
                event = EVENT_BODY.validate_json(event)
            except ValidationError as exc:
                refused = BadEvent(f"not a stage event: {validation_problems(exc)}"[:MAX_REFUSAL_CHARS])
                log.warning("Refused a stage event: %s", refused)
                refused.logged = True
                raise refused from exc
        try:
            self.stage_fence.admit(event)
        except CoordinatorError as exc:
            log.warning("Refused the %s event of task %s from %s attempt %d: %s", event.event,
                        event.task_id, event.node, event.attempt, exc)
            exc.logged = True
            raise
        self.nodes.seen(event.node, self.clock())
        return self.project.events.emit(event.event, node=event.node, **event.fields())

    # -- the reaper ------------------------------------------------------------
    def reap(self) -> list[str]:
        """Return expired tasks to tasks/ (or trash/failed/ after the last attempt) and note
        lost nodes. Returns the task ids it moved."""
        if self.queue.rescan_due():
            self.rescan_queue()
        with self._lock:
            now = self.clock()
            moved = self.reaper.reap(now)
        for info in self.nodes.note_lost(now):
            log.warning("Render node %s lost: no word from it for %.0f s", info.node, now - info.last_seen)
            self.project.events.emit(Event.NODE_LOST, node=info.node)
        return moved

