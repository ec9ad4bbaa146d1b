"""SPEC §10's figures, computed from the event log alone so they survive restarts.

Definitions (each figure is given for a span: "since start" or a recent window):

- A node's **wall time** runs from `node_registered` to `node_lost` (a second
  registration continues the same stretch). A stretch still open ends now when
  the node is live, else at the node's last recorded activity.
- **render_utilization** is render time / wall time in %, per node and farm-wide
  (the farm's figure is the sum of render time over the sum of wall time). A
  finished render is counted from its `rendered` event; one still going counts up to
  now when the coordinator reports its progress and ETA.
- **avg_render_time** is the mean render seconds of the attempts that produced an
  output; per output minute it is those seconds over the minutes of video made.
- **task_throughput** is completed tasks per hour while at least one node was up.
- **io_overhead** is download + upload seconds per completed task; the *exposed*
  part is the share of those seconds when the same node was not rendering, that
  is what the overlapped pipeline did not hide.
- **render speed** is seconds of video per second of rendering (× realtime), per
  node and encoder.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from storyreel.intervals import Interval, clip, clip_sorted, intersect, merge, subtract, total
from storyreel.logs import Event

# "Recent" means the last hour unless asked otherwise: long enough to hold several
# 4K renders, short enough to show a slowdown the same morning.
DEFAULT_WINDOW_SECONDS = 3600.0

# The chart shows about this many points, whatever the span.
TIMELINE_POINTS = 30
# Bucket sizes the chart picks from, so axis labels stay round.
_NICE_BUCKETS = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)

# -- the history read from events -------------------------------------------
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
    created: list[float]
    first_ts: float | None
    by_task: dict[tuple[str, str], list[Stage]] = field(default_factory=dict)  # (kind, task) → stages
    by_node: dict[str, list[Stage]] = field(default_factory=dict)
    render_spans: dict[str, list[Interval]] = field(default_factory=dict)  # merged, per node

    def __post_init__(self) -> None:
        by_task: dict[tuple[str, str], list[Stage]] = defaultdict(list)
        by_node: dict[str, list[Stage]] = defaultdict(list)
        for stage in self.stages:
            by_task[(stage.kind, stage.task_id)].append(stage)
            by_node[stage.node].append(stage)
        self.by_task, self.by_node = dict(by_task), dict(by_node)
        self.render_spans = {
            node: merge((s.started, s.ended) for s in stages if s.kind == Event.RENDERED)
            for node, stages in self.by_node.items()
        }

    def renders(self, node: str) -> list[Interval]:
        return self.render_spans.get(node, [])

    def matching(self, kind: str, outcome: Outcome) -> list[Stage]:
        """The stages of the attempt that ended in `outcome` (the latest one if attempts were not sent)."""
        same = self.by_task.get((kind, outcome.task_id), [])
        exact = [s for s in same if s.attempt == outcome.attempt]
        if exact:
            return exact
        return [max(same, key=lambda s: s.ended)] if same else []


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
        reason=str(record.get("reason") or ""),
    )


def history(
    events: Iterable[dict[str, Any]], now: float, live: Collection[str] | None = None,
    running: Iterable[tuple[str, str, float]] = (),
) -> History:
    """Read the event log into a History. `live` names the nodes up right now
    (None: every node not reported lost counts as up); `running` holds the renders
    going on now as (node, task id, started), so a long render counts while it runs."""
    stretches: dict[str, list[list[float | None]]] = defaultdict(list)  # [start, end|None]
    nodes: dict[str, NodeInfo] = {}
    stages: list[Stage] = []
    completed: list[Outcome] = []
    failed: list[Outcome] = []
    requeued: list[Outcome] = []
    rejected: list[tuple[float, str]] = []
    created: list[float] = []
    first_ts: float | None = None

    def info(name: str) -> NodeInfo:
        return nodes.setdefault(name, NodeInfo(name))

    def touch(name: str, moment: float, since: float | None = None) -> None:
        node = info(name)
        node.last_activity = max(node.last_activity or moment, moment)
        runs = stretches[name]
        if not runs or runs[-1][1] is not None:
            runs.append([since if since is not None else moment, None])
            node.lost = False

    for record in events:
        ts = to_epoch(record.get("ts"))
        if ts is None:
            continue
        first_ts = ts if first_ts is None else min(first_ts, ts)
        kind = record.get("event")
        name = str(record.get("node") or "")
        if kind == Event.NODE_REGISTERED and name:
            node = info(name)
            node.host = str(record.get("host") or node.host)
            encoders = record.get("encoders")
            if isinstance(encoders, list):
                node.encoders = [str(e) for e in encoders]
            node.registered = ts
            touch(name, ts)
        elif kind == Event.NODE_LOST and name:
            touch(name, ts)
            stretches[name][-1][1] = ts
            info(name).lost = True
        elif kind in (Event.DOWNLOADED, Event.RENDERED, Event.UPLOADED):
            stage = _stage(record)
            if stage is not None:
                stages.append(stage)
                if stage.node:
                    touch(stage.node, stage.ended, since=stage.started)
        elif kind == Event.COMPLETED:
            completed.append(_outcome(record, ts))
            if name:
                touch(name, ts)
                info(name).holding.pop(str(record.get("task_id")), None)
        elif kind == Event.FAILED:
            failed.append(_outcome(record, ts))
            if name:
                touch(name, ts)
                info(name).holding.pop(str(record.get("task_id")), None)
        elif kind == Event.REQUEUED:
            requeued.append(_outcome(record, ts))
            if name:
                info(name).holding.pop(str(record.get("task_id")), None)
        elif kind == Event.CLAIMED and name:
            touch(name, ts)
            info(name).holding[str(record.get("task_id"))] = ts
        elif kind == Event.RELEASED and name:
            touch(name, ts)
            info(name).holding.pop(str(record.get("task_id")), None)
        elif kind == Event.REJECTED:
            rejected.append((ts, str(record.get("reason") or "")))
        elif kind == Event.TASK_CREATED:
            created.append(ts)

    alive: dict[str, list[Interval]] = {}
    for name, runs in stretches.items():
        up = live is None or name in live
        last = nodes[name].last_activity or now
        closed = [(float(s), float(e if e is not None else (now if up else last))) for s, e in runs]  # type: ignore[arg-type]
        alive[name] = merge(closed)
    for name, task_id, started in running:
        if name in alive and started < now:
            stages.append(Stage(Event.RENDERED, task_id, name, 0, started, now, running=True))
    return History(now, alive, nodes, stages, completed, failed, rejected, requeued, created, first_ts)


# -- figures -------------------------------------------------------------------
@dataclass
class NodeFigures:
    node: str
    wall_seconds: float
    render_seconds: float
    render_utilization: float | None  # %
    download_seconds: float
    upload_seconds: float
    exposed_io_seconds: float
    tasks_completed: int
    tasks_failed: int


@dataclass
class Speed:
    node: str
    encoder: str
    renders: int
    render_seconds: float
    media_seconds: float
    speed: float | None  # × realtime


@dataclass
class Figures:
    """SPEC §10's metrics over one span of time."""

    start: float | None  # None: since the first event
    end: float
    wall_seconds: float  # summed over nodes
    up_seconds: float  # time with at least one node up
    render_seconds: float
    render_utilization: float | None  # %
    tasks_completed: int
    task_throughput: float | None  # completed per hour of up time
    avg_render_time: float | None  # s per output video
    render_seconds_per_output_minute: float | None
    output_media_seconds: float
    io_overhead: float | None  # download + upload s per completed task
    io_exposed: float | None  # the part of io_overhead the overlap did not hide
    tasks_failed: int
    tasks_requeued: int
    tasks_created: int
    files_rejected: int
    nodes: list[NodeFigures]
    speeds: list[Speed]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(part: float, whole: float, scale: float = 1.0) -> float | None:
    return part / whole * scale if whole > 0 else None


