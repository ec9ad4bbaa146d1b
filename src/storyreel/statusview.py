"""`storyreel status` printed: the farm state as rich tables, or as JSON for scripts; with
`--watch`, again every few seconds until Ctrl-C."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from storyreel.farmstate import FarmState, NodeTask
from storyreel.metrics import Figures
from storyreel.taskview import (
    ago,
    duration,
    failures_table,
    finished_table,
    tasks_table,
    waiting_table,
)

BAR_WIDTH = 12


def bar(fraction: float | None) -> str:
    if fraction is None:
        return ""
    filled = round(fraction * BAR_WIDTH)
    return "█" * filled + "░" * (BAR_WIDTH - filled) + f" {fraction * 100:3.0f}%"


def _num(value: float | None, fmt: str, unit: str = "") -> str:
    return "—" if value is None else f"{value:{fmt}}{unit}"


def folders_table(state: FarmState) -> Table:
    """One row: what waits in raw/, what is filed, queued, rendering, done or in the trash."""
    q = state.queues
    scanned = q.scanned()
    table = Table(title="Folders", title_justify="left",
                  caption=" ".join(f"scanned/{k}/ {n}" for k, n in scanned.items()), caption_justify="left")
    columns = {
        "raw/": q.raw, "scanned/": sum(scanned.values()), "tasks/": q.tasks, "processing/": q.processing,
        "output/": q.output, "trash/invalid/": q.trash_invalid, "trash/failed/": q.trash_failed,
    }
    for name in columns:
        table.add_column(name, justify="right")
    table.add_row(*(str(v) for v in columns.values()))
    return table


def span(seconds: float) -> str:
    """A window length as people say it: `1h`, `10m`, `90s`."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:.0f}{unit}"
    return duration(seconds)


def _utilization(state: FarmState, node: str) -> tuple[str, str]:
    """A node's render utilization over the window and since start."""
    shown = []
    for figures in (state.window, state.since_start):
        found = figures.node(node)
        shown.append(_num(found.render_utilization if found else None, ".0f", "%"))
    return shown[0], shown[1]


def nodes_table(state: FarmState) -> RenderableType:
    if not state.nodes:
        return Text("Nodes: none has registered yet", style="dim")
    table = Table(title="Nodes", title_justify="left")
    for col in ("node", "host", "encoder", "state", "last seen", "task", "progress", "ETA", "util win",
                "util all"):
        table.add_column(col, justify="right" if col.startswith("util") or col == "ETA" else "left",
                         no_wrap=col in ("progress", "last seen", "ETA"))
    for node in state.nodes:
        first: list[RenderableType] = [
            node.node, node.host, node.encoder, Text(node.state, style="green" if node.live else "dim"),
            ago(node.last_seen, state.now),
        ]
        util = _utilization(state, node.node)
        for task in node.tasks or [NodeTask(task_id="", stage="")]:
            label = state.name(task.task_id) + (f" ({task.stage})" if task.stage else "")
            table.add_row(*first, label, bar(task.progress), duration(task.eta), *util)
            first, util = [""] * len(first), ("", "")
    return table


# The rows of the metrics table: label, the figure, its format and unit.
_METRIC_ROWS: tuple[tuple[str, Callable[[Figures], float | None], str, str], ...] = (
    ("render_utilization", lambda f: f.render_utilization, ".1f", "%"),
    ("avg_render_time (per video)", lambda f: f.avg_render_time, ".1f", "s"),
    ("render time per output minute", lambda f: f.render_seconds_per_output_minute, ".1f", "s"),
    ("task_throughput", lambda f: f.task_throughput, ".2f", "/h"),
    ("io_overhead (per task)", lambda f: f.io_overhead, ".1f", "s"),
    ("  not hidden by overlap", lambda f: f.io_exposed, ".1f", "s"),
    ("tasks completed", lambda f: f.tasks_completed, "d", ""),
    ("tasks failed", lambda f: f.tasks_failed, "d", ""),
    ("tasks requeued", lambda f: f.tasks_requeued, "d", ""),
    ("files rejected", lambda f: f.files_rejected, "d", ""),
)


