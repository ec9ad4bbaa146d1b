"""The farm's history as the event log tells it: each node's stretches of being up, the
downloads, renders and uploads it reported, and how each task ended.

`history()` reads the log once, handing each record to the handler of its kind (the
`HANDLERS` table); kinds it does not know are skipped, so an older storyreel reads a
newer log. SPEC §10's figures (metrics.py) and the nodes the log remembers (the farm
state) are computed from the result. A long-lived reader (the dashboard) keeps a
`HistoryFeed` instead, which reads each event once, however often it is asked.
"""

from __future__ import annotations

import bisect
import math
import threading
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from storyreel.intervals import Interval, merge
from storyreel.logs import Event


def to_epoch(value: Any) -> float | None:
    """Epoch seconds from a number or an ISO 8601 string."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def _num(value: Any) -> float:
    """A non-negative number from an event field; anything else counts as 0."""
    if isinstance(value, bool) or value is None:
        return 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) and number >= 0 else 0.0


@dataclass(frozen=True)
class Stage:
    """One download, render or upload as a node reported it."""

    kind: str  # downloaded, rendered, uploaded
    task_id: str
    node: str
    attempt: int
    started: float
    ended: float
    media_seconds: float = 0.0
    encoder: str = ""
    bytes: int = 0
    running: bool = False  # a render still going (from the coordinator), counted up to now

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass(frozen=True)
class Outcome:
    """A task's end: completed (with its video length) or failed (with the reason)."""

    ts: float
    task_id: str
    node: str
    attempt: int
    media_seconds: float = 0.0
    reason: str = ""
    kind: str = "render"  # the task's kind: "narrate" made a chapter's voice, not a video
    parent: str = ""  # a segment task's: the render task its part was filed into


@dataclass
class NodeInfo:
    node: str
    host: str = ""
    encoders: list[str] = field(default_factory=list)
    registered: float | None = None
    last_activity: float | None = None
    lost: bool = False
    holding: dict[str, float] = field(default_factory=dict)  # task id → when claimed, not yet ended


@dataclass
class History:
    """Everything the figures need, read once from the event log."""

    now: float
    alive: dict[str, list[Interval]]
    nodes: dict[str, NodeInfo]
    stages: list[Stage]
    completed: list[Outcome]
    failed: list[Outcome]
    rejected: list[tuple[float, str]]
    requeued: list[Outcome]
    created: list[float]  # when each task was planned, in order
    first_ts: float | None
    by_task: dict[tuple[str, str], list[Stage]] = field(default_factory=dict)  # (kind, task) → stages
    by_node: dict[str, list[Stage]] = field(default_factory=dict)
    render_spans: dict[str, list[Interval]] = field(default_factory=dict)  # merged, per node
    last_encoders: dict[str, str] = field(default_factory=dict)  # node → the encoder it rendered with last

    def __post_init__(self) -> None:
        if self.stages and not self.by_node:  # built by hand, not by a reading: index it here
            index = _StageIndex()
            for stage in self.stages:
                index.add(stage)
            self.by_task, self.by_node = dict(index.by_task), dict(index.by_node)
            self.render_spans, self.last_encoders = index.spans(), index.last_encoder()

    def renders(self, node: str) -> list[Interval]:
        return self.render_spans.get(node, [])

    def matching(self, kind: str, outcome: Outcome) -> list[Stage]:
        """The stages of the attempt that ended in `outcome` (the latest one if attempts were not sent)."""
        same = self.by_task.get((kind, outcome.task_id), [])
        exact = [s for s in same if s.attempt == outcome.attempt]
        if exact:
            return exact
        return [max(same, key=lambda s: s.ended)] if same else []

    def last_encoder(self) -> dict[str, str]:
        """The encoder each node rendered with last."""
        return dict(self.last_encoders)


class _StageIndex:
    """The stages by task and by node, each node's merged render spans and its last encoder,
    kept as stages arrive (a node's spans are merged again only after it reported more)."""

    def __init__(self) -> None:
        self.by_task: defaultdict[tuple[str, str], list[Stage]] = defaultdict(list)
        self.by_node: defaultdict[str, list[Stage]] = defaultdict(list)
        self._rendered: defaultdict[str, list[Interval]] = defaultdict(list)
        self._merged: dict[str, list[Interval]] = {}
        self._encoder: dict[str, tuple[float, str]] = {}  # node → (ended, encoder) of its latest render

    def add(self, stage: Stage) -> None:
        self.by_task[(stage.kind, stage.task_id)].append(stage)
        self.by_node[stage.node].append(stage)
        if stage.kind == Event.RENDERED:
            self._rendered[stage.node].append((stage.started, stage.ended))
            self._merged.pop(stage.node, None)
        if stage.encoder:
            known = self._encoder.get(stage.node)
            if known is None or stage.ended >= known[0]:  # a tie goes to the later report
                self._encoder[stage.node] = (stage.ended, stage.encoder)

    def spans(self, running: Iterable[Stage] = ()) -> dict[str, list[Interval]]:
        """Each node's merged render spans, with the renders going on now."""
        going: defaultdict[str, list[Interval]] = defaultdict(list)
        for stage in running:
            going[stage.node].append((stage.started, stage.ended))
        spans: dict[str, list[Interval]] = {}
        for node in self.by_node.keys() | going.keys():
            merged = self._merged.get(node)
            if merged is None:
                merged = self._merged[node] = merge(self._rendered.get(node, []))
            spans[node] = merge(merged + going[node]) if node in going else merged
        return spans

    def last_encoder(self) -> dict[str, str]:
        return {node: encoder for node, (_ended, encoder) in self._encoder.items()}


