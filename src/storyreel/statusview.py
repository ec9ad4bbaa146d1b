"""`storyreel status` as rich tables, drawn from the farm-state document."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

BAR_WIDTH = 12


def ago(ts: float | None, now: float) -> str:
    """`4s ago`, `3m ago`, `2h ago`."""
    if ts is None:
        return "—"
    delta = max(0.0, now - ts)
    if delta < 60:
        return f"{delta:.0f}s ago"
    if delta < 3600:
        return f"{delta / 60:.0f}m ago"
    if delta < 86400:
        return f"{delta / 3600:.1f}h ago"
    return f"{delta / 86400:.1f}d ago"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds // 3600:.0f}h{(seconds % 3600) // 60:02.0f}m"


def bar(fraction: float | None) -> str:
    if fraction is None:
        return ""
    filled = round(fraction * BAR_WIDTH)
    return "█" * filled + "░" * (BAR_WIDTH - filled) + f" {fraction * 100:3.0f}%"


def _num(value: float | None, fmt: str, unit: str = "") -> str:
    return "—" if value is None else f"{value:{fmt}}{unit}"


def folders_table(state: dict[str, Any]) -> Table:
    """One row: what waits in raw/, what is filed, queued, rendering, done or in the trash."""
    q = state["queues"]
    kinds = [key for key in q if key.startswith("scanned/")]
    table = Table(title="Folders", title_justify="left",
                  caption=" ".join(f"{k}/ {q[k]}" for k in kinds), caption_justify="left")
    columns = {
        "raw/": q["raw"], "scanned/": sum(q[k] for k in kinds), "tasks/": q["tasks"],
        "processing/": q["processing"], "output/": q["output"], "trash/invalid/": q["trash/invalid"],
        "trash/failed/": q["trash/failed"],
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


def nodes_table(state: dict[str, Any]) -> RenderableType:
    if not state["nodes"]:
        return Text("Nodes: none has registered yet", style="dim")
    now = state["now"]
    util = {n["node"]: n for n in state["metrics"]["window"]["nodes"]}
    util_all = {n["node"]: n for n in state["metrics"]["since_start"]["nodes"]}
    table = Table(title="Nodes", title_justify="left")
    for col in ("node", "host", "encoder", "state", "last seen", "task", "progress", "ETA", "util win",
                "util all"):
        table.add_column(col, justify="right" if col.startswith("util") or col == "ETA" else "left",
                         no_wrap=col in ("progress", "last seen", "ETA"))
    for node in state["nodes"]:
        tasks = node["tasks"] or [{"task_id": "", "stage": "", "progress": None, "eta": None}]
        for i, task in enumerate(tasks):
            label = task["task_id"][:8] + (f" ({task['stage']})" if task["stage"] else "")
            first = i == 0
            table.add_row(
                node["node"] if first else "", node["host"] if first else "", node["encoder"] if first else "",
                Text(node["state"], style="green" if node["live"] else "dim") if first else "",
                ago(node["last_seen"], now) if first else "", label, bar(task["progress"]),
                duration(task["eta"]),
                _num((util.get(node["node"]) or {}).get("render_utilization"), ".0f", "%") if first else "",
                _num((util_all.get(node["node"]) or {}).get("render_utilization"), ".0f", "%") if first else "",
            )
    return table


def metrics_table(state: dict[str, Any]) -> Table:
    m = state["metrics"]
    win, all_ = m["window"], m["since_start"]
    table = Table(title="Metrics (SPEC §10)", title_justify="left")
    table.add_column("metric")
    table.add_column(f"last {span(m['window_seconds'])}", justify="right")
    table.add_column("since start", justify="right")
    rows = [
        ("render_utilization", "render_utilization", ".1f", "%"),
        ("avg_render_time (per video)", "avg_render_time", ".1f", "s"),
        ("render time per output minute", "render_seconds_per_output_minute", ".1f", "s"),
        ("task_throughput", "task_throughput", ".2f", "/h"),
        ("io_overhead (per task)", "io_overhead", ".1f", "s"),
        ("  not hidden by overlap", "io_exposed", ".1f", "s"),
        ("tasks completed", "tasks_completed", "d", ""),
        ("tasks failed", "tasks_failed", "d", ""),
        ("tasks requeued", "tasks_requeued", "d", ""),
        ("files rejected", "files_rejected", "d", ""),
    ]
    for label, key, fmt, unit in rows:
        table.add_row(label, _num(win[key], fmt, unit), _num(all_[key], fmt, unit))
    return table


def speeds_table(state: dict[str, Any]) -> Table:
    table = Table(title="Render speed (since start)", title_justify="left")
    for col in ("node", "encoder", "renders", "× realtime"):
        table.add_column(col, justify="left" if col in ("node", "encoder") else "right")
    for row in state["metrics"]["since_start"]["speeds"]:
        table.add_row(row["node"], row["encoder"] or "?", str(row["renders"]), _num(row["speed"], ".2f", "×"))
    return table


def reasons_table(title: str, reasons: dict[str, int]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("count", justify="right")
    table.add_column("reason")
    for reason, count in reasons.items():
        table.add_row(str(count), reason)
    return table


def render(state: dict[str, Any]) -> RenderableType:
    disk = state["disk"]
    head = Text()
    head.append(f"storyreel farm at {state['root']}", style="bold")
    head.append(f"  {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(state['now']))}")
    head.append("  coordinator: " + ("running" if state["coordinator"] else "not reachable (nodes from the log)"),
                style=None if state["coordinator"] else "yellow")
    head.append(f"\ndisk: {disk['free_bytes'] / 1e9:.1f}GB free")
    if disk["paused"]:
        head.append(f"  below the {disk['floor_bytes'] / 1e9:.1f}GB floor: planning and claiming paused",
                    style="bold red")
    elif disk["low"]:
        head.append("  low", style="yellow")
    parts: list[RenderableType] = [head, folders_table(state), nodes_table(state), metrics_table(state)]
    if state["metrics"]["since_start"]["speeds"]:
        parts.append(speeds_table(state))
    if state["failed_reasons"]:
        parts.append(reasons_table("Failed tasks (trash/failed/)", state["failed_reasons"]))
    if state["invalid_reasons"]:
        parts.append(reasons_table("Rejected files (trash/invalid/)", state["invalid_reasons"]))
    return Group(*parts)
