"""Claims: the oldest queued task a node can render, moved to processing/ under a new lease.

The queue index (taskqueue.py) says which tasks wait, oldest first; a narrate task goes
only to a node that runs its narration engine, a task whose render
settings force an encoder only to a node that advertises it, and a task whose render
failed on a node (lease.json's `failed_nodes`) goes back to that node only when no other
node is known that has not failed it. A claim writes the
new lease into the task folder, renames it to processing/ and starts its hold. A disk
too full to take the lease refuses the claim (DiskFull) and the task stays queued.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from storyreel import lifecycle, taskmeta
from storyreel.coordinator import leases
from storyreel.coordinator.holds import HoldStore
from storyreel.coordinator.leases import Lease
from storyreel.coordinator.nodes import NodeInfo, NodeTable
from storyreel.coordinator.splits import Splits
from storyreel.coordinator.taskqueue import QueueIndex
from storyreel.diskspace import disk_full
from storyreel.errors import DiskFull, FilesystemError
from storyreel.layout import Layout, TaskState
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.taskmeta import TaskKind

log = get_logger(MAIN_WORKER)

# A node tells its narration engines once it has probed them, a few seconds after it
# registered: no narrate task is said to lack an engine before a node had this long (s).
NARRATOR_PROBE_SECONDS = 60.0


class Claims:
    """Hands out queued tasks. Not thread-safe: the coordinator calls it under its lock."""

    def __init__(self, layout: Layout, queue: QueueIndex, holds: HoldStore, nodes: NodeTable,
                 clock: Callable[[], float], splits: Splits) -> None:
        self.layout = layout
        self.splits = splits
        self.queue = queue
        self.holds = holds
        self.nodes = nodes
        self.clock = clock
        self._warned: set[str] = set()  # tasks whose missing encoder was logged once

    def take(self, info: NodeInfo) -> tuple[Lease, dict[str, Any]] | None:
        """The lease and metadata of the task `info`'s node now holds, or None."""
        found = self._take(info)
        if found is None and self.queue.rescan_due():
            self.queue.rescan()  # a miss: look for folders an operator moved in by hand
            found = self._take(info)
        return found

    def _take(self, info: NodeInfo) -> tuple[Lease, dict[str, Any]] | None:
        """Move the oldest task `info`'s node can render to processing/ under a new lease."""
        if not self.queue.built:
            self.queue.rescan()
        for task_id in self.queue:
            task_dir = self.layout.task_dir(task_id, TaskState.QUEUED)
            if not task_dir.is_dir():
                self.queue.discard(task_id)  # moved away by hand since the last listing
                continue
            metadata = taskmeta.read_raw(task_dir)
            if metadata is None:
                continue
            if not self._can_run(task_id, metadata, info) or not self._due(task_id, task_dir, metadata, info):
                continue
            if self._left_to_others(task_dir, info.node):
                continue
            try:
                lease = self.holds.grant(task_id, info.node, self.clock())
                lifecycle.claim(self.layout, task_id)
            except FilesystemError as exc:
                if disk_full(exc):  # no other task would fare better: the node asks again later
                    raise DiskFull(f"cannot hand out task {task_id}: {exc.reason}") from exc
                log.error("Cannot hand out task %s: %s", task_id, exc)
                continue
            self.queue.discard(task_id)
            self.holds.start(lease)
            return lease, metadata
        return None

    def _can_run(self, task_id: str, metadata: dict[str, Any], info: NodeInfo) -> bool:
        """A narrate task goes only to a node that runs its engine ("auto": any engine); a
        render that forces an encoder only to a node that has it."""
        if taskmeta.kind_of(metadata) == TaskKind.NARRATE:
            engine = narration_engine(metadata)
            if info.runs(engine):
                return True
            if not self.nodes.has_narrator(engine) and self.nodes.settled(self.clock(), NARRATOR_PROBE_SECONDS):
                needs = "a narration engine, and no registered node runs one" if engine == "auto" else \
                    f"the narration engine {engine}, which no registered node runs"
                self._warn_once(task_id, f"Narrate task {task_id} needs {needs} (piper: pip install "
                                         "'storyreel[narration]' on a node; espeak-ng: apt-get install espeak-ng)")
            return False
        forced = forced_encoder(metadata)
        if forced and forced not in info.encoders:
            self._warn_encoder(task_id, forced)
            return False
        return True

    def _due(self, task_id: str, task_dir: Path, metadata: dict[str, Any], info: NodeInfo) -> bool:
        """A render task to split is split first and waits for its parts; a segment task is
        due while its render task waits for it (splits.py)."""
        kind = taskmeta.kind_of(metadata)
        if kind == TaskKind.SEGMENT:
            return self.splits.wanted(task_id, metadata) and self._free_for_part(info.node, metadata)
        return kind != TaskKind.RENDER or self.splits.ready(task_id, task_dir, metadata, info.encoders)

    def _free_for_part(self, node: str, metadata: dict[str, Any]) -> bool:
        """A node that holds a task already (it claims the next one while it renders) gets a
        segment task only when no other node is idle: parts of one chapter then render side
        by side, not one after another on the node that asked first."""
        busy = {hold.node for hold in self.holds.holds()}
        return node not in busy or not self.nodes.idle_besides(node, busy, forced_encoder(metadata))

    def _warn_once(self, task_id: str, message: str) -> None:
        if task_id not in self._warned:
            self._warned.add(task_id)
            log.warning("%s", message)

    def _left_to_others(self, task_dir: Path, node: str) -> bool:
        """True when `node` failed this task before and another node may render it instead."""
        last = leases.read_lease(task_dir)
        return last is not None and node in last.failed_nodes and \
            self.nodes.may_retry_elsewhere(node, last.failed_nodes)

    def _warn_encoder(self, task_id: str, encoder: str) -> None:
        if self.nodes.has_encoder(encoder):
            return
        self._warn_once(task_id, f"Task {task_id} needs encoder {encoder}, which no registered node has")


def narration_engine(metadata: dict[str, Any]) -> str:
    """The narration engine a narrate task asks for ("auto": the best one a node has)."""
    narration = metadata.get("narration")
    engine = narration.get("engine") if isinstance(narration, dict) else None
    return engine if isinstance(engine, str) and engine else "auto"


def forced_encoder(metadata: dict[str, Any]) -> str | None:
    """The encoder a task's render settings insist on, or None for "auto"."""
    render = metadata.get("render")
    encoder = render.get("encoder") if isinstance(render, dict) else None
    return encoder if isinstance(encoder, str) and encoder not in ("", "auto") else None
