"""The coordinator: hands tasks to render nodes under leases and takes their results back.

It lives inside the main worker, the only writer of the project root. Every
move of a task folder happens under one lock, so a claim is a plain rename and
a stale node can never race a fresh one. The folders stay the durable state:
lease.json in processing/<id>/ says who holds a task, so a restarted main worker
carries on where its predecessor stopped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storyreel import fsops, lifecycle
from storyreel.coordinator import leases
from storyreel.coordinator.leases import Lease, LeaseState
from storyreel.coordinator.model import Grant, NodeInfo, TaskFile
from storyreel.coordinator.taskqueue import QueueIndex, list_task_ids
from storyreel.diskspace import DiskWatcher
from storyreel.errors import (
    BadUpload,
    CoordinatorError,
    FilesystemError,
    MediaError,
    StaleLease,
    UnknownTask,
    UnregisteredNode,
)
from storyreel.layout import (
    FAILURE_REASON_NAME,
    LEASE_NAME,
    METADATA_NAME,
    STDERR_NAME,
    TaskState,
    is_ignored_name,
    name_problem,
)
from storyreel.logs import MAIN_WORKER, Event, get_logger
from storyreel.media.probe import probe
from storyreel.project import Project

log = get_logger(MAIN_WORKER)

# A node unseen for this many heartbeat periods is reported lost (issue 4).
LOST_AFTER_HEARTBEATS = 3
# An upload's duration may differ from the voice's by this much: the renderer checks
# one frame; this second check only catches a truncated or wrong file.
DURATION_TOLERANCE = 0.5
# Files of a task folder that are the coordinator's own bookkeeping, never sent to nodes.
_PRIVATE_NAMES = frozenset({LEASE_NAME, STDERR_NAME, FAILURE_REASON_NAME})
# A renewal is written to lease.json once the deadline there trails the one in memory by this
# share of a lease period. Only a restarted coordinator reads that deadline, and it grants every
# lease from before the restart a whole period anyway, so a live node loses nothing by the lag.
LEASE_WRITE_LAG = 0.25
# Events a node may add to the project's event log through the coordinator.
NODE_EVENTS = frozenset({Event.DOWNLOADED, Event.RENDERED, Event.UPLOADED})


class Coordinator:
    """Claims, heartbeats, downloads, uploads, failures and the reaper for one project."""

    def __init__(self, project: Project, *, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, disk: DiskWatcher | None = None) -> None:
        """`clock` judges leases (wall time); `monotonic` paces the listings of tasks/;
        `disk` is the main worker's watcher of free space (a private one when None)."""
        self.project = project
        self.disk = disk if disk is not None else DiskWatcher.for_project(project)
        self.layout = project.layout
        self.settings = project.settings.coordinator
        self.clock = clock
        self._lock = threading.RLock()
        self._nodes: dict[str, NodeInfo] = {}
        self._hashes: dict[tuple[str, int, int], str] = {}
        self._orphans: dict[str, float] = {}  # processing/<id> without a lease → first seen
        self._warned_encoders: set[str] = set()
        self.queue = QueueIndex(self.layout, monotonic=monotonic)
        self._processing = self.layout.state_dir(TaskState.PROCESSING)
        # Held leases of processing/ as last written by this coordinator, the only writer of
        # lease.json; a lease not found here (written before a restart) is read from disk once.
        self._leases: dict[str, Lease] = {}
        self._on_disk: dict[str, float] = {}  # task id → the deadline its lease.json holds
        # Leases granted before a restart get at least one lease period from now, so nodes
        # that kept rendering while the main worker was down are not punished for it.
        self._grace_until = clock() + self.settings.lease_seconds

    # -- nodes ---------------------------------------------------------------
    def register(self, node: str, host: str, encoders: list[str], version: str,
                 address: str = "") -> dict[str, Any]:
        _check_node_id(node)
        now = self.clock()
        with self._lock:
            known = self._nodes.get(node)
            info = NodeInfo(node, host, list(encoders), version, now, now, address=address)
            if known is not None:
                info.tasks = known.tasks
            self._nodes[node] = info
        log.info("Render node %s registered from %s%s (encoders %s, version %s)", node, host,
                 f" at {address}" if address and address != host else "", ", ".join(encoders) or "none", version)
        self.project.events.emit(Event.NODE_REGISTERED, node=node, host=host, encoders=list(encoders),
                                 version=version)
        return {
            "root": str(self.layout.root),
            "lease_seconds": self.settings.lease_seconds,
            "heartbeat_seconds": self.settings.heartbeat_seconds,
            **self.project.settings.node.model_dump(exclude={"work_dir"}),
        }

    def _seen(self, node: str) -> NodeInfo | None:
        info = self._nodes.get(node)
        if info is not None:
            info.last_seen = self.clock()
            if info.lost:
                info.lost = False
                log.info("Render node %s is back", node)
        return info

    def nodes_snapshot(self) -> list[dict[str, Any]]:
        """Every known node with its current tasks and render progress (for the dashboard)."""
        with self._lock:
            return [info.snapshot() for _, info in sorted(self._nodes.items())]

    # -- claiming ------------------------------------------------------------
    def claim(self, node: str) -> Grant | None:
        """Give `node` the oldest queued task it can render, or None when there is none."""
        with self._lock:
            info = self._seen(node)
            if info is None:
                raise UnregisteredNode(f"node {node!r} must register before claiming")
            if not self.disk.space_ok():
                return None  # below [disk] floor_gb: nothing is handed out until space returns
            found = self._claim_from_queue(info)
            if found is None and self.queue.rescan_due():
                self.queue.rescan()  # a miss: look for folders an operator moved in by hand
                found = self._claim_from_queue(info)
            if found is None:
                return None
            task_id, lease, metadata = found
        log.info("Task %s claimed by %s (attempt %d)", task_id, node, lease.attempt)
        self.project.events.emit(Event.CLAIMED, task_id=task_id, node=node, attempt=lease.attempt)
        processing = self.layout.task_dir(task_id, TaskState.PROCESSING)
        return Grant(lease, metadata, self._files(processing))

    def _claim_from_queue(self, info: NodeInfo) -> tuple[str, Lease, dict[str, Any]] | None:
        """Move the oldest task `info`'s node can render to processing/ under a new lease."""
        if not self.queue.built:
            self.queue.rescan()
        for task_id in self.queue:
            task_dir = self.layout.task_dir(task_id, TaskState.QUEUED)
            if not task_dir.is_dir():
                self.queue.discard(task_id)  # moved away by hand since the last listing
                continue
            metadata = _read_metadata(task_dir)
            if metadata is None:
                continue
            forced = _forced_encoder(metadata)
            if forced and forced not in info.encoders:
                self._warn_encoder(task_id, forced)
                continue
            now = self.clock()
            lease = leases.new_lease(task_id, info.node, leases.read_lease(task_dir),
                                     self.settings.lease_seconds, now)
            try:
                leases.write_lease(task_dir, lease)
                lifecycle.claim(self.layout, task_id)
            except FilesystemError as exc:
                log.error("Cannot hand out task %s: %s", task_id, exc)
                continue
            self.queue.discard(task_id)
            self._remember(lease)
            info.tasks[task_id] = {"attempt": lease.attempt, "stage": "claimed", "progress": None,
                                   "eta_seconds": None}
            return task_id, lease, metadata
        return None

    def note_queued(self, task_ids: list[str]) -> None:
        """Tasks just created in tasks/ (by the planner): claimable from now on."""
        if task_ids:
            with self._lock:
                self.queue.add(task_ids)

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

    def _warn_encoder(self, task_id: str, encoder: str) -> None:
        if any(encoder in n.encoders for n in self._nodes.values() if not n.lost):
            return
        if task_id not in self._warned_encoders:
            self._warned_encoders.add(task_id)
            log.warning("Task %s needs encoder %s, which no registered node has", task_id, encoder)

    # -- files -----------------------------------------------------------------
    def _files(self, task_dir: Path) -> list[TaskFile]:
        files = []
        for entry in sorted(task_dir.iterdir()):
            name = entry.name
            if name in _PRIVATE_NAMES or is_ignored_name(name) or not entry.is_file():
                continue
            stat = entry.stat()
            key = (str(entry.resolve()), stat.st_size, stat.st_mtime_ns)
            digest = self._hashes.get(key)
            if digest is None:
                digest = self._hashes[key] = fsops.sha256_file(entry)
            files.append(TaskFile(name, stat.st_size, digest))
        return files

    def file_for(self, task_id: str, node: str, attempt: int, name: str) -> tuple[Path, TaskFile]:
        """The file `name` of a task that (node, attempt) holds; never any other path."""
        if name_problem(name) or name in _PRIVATE_NAMES or is_ignored_name(name):
            raise UnknownTask(f"no file {name!r} in task {task_id}")
        task_dir = self._held(task_id, node, attempt)[1]
        for entry in self._files(task_dir):
            if entry.name == name:
                return task_dir / name, entry
        raise UnknownTask(f"no file {name!r} in task {task_id}")

    def _held(self, task_id: str, node: str, attempt: int) -> tuple[Lease, Path]:
        """The lease and folder of a task (node, attempt) holds now; StaleLease otherwise."""
        lease = self._leases.get(task_id)
        if lease is not None and lease.matches(node, attempt):
            task_dir = self._processing / task_id
            if task_dir.is_dir():
                return lease, task_dir
        self._forget(task_id)  # stale, or moved by hand: ask the folders
        found = self.layout.find_task(task_id)
        if found is None:
            raise UnknownTask(f"no task {task_id}")
        state, task_dir = found
        lease = leases.read_lease(task_dir) if state == TaskState.PROCESSING else None
        if lease is not None and lease.state == LeaseState.HELD:
            self._remember(lease)
        if lease is None or not lease.matches(node, attempt):
            holder = f"held by {lease.node} attempt {lease.attempt}" if lease and lease.state == "held" \
                else f"{state}"
            raise StaleLease(f"task {task_id} attempt {attempt} of {node} is no longer current ({holder})")
        return lease, task_dir

    # -- heartbeats ------------------------------------------------------------
    def heartbeat(self, task_id: str, node: str, attempt: int, progress: dict[str, Any], *,
                  wait: bool = True) -> Lease | None:
        """Extend the lease of a task the node still holds and note its progress.

        A node this coordinator has not met (it restarted) is still honoured; `is_registered`
        tells it to register again so it shows in the node table. With `wait=False` it returns
        None at once, changing nothing, when another request holds the coordinator."""
        if not self._lock.acquire(blocking=wait):
            return None
        try:
            info = self._seen(node)
            try:
                lease, task_dir = self._held(task_id, node, attempt)
            except CoordinatorError:
                if info is not None:
                    info.tasks.pop(task_id, None)
                found = self.layout.find_task(task_id)
                # A beat that crossed the node's own finished upload is no news.
                level = logging.DEBUG if found and found[0] == TaskState.DONE else logging.WARNING
                log.log(level, "Refused heartbeat for task %s from %s attempt %d: lease no longer held",
                        task_id, node, attempt)
                raise
            lease = leases.renewed(lease, self.settings.lease_seconds, self.clock())
            if lease.deadline - self._on_disk.get(task_id, 0.0) >= LEASE_WRITE_LAG * self.settings.lease_seconds:
                # No fsync for a renewal: losing one only shortens the lease (see write_lease).
                leases.write_lease(task_dir, lease, durable=False)
                self._remember(lease)
            else:
                self._leases[task_id] = lease
            if info is not None:
                info.tasks[task_id] = {"attempt": attempt, **_progress_fields(progress)}
        finally:
            self._lock.release()
        return lease

    def _remember(self, lease: Lease) -> None:
        """A held lease as just written to (or read from) its lease.json."""
        self._leases[lease.task_id] = lease
        self._on_disk[lease.task_id] = lease.deadline

    def _forget(self, task_id: str) -> None:
        self._leases.pop(task_id, None)
        self._on_disk.pop(task_id, None)

    def is_registered(self, node: str) -> bool:
        return node in self._nodes  # one dictionary lookup: needs no lock

    def node_alive(self, node: str) -> None:
        """A node with nothing to do still says it is there."""
        with self._lock:
            if self._seen(node) is None:
                raise UnregisteredNode(f"node {node!r} must register first")

    # -- results ---------------------------------------------------------------
    def upload_target(self, task_id: str, node: str, attempt: int) -> Path:
        """A hidden temp name in processing/<id>/ to stream an upload into."""
        from storyreel import fsops

        with self._lock:
            self._seen(node)
            _, task_dir = self._held(task_id, node, attempt)
            return fsops.temp_path(task_dir, "final.mp4.part")

    def finish_upload(
        self, task_id: str, node: str, attempt: int, part: Path, *, size: int, sha256: str,
        expected_size: int | None, expected_sha256: str | None,
    ) -> Path:
        """Check an uploaded render and publish it as output/<id>/final.mp4."""
        try:
            if expected_size is not None and size != expected_size:
                raise BadUpload(f"upload of task {task_id} is {size} bytes, not the {expected_size} announced")
            if expected_sha256 and sha256 != expected_sha256.lower():
                raise BadUpload(f"upload of task {task_id} has sha256 {sha256}, not the {expected_sha256} announced")
            with self._lock:
                _, task_dir = self._held(task_id, node, attempt)
            media_seconds = self._verify_render(task_id, task_dir, part)
            with self._lock:
                self._held(task_id, node, attempt)
                final = lifecycle.complete(self.layout, task_id, part)
                self._forget(task_id)
                info = self._nodes.get(node)
                if info is not None:
                    info.tasks.pop(task_id, None)
        except CoordinatorError as exc:
            self.discard_upload(task_id, part)
            log.warning("Refused upload of task %s from %s attempt %d: %s", task_id, node, attempt, exc)
            raise
        except BaseException:
            self.discard_upload(task_id, part)
            raise
        self.project.events.emit(Event.COMPLETED, task_id=task_id, node=node, attempt=attempt,
                                 media_seconds=media_seconds, bytes=size)
        log.info("Task %s done: %s uploaded by %s (attempt %d)", task_id,
                 final.relative_to(self.layout.root), node, attempt)
        return final

    def discard_upload(self, task_id: str, part: Path) -> None:
        """Remove a refused or broken upload, wherever its task folder has moved since."""
        with self._lock:
            part.unlink(missing_ok=True)
            found = self.layout.find_task(task_id)
            if found is not None:
                (found[1] / part.name).unlink(missing_ok=True)

    def _verify_render(self, task_id: str, task_dir: Path, part: Path) -> float | None:
        """ffprobe the upload: a video and an audio stream lasting the voice. Returns its duration."""
        try:
            info = probe(part)
        except MediaError as exc:
            raise BadUpload(f"upload of task {task_id} is not a readable video: {exc.reason}") from exc
        if not info.video or not info.audio:
            raise BadUpload(f"upload of task {task_id} lacks a video or an audio stream")
        metadata = _read_metadata(task_dir) or {}
        expected = metadata.get("voice_duration")
        if isinstance(expected, int | float) and info.duration is not None \
                and abs(info.duration - expected) > DURATION_TOLERANCE:
            raise BadUpload(f"upload of task {task_id} lasts {info.duration:.2f} s, "
                            f"the voice {expected:.2f} s")
        return info.duration

    def fail(self, task_id: str, node: str, attempt: int, reason: str, stderr: str,
             details: dict[str, Any] | None = None) -> Path:
        """A node gave up on a task: it goes to trash/failed/<id>/ with stderr.log (SPEC §8)."""
        with self._lock:
            self._seen(node)
            self._held(task_id, node, attempt)
            dest = lifecycle.fail(self.layout, task_id, reason, stderr, node=node, attempt=attempt,
                                  **(details or {}))
            self._forget(task_id)
            info = self._nodes.get(node)
            if info is not None:
                info.tasks.pop(task_id, None)
        log.error("Task %s failed on %s (attempt %d): %s; moved to %s", task_id, node, attempt, reason,
                  dest.relative_to(self.layout.root))
        self.project.events.emit(Event.FAILED, task_id=task_id, node=node, attempt=attempt, reason=reason,
                                 **(details or {}))
        return dest

    def release(self, task_id: str, node: str, attempt: int) -> None:
        """A node hands a task back unfinished (shutdown): it is queued again at once."""
        with self._lock:
            self._seen(node)
            lease, task_dir = self._held(task_id, node, attempt)
            self._requeue(task_dir, lease, LeaseState.RELEASED)
            info = self._nodes.get(node)
            if info is not None:
                info.tasks.pop(task_id, None)
        log.info("Task %s released by %s (attempt %d); queued again", task_id, node, attempt)
        self.project.events.emit(Event.RELEASED, task_id=task_id, node=node, attempt=attempt)

    def _requeue(self, task_dir: Path, lease: Lease, state: str) -> None:
        self._forget(lease.task_id)
        leases.write_lease(task_dir, leases.ended(lease, state))
        lifecycle.release(self.layout, lease.task_id)
        self.queue.add([lease.task_id])

    def record_event(self, node: str, event: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Append a node's stage event (downloaded, rendered, uploaded) to the event log."""
        if event not in NODE_EVENTS:
            raise CoordinatorError(f"nodes may send only {', '.join(sorted(NODE_EVENTS))} events, not {event!r}")
        with self._lock:
            self._seen(node)
        fields = {k: v for k, v in fields.items() if k not in ("ts", "event", "node")}
        return self.project.events.emit(event, node=node, **fields)

    # -- the reaper ------------------------------------------------------------
    def reap(self) -> list[str]:
        """Return expired tasks to tasks/ (or trash/failed/ after the last attempt) and note
        lost nodes. Returns the task ids it moved."""
        if self.queue.rescan_due():
            self.rescan_queue()
        moved: list[str] = []
        with self._lock:
            now = self.clock()
            for task_id in list_task_ids(self._processing):
                try:
                    if self._reap_one(task_id, now):
                        moved.append(task_id)
                except FilesystemError as exc:
                    log.error("Cannot reap task %s: %s", task_id, exc)
            self._note_lost(now)
        return moved

    def _reap_one(self, task_id: str, now: float) -> bool:
        task_dir = self._processing / task_id
        lease = self._leases.get(task_id)
        if lease is None:
            lease = leases.read_lease(task_dir)  # written before a restart: read it once
            if lease is not None and lease.state == LeaseState.HELD:
                self._remember(lease)
        if lease is None or lease.state != LeaseState.HELD:
            # No lease: a hold whose lease.json was lost; honour it for one lease period.
            first = self._orphans.setdefault(task_id, now)
            if now - first < self.settings.lease_seconds:
                return False
            self._orphans.pop(task_id, None)
            lease = Lease(task_id=task_id, node=lease.node if lease else "?", attempt=lease.attempt if lease else 1,
                          deadline=now, claimed_at=first, renewed_at=first,
                          expiries=lease.expiries if lease else 0)
        elif not lease.expired(now) or (lease.claimed_at < self._grace_until - self.settings.lease_seconds
                                        and now < self._grace_until):
            return False
        info = self._nodes.get(lease.node)
        if info is not None:
            info.tasks.pop(task_id, None)
        overdue = now - lease.deadline
        if lease.expiries + 1 >= self.settings.max_attempts:
            reason = (f"abandoned: lease expired {lease.expiries + 1} times "
                      f"(max_attempts = {self.settings.max_attempts}); last holder {lease.node}")
            self._forget(task_id)
            leases.write_lease(task_dir, leases.ended(lease, LeaseState.EXPIRED))
            dest = lifecycle.fail(self.layout, task_id, reason, "", node=lease.node, attempt=lease.attempt)
            log.warning("Task %s abandoned after attempt %d on %s; moved to %s", task_id, lease.attempt,
                        lease.node, dest.relative_to(self.layout.root))
            self.project.events.emit(Event.FAILED, task_id=task_id, node=lease.node, attempt=lease.attempt,
                                     reason=reason)
            return True
        self._requeue(task_dir, lease, LeaseState.EXPIRED)
        log.warning("Lease of task %s expired (%s, attempt %d, %.1f s overdue); queued again as attempt %d",
                    task_id, lease.node, lease.attempt, overdue, lease.attempt + 1)
        self.project.events.emit(Event.REQUEUED, task_id=task_id, node=lease.node, attempt=lease.attempt + 1,
                                 reason="lease expired")
        return True

    def _note_lost(self, now: float) -> None:
        limit = LOST_AFTER_HEARTBEATS * self.settings.heartbeat_seconds
        for info in self._nodes.values():
            if not info.lost and now - info.last_seen > limit:
                info.lost = True
                log.warning("Render node %s lost: no word from it for %.0f s", info.node, now - info.last_seen)
                self.project.events.emit(Event.NODE_LOST, node=info.node)


def _check_node_id(node: str) -> None:
    problem = name_problem(node)
    if problem or len(node) > 100:
        raise CoordinatorError(f"bad node id {node!r}: {problem or 'longer than 100 characters'}")


def _read_metadata(task_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((task_dir / METADATA_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _forced_encoder(metadata: dict[str, Any]) -> str | None:
    render = metadata.get("render")
    encoder = render.get("encoder") if isinstance(render, dict) else None
    return encoder if isinstance(encoder, str) and encoder not in ("", "auto") else None


def _progress_fields(progress: dict[str, Any]) -> dict[str, Any]:
    def number(key: str) -> float | None:
        value = progress.get(key)
        return float(value) if isinstance(value, int | float) else None

    return {"stage": str(progress.get("stage") or ""), "progress": number("percent"),
            "eta_seconds": number("eta_seconds"), "speed": number("speed")}
