"""GET /metrics: the farm state in Prometheus text format.

Counters (`_total`) come from the event log since it began, so they only grow and
survive restarts; `rate()` over them gives any window. Gauges carry the figures
as `storyreel status` shows them, for dashboards that want them ready-made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

StateSource = Callable[[], dict[str, Any]]

# Reasons often name a file; beyond this many distinct ones the rest are summed as
# "(other)" so a burst of odd files cannot flood Prometheus with series.
MAX_REASON_SERIES = 20


def _top_reasons(reasons: dict[str, int]) -> list[tuple[str, int]]:
    ranked = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    top, rest = ranked[:MAX_REASON_SERIES], ranked[MAX_REASON_SERIES:]
    return top + ([("(other)", sum(count for _, count in rest))] if rest else [])


def _counter(name: str, doc: str, labels: list[str] | None = None) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=labels or [])


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels or [])


class FarmCollector(Collector):
    """Reads the farm state at each scrape."""

    def __init__(self, source: StateSource) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        state = self.source()
        since, window = state["metrics"]["since_start"], state["metrics"]["window"]
        yield from self._folders(state)
        yield from self._totals(since)
        yield from self._per_node(since)
        yield from self._figures(since, window)
        yield from self._nodes(state)
        yield from self._disk(state)

    @staticmethod
    def _folders(state: dict[str, Any]) -> Iterator[Metric]:
        items = _gauge("storyreel_folder_items", "Items in each project folder (SPEC §2).", ["folder"])
        for folder, count in state["queues"].items():
            items.add_metric([folder], count)
        yield items
        invalid = _gauge("storyreel_invalid_files", "Files in trash/invalid/ by rejection reason.", ["reason"])
        for reason, count in _top_reasons(state["invalid_reasons"]):
            invalid.add_metric([reason], count)
        yield invalid
        failed = _gauge("storyreel_failed_tasks", "Tasks in trash/failed/ by failure reason.", ["reason"])
        for reason, count in _top_reasons(state["failed_reasons"]):
            failed.add_metric([reason], count)
        yield failed

    @staticmethod
    def _totals(since: dict[str, Any]) -> Iterator[Metric]:
        for key, doc in (
            ("tasks_created", "Render tasks planned."),
            ("tasks_completed", "Tasks whose final.mp4 reached output/."),
            ("tasks_failed", "Tasks moved to trash/failed/."),
            ("tasks_requeued", "Tasks returned to tasks/ after a lost lease."),
            ("files_rejected", "Raw files moved to trash/invalid/."),
        ):
            metric = _counter(f"storyreel_{key}", doc)
            metric.add_metric([], since[key])
            yield metric
        media = _counter("storyreel_output_video_seconds", "Seconds of finished video made.")
        media.add_metric([], since["output_media_seconds"])
        yield media

    @staticmethod
    def _per_node(since: dict[str, Any]) -> Iterator[Metric]:
        families = {
            "wall_seconds": _counter("storyreel_node_up_seconds", "Wall time each node was up.", ["node"]),
            "download_seconds": _counter("storyreel_node_download_seconds", "Time spent downloading tasks.", ["node"]),
            "upload_seconds": _counter("storyreel_node_upload_seconds", "Time spent uploading results.", ["node"]),
            "exposed_io_seconds": _counter(
                "storyreel_node_io_exposed_seconds", "Download/upload time not hidden behind a render.", ["node"]
            ),
            "tasks_completed": _counter("storyreel_node_tasks_completed", "Tasks each node completed.", ["node"]),
        }
        for node in since["nodes"]:
            for key, family in families.items():
                family.add_metric([node["node"]], node[key])
        yield from families.values()
        render = _counter("storyreel_render_seconds", "Time spent on finished renders, by node and encoder.",
                          ["node", "encoder"])
        video = _counter("storyreel_rendered_video_seconds", "Video rendered by node and encoder.", ["node", "encoder"])
        speed = _gauge("storyreel_render_speed_ratio", "Seconds of video per second of rendering (× realtime).",
                       ["node", "encoder"])
        for row in since["speeds"]:
            labels = [row["node"], row["encoder"]]
            render.add_metric(labels, row["render_seconds"])
            video.add_metric(labels, row["media_seconds"])
            if row["speed"] is not None:
                speed.add_metric(labels, row["speed"])
        yield from (render, video, speed)

    @staticmethod
    def _figures(since: dict[str, Any], window: dict[str, Any]) -> Iterator[Metric]:
        specs = (
            ("render_utilization", "storyreel_render_utilization_ratio", "Share of node time spent rendering.", 0.01),
            ("avg_render_time", "storyreel_avg_render_time_seconds", "Render time per output video.", 1.0),
            ("render_seconds_per_output_minute", "storyreel_render_seconds_per_output_minute",
             "Render time per minute of output video.", 1.0),
            ("task_throughput", "storyreel_task_throughput_per_hour", "Completed tasks per hour of farm up time.", 1.0),
            ("io_overhead", "storyreel_io_overhead_seconds", "Download + upload time per completed task.", 1.0),
            ("io_exposed", "storyreel_io_exposed_seconds", "The part of io_overhead not hidden by rendering.", 1.0),
        )
        for key, name, doc, scale in specs:
            family = _gauge(name, doc + " span: since_start or window.", ["span"])
            for span, figures in (("since_start", since), ("window", window)):
                if figures[key] is not None:
                    family.add_metric([span], figures[key] * scale)
            yield family
        per_node = _gauge("storyreel_node_render_utilization_ratio", "Share of each node's time spent rendering.",
                          ["node", "span"])
        for span, figures in (("since_start", since), ("window", window)):
            for node in figures["nodes"]:
                if node["render_utilization"] is not None:
                    per_node.add_metric([node["node"], span], node["render_utilization"] / 100)
        yield per_node

    @staticmethod
    def _nodes(state: dict[str, Any]) -> Iterator[Metric]:
        up = _gauge("storyreel_node_up", "1 while the coordinator hears from the node.", ["node", "host", "encoder"])
        seen = _gauge("storyreel_node_last_seen_timestamp_seconds", "When the node was last heard from.", ["node"])
        progress = _gauge("storyreel_node_task_progress_ratio", "Progress of each task a node holds.",
                          ["node", "task_id", "stage"])
        eta = _gauge("storyreel_node_task_eta_seconds", "Estimated seconds left for each task.", ["node", "task_id"])
        for node in state["nodes"]:
            up.add_metric([node["node"], node["host"], node["encoder"]], 1 if node["live"] else 0)
            if node["last_seen"] is not None:
                seen.add_metric([node["node"]], node["last_seen"])
            for task in node["tasks"]:
                if task["progress"] is not None:
                    progress.add_metric([node["node"], task["task_id"], task["stage"]], task["progress"])
                if isinstance(task["eta"], int | float):
                    eta.add_metric([node["node"], task["task_id"]], task["eta"])
        yield from (up, seen, progress, eta)

    @staticmethod
    def _disk(state: dict[str, Any]) -> Iterator[Metric]:
        disk = state["disk"]
        for key, name, doc in (
            ("free_bytes", "storyreel_disk_free_bytes", "Free space under the project root."),
            ("floor_bytes", "storyreel_disk_floor_bytes", "Below this no task is planned or claimed."),
        ):
            family = _gauge(name, doc)
            family.add_metric([], disk[key])
            yield family
        paused = _gauge("storyreel_disk_paused", "1 while planning and claiming are paused for lack of space.")
        paused.add_metric([], 1 if disk["paused"] else 0)
        yield paused


def exposition(source: StateSource) -> bytes:
    """The Prometheus text for one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FarmCollector(source))
    return generate_latest(registry)