def _stage(record: dict[str, Any]) -> Stage | None:
    ts = to_epoch(record.get("ts"))
    ended = to_epoch(record.get("ended")) or ts
    seconds = _num(record.get("seconds"))
    started = to_epoch(record.get("started"))
    if ended is None:
        return None
    if started is None:
        started = ended - seconds
    if started > ended:
        return None
    return Stage(
        kind=str(record["event"]), task_id=str(record.get("task_id", "")), node=str(record.get("node", "")),
        attempt=int(_num(record.get("attempt"))), started=started, ended=ended,
        media_seconds=_num(record.get("media_seconds")), encoder=str(record.get("encoder") or ""),
        bytes=int(_num(record.get("bytes"))),
    )


def _outcome(record: dict[str, Any], ts: float) -> Outcome:
    return Outcome(
        ts=ts, task_id=str(record.get("task_id", "")), node=str(record.get("node", "") or ""),
        attempt=int(_num(record.get("attempt"))), media_seconds=_num(record.get("media_seconds")),
        reason=str(record.get("reason") or ""), kind=str(record.get("kind") or "render"),
        parent=str(record.get("parent") or ""),
    )


class _Reading:
    """A History being gathered, one record at a time. `finish` leaves it unchanged, so a
    feed gives it the records appended since and finishes it again."""

    def __init__(self) -> None:
        self.stretches: dict[str, list[list[float | None]]] = defaultdict(list)  # [start, end|None]
        self.nodes: dict[str, NodeInfo] = {}
        self.stages: list[Stage] = []
        self.index = _StageIndex()
        self.completed: list[Outcome] = []
        self.failed: list[Outcome] = []
        self.requeued: list[Outcome] = []
        self.rejected: list[tuple[float, str]] = []
        self.created: list[float] = []
        self.first_ts: float | None = None

    def feed(self, record: dict[str, Any]) -> None:
        """One record of the log, handed to the handler of its kind."""
        ts = to_epoch(record.get("ts"))
        if ts is None:
            return
        self.first_ts = ts if self.first_ts is None else min(self.first_ts, ts)
        kind = record.get("event")
        handler = HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is not None:
            handler(self, record, ts, str(record.get("node") or ""))

    def info(self, name: str) -> NodeInfo:
        node = self.nodes.get(name)
        if node is None:
            node = self.nodes[name] = NodeInfo(name)
        return node

    def add_stage(self, stage: Stage) -> None:
        self.stages.append(stage)
        self.index.add(stage)

    def touch(self, name: str, moment: float, since: float | None = None) -> None:
        """`name` was active at `moment`; a node not up since its last loss is up again from `since`."""
        node = self.info(name)
        node.last_activity = max(node.last_activity or moment, moment)
        runs = self.stretches[name]
        if not runs or runs[-1][1] is not None:
            runs.append([since if since is not None else moment, None])
            node.lost = False

    def let_go(self, name: str, record: dict[str, Any]) -> None:
        """The task of `record` no longer holds a lease of node `name`."""
        self.info(name).holding.pop(str(record.get("task_id")), None)

    def finish(
        self, now: float, live: Collection[str] | None, running: Iterable[tuple[str, str, float]]
    ) -> History:
        """The History as of `now`: open stretches end now (live nodes) or at the node's last
        activity, and the renders `running` count up to now. Its lists are copies; the stages
        of one task or node are shared with the reading until it is fed again."""
        alive: dict[str, list[Interval]] = {}
        for name, runs in self.stretches.items():
            up = live is None or name in live
            last = self.nodes[name].last_activity or now
            closed = [(float(s), float(e if e is not None else (now if up else last))) for s, e in runs]  # type: ignore[arg-type]
            alive[name] = merge(closed)
        going = [Stage(Event.RENDERED, task_id, name, 0, started, now, running=True)
                 for name, task_id, started in running if name in alive and started < now]
        by_task, by_node = dict(self.index.by_task), dict(self.index.by_node)
        for stage in going:
            by_task[(stage.kind, stage.task_id)] = [*by_task.get((stage.kind, stage.task_id), []), stage]
            by_node[stage.node] = [*by_node.get(stage.node, []), stage]
        nodes = {name: replace(info, encoders=list(info.encoders), holding=dict(info.holding))
                 for name, info in self.nodes.items()}
        return History(now, alive, nodes, self.stages + going, list(self.completed), list(self.failed),
                       list(self.rejected), list(self.requeued), list(self.created), self.first_ts,
                       by_task=by_task, by_node=by_node, render_spans=self.index.spans(going),
                       last_encoders=self.index.last_encoder())