def figures(h: History, lo: float = -math.inf, hi: float | None = None) -> Figures:
    """The metrics over [lo, hi] (default: since start until now)."""
    hi = h.now if hi is None else hi
    done = [o for o in h.completed if lo <= o.ts <= hi]
    failed = [o for o in h.failed if lo <= o.ts <= hi]
    done_by = Counter(o.node for o in done)
    failed_by = Counter(o.node for o in failed)
    speeds: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])

    node_figs: list[NodeFigures] = []
    for name in sorted(h.nodes):
        wall = clip(h.alive.get(name, []), lo, hi)
        rendering = intersect(clip(h.renders(name), lo, hi), wall) if wall else []
        moved = {Event.DOWNLOADED: 0.0, Event.UPLOADED: 0.0}
        io: list[Interval] = []
        for s in h.by_node.get(name, []):
            if s.ended <= lo or s.started >= hi:
                continue
            if s.kind == Event.RENDERED and not s.running:
                row = speeds[(s.node, s.encoder)]
                row[0] += 1
                row[1] += s.seconds
                row[2] += s.media_seconds
            elif s.kind != Event.RENDERED:
                span = (max(s.started, lo), min(s.ended, hi))
                moved[s.kind] = moved.get(s.kind, 0.0) + span[1] - span[0]
                io.append(span)
        node_figs.append(NodeFigures(
            node=name, wall_seconds=total(wall), render_seconds=total(rendering),
            render_utilization=_ratio(total(rendering), total(wall), 100.0),
            download_seconds=moved[Event.DOWNLOADED], upload_seconds=moved[Event.UPLOADED],
            exposed_io_seconds=total(subtract(merge(io), h.renders(name))),
            tasks_completed=done_by[name], tasks_failed=failed_by[name],
        ))
    wall = sum(n.wall_seconds for n in node_figs)
    rendered = sum(n.render_seconds for n in node_figs)
    up = total(clip(merge(i for runs in h.alive.values() for i in runs), lo, hi))

    render_times: list[float] = []
    media = 0.0
    io_total = exposed = 0.0
    for outcome in done:
        renders = h.matching(Event.RENDERED, outcome)
        if renders:
            render_times.append(sum(s.seconds for s in renders))
            media += outcome.media_seconds or max(s.media_seconds for s in renders)
        for kind in (Event.DOWNLOADED, Event.UPLOADED):
            for s in h.matching(kind, outcome):
                io_total += s.seconds
                exposed += total(subtract([(s.started, s.ended)], h.renders(s.node)))

    return Figures(
        start=None if lo == -math.inf else lo, end=hi, wall_seconds=wall, up_seconds=up,
        render_seconds=rendered, render_utilization=_ratio(rendered, wall, 100.0),
        tasks_completed=len(done), task_throughput=_ratio(len(done), up, 3600.0),
        avg_render_time=_ratio(sum(render_times), len(render_times)),
        render_seconds_per_output_minute=_ratio(sum(render_times), media, 60.0) if render_times else None,
        output_media_seconds=media,
        io_overhead=_ratio(io_total, len(done)), io_exposed=_ratio(exposed, len(done)),
        tasks_failed=len(failed), tasks_requeued=sum(1 for o in h.requeued if lo <= o.ts <= hi),
        tasks_created=sum(1 for t in h.created if lo <= t <= hi),
        files_rejected=sum(1 for t, _ in h.rejected if lo <= t <= hi),
        nodes=node_figs,
        speeds=[Speed(n, e, int(c), sec, m, _ratio(m, sec)) for (n, e), (c, sec, m) in sorted(speeds.items())],
    )