def metrics_table(state: FarmState) -> Table:
    table = Table(title="Metrics", title_justify="left")
    table.add_column("metric")
    table.add_column(f"last {span(state.metrics.window_seconds)}", justify="right")
    table.add_column("since start", justify="right")
    for label, figure, fmt, unit in _METRIC_ROWS:
        table.add_row(label, _num(figure(state.window), fmt, unit), _num(figure(state.since_start), fmt, unit))
    return table


def speeds_table(state: FarmState) -> Table:
    table = Table(title="Render speed (since start)", title_justify="left")
    for col in ("node", "encoder", "renders", "× realtime"):
        table.add_column(col, justify="left" if col in ("node", "encoder") else "right")
    for row in state.since_start.speeds:
        table.add_row(row.node, row.encoder or "?", str(row.renders), _num(row.speed, ".2f", "×"))
    return table


def reasons_table(title: str, reasons: dict[str, int]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("count", justify="right")
    table.add_column("reason")
    for reason, count in reasons.items():
        table.add_row(str(count), reason)
    return table


def caption_warnings(state: FarmState) -> Text:
    """The finished tasks whose captions skip much of their chapter's text, one a line."""
    text = Text("Captions to check", style="bold yellow")
    for done in state.recent_completed:
        if done.caption_warning:
            text.append(f"\n{done.task_id[:8]}  {done.caption_warning}", style="yellow")
    return text


def _header(state: FarmState) -> Text:
    disk = state.disk
    head = Text()
    head.append(f"storyreel farm at {state.root}", style="bold")
    head.append(f"  {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(state.now))}")
    head.append("  coordinator: " + ("running" if state.coordinator else "not reachable (nodes from the log)"),
                style=None if state.coordinator else "yellow")
    head.append(f"\ndisk: {disk.free_bytes / 1e9:.1f}GB free")
    if disk.paused:
        head.append(f"  below the {disk.floor_bytes / 1e9:.1f}GB floor: planning and claiming paused",
                    style="bold red")
    elif disk.low:
        head.append("  low", style="yellow")
    return head


def render(state: FarmState) -> RenderableType:
    parts: list[RenderableType] = [_header(state), folders_table(state), nodes_table(state)]
    if state.waiting:
        parts.append(waiting_table(state.waiting))
    if state.tasks:
        parts.append(tasks_table(state.tasks, state.now, title="Queued and rendering"))
    if state.recent_completed:
        parts.append(finished_table(state))
    parts.append(metrics_table(state))
    if state.since_start.speeds:
        parts.append(speeds_table(state))
    if state.recent_failures:
        parts.append(failures_table(state))
    if any(done.caption_warning for done in state.recent_completed):
        parts.append(caption_warnings(state))
    if state.failed_reasons:
        parts.append(reasons_table("Failed tasks (trash/failed/)", state.failed_reasons))
    if state.invalid_reasons:
        parts.append(reasons_table("Rejected files (trash/invalid/)", state.invalid_reasons))
    return Group(*parts)


def dump_json(state: FarmState, indent: int | None = None) -> str:
    """The state as the JSON document `status --json` prints and the dashboard polls."""
    return json.dumps(state.model_dump(mode="json"), indent=indent, ensure_ascii=False)


def show(read: Callable[[], FarmState], *, as_json: bool = False, watch: bool = False,
         interval: float = 2.0) -> None:
    """Print the state `read` returns: tables, or JSON; with `watch`, redrawn (tables) or one
    JSON document per line (JSON lines) every `interval` seconds until Ctrl-C."""
    console = Console()
    try:
        if as_json:
            print(dump_json(read(), indent=None if watch else 2), flush=True)
            while watch:
                time.sleep(interval)
                print(dump_json(read()), flush=True)
        elif not watch:
            console.print(render(read()))
        elif not console.is_terminal:
            # Into a pipe or file a redrawn screen is a heap of escape codes: one whole
            # picture per interval instead, each after a blank line.
            while True:
                console.print(render(read()))
                console.print()
                console.file.flush()
                time.sleep(interval)
        else:
            with Live(render(read()), console=console, auto_refresh=False) as live:
                while True:
                    time.sleep(interval)
                    live.update(render(read()), refresh=True)
    except KeyboardInterrupt:
        pass  # Ctrl-C ends --watch; the last picture stays on screen
