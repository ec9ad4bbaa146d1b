"""The farm state built in one place, from the folders, the event log and, when a
coordinator runs in this process, its live node rows. Read-only: nothing here moves,
writes or deletes a file.

Beside the main worker (its dashboard, polled every two seconds) nothing in the build
grows with the queue: the coordinator's queue index counts tasks/ and names its first
tasks, the main worker's kept counts stand for scanned/, and the dashboard's HistoryFeed
reads only the events appended since its last call.
"""

from __future__ import annotations

import time
from typing import Any

from storyreel import diskspace, metrics, queues, waitlist
from storyreel.farmstate.model import (
    CompletedTask,
    DiskState,
    FarmState,
    FolderCounts,
    NodeRow,
    NodeState,
    NodeTask,
)
from storyreel.farmstate.tasks import TaskRow, names_of, output_size, task_rows
from storyreel.history import History, HistoryFeed, history
from storyreel.layout import TaskState
from storyreel.logs import read_events
from storyreel.project import Project
from storyreel.render.captioning import published_warning

# Recent lists stay short enough for a phone screen.
RECENT_FAILURES = 10
RECENT_COMPLETED = 10
LOG_LINES = 30
# Queued and held tasks listed by name in the state polled every two seconds; the
# counts cover the rest, and `storyreel tasks` lists them all.
TASK_ROWS = 100


def build_state(
    project: Project,
    nodes: list[NodeRow] | None = None,
    *,
    events: list[dict[str, Any]] | None = None,
    now: float | None = None,
    window: float = metrics.DEFAULT_WINDOW_SECONDS, feed: HistoryFeed | None = None,
    queued: tuple[int, list[str]] | None = None,
) -> FarmState:
    """Everything `storyreel status` and the dashboard show.

    `nodes` are the coordinator's live rows; None when no coordinator is reachable, in
    which case nodes come from the event log as offline. `events` default to the whole log;
    `feed` keeps their history between calls (then `events` is one EventReader's list).
    `queued`: how many tasks are queued and the first TASK_ROWS of them, from the
    coordinator's queue index; tasks/ is listed when None.
    """
    now = time.time() if now is None else now
    layout = project.layout
    if events is None:
        events = list(read_events(layout.events_file))
    live = {row.node for row in nodes if row.live} if nodes is not None else set()
    running = [render for row in nodes or [] for render in row.renders_started(now)]
    h = feed.history(events, now, live, running) if feed is not None else history(events, now, live, running)
    failed = queues.failures(layout)
    rows = _node_rows(h, nodes or [], set(layout.task_ids(TaskState.PROCESSING)))
    completed = sorted(h.completed, key=lambda o: o.ts, reverse=True)[:RECENT_COMPLETED]
    chosen = {TaskState.QUEUED: queued[1][:TASK_ROWS]} if queued is not None else None
    tasks = _held_by_live_nodes(task_rows(layout, (TaskState.QUEUED, TaskState.PROCESSING), h, TASK_ROWS,
                                          chosen), rows)
    mentioned = [t.task_id for row in rows for t in row.tasks] + [o.task_id for o in completed]
    lengths = queues.queue_lengths(layout, scanned=project.scanned_counts.counts(),
                                   queued=queued[0] if queued is not None else None)
    return FarmState(
        root=str(layout.root),
        now=now,
        coordinator=nodes is not None,
        disk=DiskState.of(diskspace.measure(project)),
        queues=FolderCounts.model_validate(lengths),
        invalid_reasons=queues.invalid_reasons(layout),
        failed_reasons=queues.failed_reasons(failed),
        recent_failures=failed[:RECENT_FAILURES],
        recent_completed=[
            CompletedTask(task_id=o.task_id, node=o.node, when=o.ts, media_seconds=o.media_seconds,
                          video_bytes=output_size(layout, o.task_id),
                          caption_warning=published_warning(layout.task_dir(o.task_id, TaskState.DONE)))
            for o in completed
        ],
        nodes=rows,
        metrics=metrics.measure(h, window),
        log_tail=queues.log_tail(layout, LOG_LINES),
        names=names_of(layout, mentioned + [f.task_id for f in failed[:RECENT_FAILURES]] + [t.task_id for t in tasks]),
        tasks=tasks,
        waiting=waitlist.read(layout),
    )


def _held_by_live_nodes(tasks: list[TaskRow], nodes: list[NodeRow]) -> list[TaskRow]:
    """Held tasks named with the node that holds them now, when a node row says so."""
    holder = {t.task_id: row.node for row in nodes for t in row.tasks}
    return [t.model_copy(update={"node": holder[t.task_id]}) if t.task_id in holder else t for t in tasks]


def _node_rows(h: History, live: list[NodeRow], processing: set[str]) -> list[NodeRow]:
    """The coordinator's rows, then the nodes only the log remembers; each with the host the
    log knows when the coordinator gave none, and the encoder it last rendered with."""
    known = {row.node for row in live}
    rows = live + [row for row in _nodes_from_history(h, processing) if row.node not in known]
    last_encoder = h.last_encoder()
    out = []
    for row in rows:
        info = h.nodes.get(row.node)
        host = info.host if info and not row.host else row.host
        out.append(row.model_copy(update={"host": host, "encoder": last_encoder.get(row.node, row.encoder)}))
    return out


def _nodes_from_history(h: History, processing: set[str]) -> list[NodeRow]:
    """Nodes as the event log remembers them, when the coordinator does not list them. A
    node is "busy" while a task it claimed is still in processing/ (the in-process renderer
    of `storyreel run` reports no progress, only its claims)."""
    rows = []
    for info in sorted(h.nodes.values(), key=lambda i: i.node):
        held = sorted((t for t in info.holding if t in processing), key=lambda t: info.holding[t])
        state = NodeState.BUSY if held else (NodeState.LOST if info.lost else NodeState.OFFLINE)
        rows.append(NodeRow(
            node=info.node, host=info.host, encoder=info.encoders[0] if info.encoders else "",
            encoders=info.encoders, state=state, last_seen=info.last_activity, live=False,
            tasks=[NodeTask(task_id=t, stage="claimed") for t in held],
        ))
    return rows
