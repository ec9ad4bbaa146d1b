"""SPEC §10's figures, computed from the event log alone so they survive restarts.

Definitions (each figure is given for a span: "since start" or a recent window):

- A node's **wall time** runs from `node_registered` to `node_lost` (a second
  registration continues the same stretch). A stretch still open ends now when
  the node is live, else at the node's last recorded activity.
- **render_utilization** is render time / wall time in %, per node and farm-wide
  (the farm's figure is the sum of render time over the sum of wall time). A
  finished render is counted from its `rendered` event; one still going counts up to
  now when the coordinator reports its progress and ETA.
- **avg_render_time** is the mean render seconds of the attempts that produced an output video
  (a narrate task makes none); per output minute it is those seconds over the minutes of video made.
- **task_throughput** is completed tasks per hour while at least one node was up.
- **io_overhead** is download + upload seconds per completed task; the *exposed*
  part is the share of those seconds when the same node was not rendering, that
  is what the overlapped pipeline did not hide.
- **render speed** is seconds of video per second of rendering (× realtime), per
  node and encoder.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from storyreel.history import History, Outcome, history
from storyreel.intervals import Interval, clip, clip_sorted, intersect, merge, subtract, total
from storyreel.logs import Event

# "Recent" means the last hour unless asked otherwise: long enough to hold several
# 4K renders, short enough to show a slowdown the same morning.
DEFAULT_WINDOW_SECONDS = 3600.0

# The chart shows about this many points, whatever the span.
TIMELINE_POINTS = 30
# Bucket sizes the chart picks from, so axis labels stay round.
_NICE_BUCKETS = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


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

    def node(self, name: str) -> NodeFigures | None:
        """The figures of node `name`, when it was known in this span."""
        return next((n for n in self.nodes if n.node == name), None)


def _ratio(part: float, whole: float, scale: float = 1.0) -> float | None:
    return part / whole * scale if whole > 0 else None


# The COMPLETED event's `kind` of a narrate task (taskmeta.TaskKind.NARRATE) and of a
# segment task (a part of a long chapter's picture, taskmeta.TaskKind.SEGMENT).
NARRATE_KIND = "narrate"
SEGMENT_KIND = "segment"


class _Span:
    """The stretch of time [lo, hi] one set of figures covers, with its task outcomes."""

    def __init__(self, h: History, lo: float, hi: float) -> None:
        self.h, self.lo, self.hi = h, lo, hi
        self.done = [o for o in h.completed if lo <= o.ts <= hi]
        self.failed = [o for o in h.failed if lo <= o.ts <= hi]
        self.done_by = Counter(o.node for o in self.done)
        self.failed_by = Counter(o.node for o in self.failed)

    def count(self, moments: Iterable[float]) -> int:
        return sum(1 for t in moments if self.lo <= t <= self.hi)

    def count_sorted(self, moments: list[float]) -> int:
        """`count` of moments in order, by bisection (10,000 planned tasks cost nothing)."""
        return bisect_right(moments, self.hi) - bisect_left(moments, self.lo)


def _node_figures(span: _Span, name: str, speeds: dict[tuple[str, str], list[float]]) -> NodeFigures:
    """One node's wall, render and transfer time in the span; its finished renders are
    added to `speeds` ((node, encoder) → [renders, render seconds, video seconds])."""
    h, lo, hi = span.h, span.lo, span.hi
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
            part = (max(s.started, lo), min(s.ended, hi))
            moved[s.kind] = moved.get(s.kind, 0.0) + part[1] - part[0]
            io.append(part)
    return NodeFigures(
        node=name, wall_seconds=total(wall), render_seconds=total(rendering),
        render_utilization=_ratio(total(rendering), total(wall), 100.0),
        download_seconds=moved[Event.DOWNLOADED], upload_seconds=moved[Event.UPLOADED],
        exposed_io_seconds=total(subtract(merge(io), h.renders(name))),
        tasks_completed=span.done_by[name], tasks_failed=span.failed_by[name],
    )


@dataclass
class _PerOutput:
    """What the finished tasks of a span cost: the render seconds of each, the video they
    made, and their download + upload seconds (all, and those no render hid)."""

    render_times: list[float]
    media: float
    io_total: float
    exposed: float


def _per_output(h: History, done: list[Outcome]) -> _PerOutput:
    cost = _PerOutput([], 0.0, 0.0, 0.0)
    parts: dict[str, float] = {}  # render task → its parts' render seconds
    for outcome in done:
        if outcome.kind == SEGMENT_KIND:
            parts[outcome.parent] = parts.get(outcome.parent, 0.0) + \
                sum(s.seconds for s in h.matching(Event.RENDERED, outcome))
    for outcome in done:
        renders = h.matching(Event.RENDERED, outcome)
        # A narration makes no video; a part's render counts in the video it was joined into.
        if renders and outcome.kind not in (NARRATE_KIND, SEGMENT_KIND):
            cost.render_times.append(sum(s.seconds for s in renders) + parts.get(outcome.task_id, 0.0))
            cost.media += outcome.media_seconds or max(s.media_seconds for s in renders)
        for kind in (Event.DOWNLOADED, Event.UPLOADED):
            for s in h.matching(kind, outcome):
                cost.io_total += s.seconds
                cost.exposed += total(subtract([(s.started, s.ended)], h.renders(s.node)))
    return cost


def figures(h: History, lo: float = -math.inf, hi: float | None = None) -> Figures:
    """The metrics over [lo, hi] (default: since start until now)."""
    span = _Span(h, lo, h.now if hi is None else hi)
    speeds: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    node_figs = [_node_figures(span, name, speeds) for name in sorted(h.nodes)]
    wall = sum(n.wall_seconds for n in node_figs)
    rendered = sum(n.render_seconds for n in node_figs)
    up = total(clip(merge(i for runs in h.alive.values() for i in runs), span.lo, span.hi))
    cost = _per_output(h, span.done)
    done = len(span.done)
    return Figures(
        start=None if lo == -math.inf else lo, end=span.hi, wall_seconds=wall, up_seconds=up,
        render_seconds=rendered, render_utilization=_ratio(rendered, wall, 100.0),
        tasks_completed=done, task_throughput=_ratio(done, up, 3600.0),
        avg_render_time=_ratio(sum(cost.render_times), len(cost.render_times)),
        render_seconds_per_output_minute=(
            _ratio(sum(cost.render_times), cost.media, 60.0) if cost.render_times else None
        ),
        output_media_seconds=cost.media,
        io_overhead=_ratio(cost.io_total, done), io_exposed=_ratio(cost.exposed, done),
        tasks_failed=len(span.failed), tasks_requeued=span.count(o.ts for o in h.requeued),
        tasks_created=span.count_sorted(h.created), files_rejected=span.count(t for t, _ in h.rejected),
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


def measure(h: History, window: float = DEFAULT_WINDOW_SECONDS, points: int = TIMELINE_POINTS) -> Metrics:
    """The metrics of a history since start and over its last `window` seconds, plus the chart."""
    return Metrics(h.now, window, figures(h), figures(h, h.now - window, h.now), timeline(h, points))


def compute(
    events: Iterable[dict[str, Any]], now: float, window: float = DEFAULT_WINDOW_SECONDS,
    live: Collection[str] | None = None, points: int = TIMELINE_POINTS,
) -> Metrics:
    """SPEC §10's metrics since start and over the last `window` seconds, plus the chart."""
    return measure(history(events, now, live), window, points)
