"""The farm at a glance: one JSON-able document (folders, nodes, metrics, failures,
log tail) and its rendering as rich tables for `storyreel status`.

The document is the same one the dashboard polls, so the terminal and the browser
always agree.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from storyreel import diskspace, metrics, queues
from storyreel.errors import ConfigError
from storyreel.layout import TaskState
from storyreel.logs import read_events
from storyreel.netaddr import Listen
from storyreel.project import Project

# Recent lists stay short enough for a phone screen.
RECENT_FAILURES = 10
RECENT_COMPLETED = 10
LOG_LINES = 30


class EventCache:
    """The event log kept in memory; each read parses only the lines appended since."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._offset = 0
        self._inode: tuple[int, int] | None = None

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                self._events, self._offset, self._inode = [], 0, None
                return []
            inode = (st.st_dev, st.st_ino)
            if inode != self._inode or st.st_size < self._offset:
                self._events, self._offset, self._inode = [], 0, inode  # replaced or truncated
            if st.st_size > self._offset:
                with open(self.path, "rb") as fh:
                    fh.seek(self._offset)
                    data = fh.read(st.st_size - self._offset)
                complete = data.rfind(b"\n") + 1  # a line still being written waits
                self._offset += complete
                self._events.extend(_parse(data[:complete]))
            return list(self._events)


def _parse(data: bytes) -> Iterable[dict[str, Any]]:
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "event" in record:
            yield record


def normalise_node(raw: dict[str, Any]) -> dict[str, Any]:
    """One row of `Coordinator.nodes_snapshot()` (node, host, encoders, last_seen, state,
    current_tasks with stage, progress in % and eta_seconds) as status and the dashboard show it."""
    tasks = raw.get("current_tasks")
    rows = [
        {
            "task_id": str(item.get("task_id") or ""),
            "stage": str(item.get("stage") or ""),
            "progress": _progress(item.get("progress")),
            "eta": item.get("eta_seconds") if isinstance(item.get("eta_seconds"), int | float) else None,
        }
        for item in (tasks if isinstance(tasks, list) else [])
        if isinstance(item, dict)
    ]
    encoders = [str(e) for e in raw.get("encoders") or []]
    state = str(raw.get("state") or ("busy" if rows else "idle"))
    return {
        "node": str(raw.get("node") or "?"),
        "host": str(raw.get("host") or ""),
        "encoder": encoders[0] if encoders else "",
        "encoders": encoders,
        "state": state,
        "last_seen": metrics.to_epoch(raw.get("last_seen")),
        "tasks": rows,
        "live": state != "lost",
    }