# -- one handler per event kind ------------------------------------------------
# Each gets the reading, the record, its time and the node it names ("" when none).

def _registered(r: _Reading, record: dict[str, Any], ts: float, name: str) -> None:
    if not name:
        return
    node = r.info(name)
    node.host = str(record.get("host") or node.host)
    encoders = record.get("encoders")
    if isinstance(encoders, list):
        node.encoders = [str(e) for e in encoders]
    node.registered = ts
    r.touch(name, ts)


def _lost(r: _Reading, record: dict[str, Any], ts: float, name: str) -> None:
    if not name:
        return
    r.touch(name, ts)
    r.stretches[name][-1][1] = ts
    r.info(name).lost = True


def _stage_reported(r: _Reading, record: dict[str, Any], ts: float, name: str) -> None:
    stage = _stage(record)
    if stage is not None:
        r.add_stage(stage)
        if stage.node:
            r.touch(stage.node, stage.ended, since=stage.started)


def _completed(r: _Reading, record: dict[str, Any], ts: float, name: str) -> None:
    r.completed.append(_outcome(record, ts))
    if name:
        r.touch(name, ts)
        r.let_go(name, record)


def _failed(r: _Reading, record: dict[str, Any], ts: float, name: str) -> None:
    r.failed.append(_outcome(record, ts))
    if name:
        r.touch(name, ts)
        r.let_go(name, record)


def _requeued(r: _Reading, record: dict[str, Any], ts: float, name: str) -> None:
    r.requeued.append(_outcome(record, ts))
    if name:
        r.let_go(name, record)  # the reaper speaks, not the node: no sign of life


def _claimed(r: _Reading, record: dict[str, Any], ts: float, name: str) -> None:
    if name:
        r.touch(name, ts)
        r.info(name).holding[str(record.get("task_id"))] = ts


def _released(r: _Reading, record: dict[str, Any], ts: float, name: str) -> None:
    if name:
        r.touch(name, ts)
        r.let_go(name, record)


def _rejected(r: _Reading, record: dict[str, Any], ts: float, name: str) -> None:
    r.rejected.append((ts, str(record.get("reason") or "")))


def _task_created(r: _Reading, record: dict[str, Any], ts: float, name: str) -> None:
    bisect.insort(r.created, ts)  # kept in order: a span counts them by bisection


Handler = Callable[[_Reading, dict[str, Any], float, str], None]
HANDLERS: dict[str, Handler] = {
    Event.NODE_REGISTERED: _registered,
    Event.NODE_LOST: _lost,
    Event.DOWNLOADED: _stage_reported,
    Event.RENDERED: _stage_reported,
    Event.UPLOADED: _stage_reported,
    Event.COMPLETED: _completed,
    Event.FAILED: _failed,
    Event.REQUEUED: _requeued,
    Event.CLAIMED: _claimed,
    Event.RELEASED: _released,
    Event.REJECTED: _rejected,
    Event.TASK_CREATED: _task_created,
}


def history(
    events: Iterable[dict[str, Any]], now: float, live: Collection[str] | None = None,
    running: Iterable[tuple[str, str, float]] = (),
) -> History:
    """Read the event log into a History. `live` names the nodes up right now
    (None: every node not reported lost counts as up); `running` holds the renders
    going on now as (node, task id, started), so a long render counts while it runs."""
    reading = _Reading()
    for record in events:
        reading.feed(record)
    return reading.finish(now, live, running)


class HistoryFeed:
    """The history a long-lived reader of the event log keeps (the dashboard): each call
    reads only the records appended since the last one, so its cost follows what is new,
    not the log's length; the result is what `history()` makes of the whole log.

    `events` is every record so far, as one `logs.EventReader` keeps them: the same record
    objects in the same order, with new ones appended. When the list no longer starts with
    the records already read (the reader read a replaced or truncated log again from its
    start), the feed starts over."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reading = _Reading()
        self._read = 0  # records read so far
        self._last: dict[str, Any] | None = None  # the last of them, to know the list still holds it

    def history(
        self, events: Sequence[dict[str, Any]], now: float, live: Collection[str] | None = None,
        running: Iterable[tuple[str, str, float]] = (),
    ) -> History:
        with self._lock:
            read = self._read
            if read > len(events) or (read and events[read - 1] is not self._last):
                self._reading, read = _Reading(), 0  # not the log read before: read it all
            for index in range(read, len(events)):
                self._reading.feed(events[index])
            self._read, self._last = len(events), (events[-1] if events else None)
            return self._reading.finish(now, live, running)
