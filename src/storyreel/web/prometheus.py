"""GET /metrics: the farm state in Prometheus text format.

Counters (`_total`) come from the event log since it began, so they only grow and
survive restarts; `rate()` over them gives any window. Gauges carry the figures
as `storyreel status` shows them, for dashboards that want them ready-made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from storyreel import waitlist
from storyreel.farmstate import FarmState
from storyreel.metrics import Figures, NodeFigures

StateSource = Callable[[], FarmState]

# Reasons often name a file; beyond this many distinct ones the rest are summed as
# "(other)" so a burst of odd files cannot flood Prometheus with series.
MAX_REASON_SERIES = 20

# Counters over the whole event log: name (without `storyreel_`), help, the figure.
_TOTALS: tuple[tuple[str, str, Callable[[Figures], float]], ...] = (
    ("tasks_created", "Render tasks planned.", lambda f: f.tasks_created),
    ("tasks_completed", "Tasks whose final.mp4 reached output/.", lambda f: f.tasks_completed),
    ("tasks_failed", "Tasks moved to trash/failed/.", lambda f: f.tasks_failed),
    ("tasks_requeued", "Tasks returned to tasks/ after a lost lease.", lambda f: f.tasks_requeued),
    ("files_rejected", "Raw files moved to trash/invalid/.", lambda f: f.files_rejected),
    ("output_video_seconds", "Seconds of finished video made.", lambda f: f.output_media_seconds),
)

# Per-node counters, labelled by node.
_PER_NODE: tuple[tuple[str, str, Callable[[NodeFigures], float]], ...] = (
    ("storyreel_node_up_seconds", "Wall time each node was up.", lambda n: n.wall_seconds),
    ("storyreel_node_download_seconds", "Time spent downloading tasks.", lambda n: n.download_seconds),
    ("storyreel_node_upload_seconds", "Time spent uploading results.", lambda n: n.upload_seconds),
    ("storyreel_node_io_exposed_seconds", "Download/upload time not hidden behind a render.",
     lambda n: n.exposed_io_seconds),
    ("storyreel_node_tasks_completed", "Tasks each node completed.", lambda n: n.tasks_completed),
)

# SPEC §10's figures as gauges with a `span` label: name, help, the figure, the scale
# from the figure's unit to the metric's (percent → ratio).
_FIGURES: tuple[tuple[str, str, Callable[[Figures], float | None], float], ...] = (
    ("storyreel_render_utilization_ratio", "Share of node time spent rendering.",
     lambda f: f.render_utilization, 0.01),
    ("storyreel_avg_render_time_seconds", "Render time per output video.", lambda f: f.avg_render_time, 1.0),
    ("storyreel_render_seconds_per_output_minute", "Render time per minute of output video.",
     lambda f: f.render_seconds_per_output_minute, 1.0),
    ("storyreel_task_throughput_per_hour", "Completed tasks per hour of farm up time.",
     lambda f: f.task_throughput, 1.0),
    ("storyreel_io_overhead_seconds", "Download + upload time per completed task.", lambda f: f.io_overhead, 1.0),
    ("storyreel_io_exposed_seconds", "The part of io_overhead not hidden by rendering.",
     lambda f: f.io_exposed, 1.0),
)


def _top_reasons(reasons: dict[str, int]) -> list[tuple[str, int]]:
    ranked = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    top, rest = ranked[:MAX_REASON_SERIES], ranked[MAX_REASON_SERIES:]
    return top + ([("(other)", sum(count for _, count in rest))] if rest else [])


def _counter(name: str, doc: str, labels: list[str] | None = None) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=labels or [])


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels or [])


def _spans(state: FarmState) -> tuple[tuple[str, Figures], ...]:
    return (("since_start", state.since_start), ("window", state.window))


class FarmCollector(Collector):
    """Reads the farm state at each scrape."""

    def __init__(self, source: StateSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        state = self.source()
        yield from _folders(state)
        yield from _totals(state.since_start)
        yield from _per_node(state.since_start)
        yield from _figures(state)
        yield from _nodes(state)
        yield from _disk(state)
        yield _waiting(state)


def _folders(state: FarmState) -> Iterator[Metric]:
    items = _gauge("storyreel_folder_items", "Items in each project folder.", ["folder"])
    for folder, count in state.queues.by_folder().items():
        items.add_metric([folder], count)
    yield items
    invalid = _gauge("storyreel_invalid_files", "Files in trash/invalid/ by rejection reason.", ["reason"])
    for reason, count in _top_reasons(state.invalid_reasons):
        invalid.add_metric([reason], count)
    yield invalid
    failed = _gauge("storyreel_failed_tasks", "Tasks in trash/failed/ by failure reason.", ["reason"])
    for reason, count in _top_reasons(state.failed_reasons):
        failed.add_metric([reason], count)
    yield failed


def _totals(since: Figures) -> Iterator[Metric]:
    for key, doc, figure in _TOTALS:
        metric = _counter(f"storyreel_{key}", doc)
        metric.add_metric([], figure(since))
        yield metric


def _per_node(since: Figures) -> Iterator[Metric]:
    for name, doc, figure in _PER_NODE:
        family = _counter(name, doc, ["node"])
        for node in since.nodes:
            family.add_metric([node.node], figure(node))
        yield family
    render = _counter("storyreel_render_seconds", "Time spent on finished renders, by node and encoder.",
                      ["node", "encoder"])
    video = _counter("storyreel_rendered_video_seconds", "Video rendered by node and encoder.", ["node", "encoder"])
    speed = _gauge("storyreel_render_speed_ratio", "Seconds of video per second of rendering (× realtime).",
                   ["node", "encoder"])
    for row in since.speeds:
        labels = [row.node, row.encoder]
        render.add_metric(labels, row.render_seconds)
        video.add_metric(labels, row.media_seconds)
        if row.speed is not None:
            speed.add_metric(labels, row.speed)
    yield from (render, video, speed)


def _figures(state: FarmState) -> Iterator[Metric]:
    for name, doc, figure, scale in _FIGURES:
        family = _gauge(name, doc + " span: since_start or window.", ["span"])
        for span, figures in _spans(state):
            value = figure(figures)
            if value is not None:
                family.add_metric([span], value * scale)
        yield family
    per_node = _gauge("storyreel_node_render_utilization_ratio", "Share of each node's time spent rendering.",
                      ["node", "span"])
    for span, figures in _spans(state):
        for node in figures.nodes:
            if node.render_utilization is not None:
                per_node.add_metric([node.node, span], node.render_utilization / 100)
    yield per_node


def _nodes(state: FarmState) -> Iterator[Metric]:
    up = _gauge("storyreel_node_up", "1 while the coordinator hears from the node.", ["node", "host", "encoder"])
    seen = _gauge("storyreel_node_last_seen_timestamp_seconds", "When the node was last heard from.", ["node"])
    progress = _gauge("storyreel_node_task_progress_ratio", "Progress of each task a node holds.",
                      ["node", "task_id", "stage"])
    eta = _gauge("storyreel_node_task_eta_seconds", "Estimated seconds left for each task.", ["node", "task_id"])
    for node in state.nodes:
        up.add_metric([node.node, node.host, node.encoder], 1 if node.live else 0)
        if node.last_seen is not None:
            seen.add_metric([node.node], node.last_seen)
        for task in node.tasks:
            if task.progress is not None:
                progress.add_metric([node.node, task.task_id, task.stage], task.progress)
            if task.eta is not None:
                eta.add_metric([node.node, task.task_id], task.eta)
    yield from (up, seen, progress, eta)


def _disk(state: FarmState) -> Iterator[Metric]:
    disk = state.disk
    for name, doc, value in (
        ("storyreel_disk_free_bytes", "Free space under the project root.", disk.free_bytes),
        ("storyreel_disk_floor_bytes", "Below this no task is planned or claimed.", disk.floor_bytes),
    ):
        family = _gauge(name, doc)
        family.add_metric([], value)
        yield family
    paused = _gauge("storyreel_disk_paused", "1 while planning and claiming are paused for lack of space.")
    paused.add_metric([], 1 if disk.paused else 0)
    yield paused


def _waiting(state: FarmState) -> Metric:
    """Chapters without a task by reason; every known reason is there, 0 when none waits for it."""
    counts = dict.fromkeys(waitlist.reasons(), 0)
    for chapter in state.waiting:
        counts[chapter.reason] = counts.get(chapter.reason, 0) + 1
    family = _gauge("storyreel_chapters_waiting", "Voice chapters the planner cannot plan yet, by reason.",
                    ["reason"])
    for reason, count in counts.items():
        family.add_metric([reason], count)
    return family


def exposition(source: StateSource) -> bytes:
    """The Prometheus text for one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FarmCollector(source))
    return generate_latest(registry)