def _progress(value: Any) -> float | None:
    """The coordinator's progress percentage (0–100) as a fraction 0–1."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(1.0, number / 100))


def _running(rows: list[dict[str, Any]], now: float) -> list[tuple[str, str, float]]:
    """Renders going on now, with their start estimated from progress and ETA: at a steady
    speed, time spent = ETA × done / left."""
    found = []
    for row in rows:
        for task in row["tasks"] if row["live"] else []:
            done, eta = task["progress"], task["eta"]
            if not task["stage"].startswith("render") or done is None or not isinstance(eta, int | float):
                continue
            if 0 < done < 1 and eta >= 0:
                found.append((row["node"], task["task_id"], now - eta * done / (1 - done)))
    return found


def _nodes_from_history(h: metrics.History, processing: set[str]) -> list[dict[str, Any]]:
    """Nodes as the event log remembers them, when the coordinator does not list them. A
    node is "busy" while a task it claimed is still in processing/ (the in-process renderer
    of `storyreel run` reports no progress, only its claims)."""
    rows = []
    for info in sorted(h.nodes.values(), key=lambda i: i.node):
        held = sorted((t for t in info.holding if t in processing), key=lambda t: info.holding[t])
        rows.append({
            "node": info.node, "host": info.host, "encoder": info.encoders[0] if info.encoders else "",
            "encoders": info.encoders, "state": "busy" if held else ("lost" if info.lost else "offline"),
            "last_seen": info.last_activity, "live": False,
            "tasks": [{"task_id": t, "stage": "claimed", "progress": None, "eta": None} for t in held],
        })
    return rows


def farm_state(
    project: Project,
    nodes: list[dict[str, Any]] | None = None,
    *,
    events: list[dict[str, Any]] | None = None,
    now: float | None = None,
    window: float = metrics.DEFAULT_WINDOW_SECONDS,
) -> dict[str, Any]:
    """Everything `storyreel status` and the dashboard show, as one JSON-able dict.

    `nodes` is the coordinator's live snapshot; None when no coordinator is
    reachable, in which case nodes come from the event log as offline.
    """
    now = time.time() if now is None else now
    layout = project.layout
    if events is None:
        events = list(read_events(layout.events_file))
    live_rows = [normalise_node(n) for n in nodes] if nodes is not None else None
    live_ids = {row["node"] for row in live_rows if row["live"]} if live_rows is not None else set()
    h = metrics.history(events, now, live_ids, _running(live_rows or [], now))
    figures = metrics.Metrics(
        now, window, metrics.figures(h), metrics.figures(h, now - window, now), metrics.timeline(h)
    )
    node_rows = live_rows if live_rows is not None else []
    known = {row["node"] for row in node_rows}
    processing = set(layout.task_ids(TaskState.PROCESSING))
    node_rows += [row for row in _nodes_from_history(h, processing) if row["node"] not in known]
    last_encoder = {s.node: s.encoder for s in sorted(h.stages, key=lambda s: s.ended) if s.encoder}
    for row in node_rows:
        info = h.nodes.get(row["node"])
        if info and not row["host"]:
            row["host"] = info.host
        row["encoder"] = last_encoder.get(row["node"], row["encoder"])  # the one it renders with
    disk = diskspace.measure(project)
    failed = queues.failures(layout)
    return {
        "root": str(layout.root),
        "now": now,
        "coordinator": nodes is not None,
        "disk": {
            "free_bytes": disk.free_bytes, "low_bytes": disk.low_bytes, "floor_bytes": disk.floor_bytes,
            "low": disk.low, "paused": disk.paused,
        },
        "queues": queues.queue_lengths(layout),
        "invalid_reasons": queues.invalid_reasons(layout),
        "failed_reasons": queues.failed_reasons(failed),
        "recent_failures": [f.as_dict() for f in failed[:RECENT_FAILURES]],
        "recent_completed": [
            {"task_id": o.task_id, "node": o.node, "when": o.ts, "media_seconds": o.media_seconds}
            for o in sorted(h.completed, key=lambda o: o.ts, reverse=True)[:RECENT_COMPLETED]
        ],
        "nodes": node_rows,
        "metrics": figures.as_dict(),
        "log_tail": queues.log_tail(layout, LOG_LINES),
    }


# -- asking a running coordinator ---------------------------------------------
# The coordinator answers on loopback at once; a short wait keeps `status` snappy
# when none is running.
FETCH_TIMEOUT = 2.0
STATE_PATH = "/dashboard/api/state"


def coordinator_url(project: Project) -> str:
    """Where this project's coordinator listens, as a URL a local client can reach: the URL
    a running main worker recorded, else the [coordinator] listen setting."""
    try:
        recorded = json.loads(project.layout.coordinator_file.read_text(encoding="utf-8"))
        if isinstance(recorded, dict) and isinstance(recorded.get("url"), str):
            return recorded["url"]
    except (OSError, ValueError):
        pass  # no main worker running, or it is starting: fall back to the setting
    return Listen.parse(project.settings.coordinator.listen).url


def fetch_state(url: str, token: str, window: float) -> dict[str, Any] | None:
    """The farm state from a running coordinator, or None when none answers."""
    import httpx

    try:
        response = httpx.get(
            url.rstrip("/") + STATE_PATH, params={"window": window},
            headers={"Authorization": f"Bearer {token}"}, timeout=FETCH_TIMEOUT,
        )
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        data = response.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) and "queues" in data else None


def current_state(project: Project, url: str | None, window: float) -> dict[str, Any]:
    """From the coordinator when it runs (live nodes and progress), else from the folders."""
    try:
        token = project.token
    except ConfigError:
        token = ""  # a project without a token still shows what its folders hold
    state = fetch_state(url or coordinator_url(project), token, window)
    return state if state is not None else farm_state(project, None, window=window)


def print_status(
    project: Project, *, as_json: bool = False, watch: bool = False, interval: float = 2.0,
    window: float = metrics.DEFAULT_WINDOW_SECONDS, url: str | None = None,
) -> None:
    """`storyreel status`: tables, or JSON; with `watch`, redrawn (tables) or one JSON
    document per line (JSON lines) every `interval` seconds until Ctrl-C."""
    from rich.console import Console
    from rich.live import Live

    from storyreel.statusview import render

    def state() -> dict[str, Any]:
        return current_state(project, url, window)

    console = Console()
    try:
        if as_json:
            print(json.dumps(state(), indent=None if watch else 2, ensure_ascii=False), flush=True)
            while watch:
                time.sleep(interval)
                print(json.dumps(state(), ensure_ascii=False), flush=True)
        elif not watch:
            console.print(render(state()))
        else:
            with Live(render(state()), console=console, auto_refresh=False) as live:
                while True:
                    time.sleep(interval)
                    live.update(render(state()), refresh=True)
    except KeyboardInterrupt:
        pass  # Ctrl-C ends --watch; the last picture stays on screen