@dataclass
class Point:
    """One step of the chart: tasks finished and farm utilization in a bucket of time."""

    start: float
    end: float
    completed: int
    throughput: float | None  # per hour of up time in the bucket
    render_utilization: float | None  # %


def bucket_seconds(span: float, points: int = TIMELINE_POINTS) -> int:
    """A round bucket size that shows `span` seconds in about `points` steps."""
    want = span / max(points, 1)
    return next((b for b in _NICE_BUCKETS if b >= want), _NICE_BUCKETS[-1])


def timeline(h: History, points: int = TIMELINE_POINTS, bucket: int | None = None) -> list[Point]:
    """Throughput and utilization over time, oldest first, ending now."""
    span = h.now - (h.first_ts if h.first_ts is not None else h.now)
    size = bucket or bucket_seconds(max(span, 600.0), points)
    end = (math.floor(h.now / size) + 1) * size  # buckets are [lo, hi); the last one holds now
    done = sorted(o.ts for o in h.completed)
    up_all = merge(i for runs in h.alive.values() for i in runs)
    out: list[Point] = []
    for k in range(points, 0, -1):
        lo, hi = end - k * size, min(end - (k - 1) * size, h.now)
        if lo >= h.now:
            continue
        wall = rendered = 0.0
        for name, alive in h.alive.items():
            up = clip_sorted(alive, lo, hi)
            wall += total(up)
            rendered += total(intersect(clip_sorted(h.renders(name), lo, hi), up)) if up else 0.0
        bucket_end = end - (k - 1) * size
        completed = bisect_left(done, bucket_end) - bisect_left(done, lo)
        out.append(Point(lo, bucket_end, completed,
                         _ratio(completed, total(clip_sorted(up_all, lo, hi)), 3600.0),
                         _ratio(rendered, wall, 100.0)))
    return out


@dataclass
class Metrics:
    now: float
    window_seconds: float
    since_start: Figures
    window: Figures
    timeline: list[Point]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def compute(
    events: Iterable[dict[str, Any]], now: float, window: float = DEFAULT_WINDOW_SECONDS,
    live: Collection[str] | None = None, points: int = TIMELINE_POINTS,
) -> Metrics:
    """SPEC §10's metrics since start and over the last `window` seconds, plus the chart."""
    h = history(events, now, live)
    return Metrics(now, window, figures(h), figures(h, now - window, now), timeline(h, points))
