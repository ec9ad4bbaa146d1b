"""`storyreel status` as a command: tables, `--json` and `--watch`, from the folders or from
a running coordinator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fastapi import FastAPI
from webkit import StandInCoordinator, finished_farm, node_row, serve, storyreel_process

from storyreel.project import Project
from storyreel.web import mount

# Nothing listens on the discard port, so `status` falls back to the folders at once.
NO_COORDINATOR = "http://127.0.0.1:9"


def _status(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "storyreel.cli", "status", str(root), *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
    )


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if "logs" not in p.parts}


def test_status_json_without_a_coordinator(project: Project):
    ids = finished_farm(project)
    before = _tree(project.layout.root)
    result = _status(project.layout.root, "--json", "--url", NO_COORDINATOR)
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout)
    assert state["coordinator"] is False
    assert state["queues"]["output"] == 1
    assert state["recent_completed"][0]["task_id"] == ids["done"]
    assert _tree(project.layout.root) == before  # a reader moves nothing


def test_status_table_shows_folders_nodes_metrics_and_failures(project: Project):
    finished_farm(project)
    result = _status(project.layout.root, "--url", NO_COORDINATOR)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for text in ("Folders", "trash/failed/", "render-1", "studio-pc", "busy", "render_utilization",
                 "task_throughput", "io_overhead", "ffmpeg exited with status 1", "corrupt or truncated",
                 "0.50×"):
        assert text in out, text


def test_status_asks_the_running_coordinator_for_live_nodes(project: Project):
    ids = finished_farm(project)
    app = FastAPI()
    mount(app, StandInCoordinator(project, [node_row(ids["processing"])]), bound_host="0.0.0.0")
    with serve(app) as base:
        table = _status(project.layout.root, "--url", base)
        as_json = _status(project.layout.root, "--json", "--url", base)
    assert table.returncode == 0, table.stderr
    assert "coordinator: running" in table.stdout
    assert "42%" in table.stdout and ids["processing"][:8] in table.stdout
    state = json.loads(as_json.stdout)
    assert state["coordinator"] is True
    assert state["nodes"][0]["live"] is True
    assert state["nodes"][0]["tasks"][0]["progress"] == 0.42


def test_status_on_a_folder_that_is_not_a_project(tmp_path: Path):
    result = _status(tmp_path / "nowhere")
    assert result.returncode == 2
    assert "storyreel init" in result.stderr


def test_status_watch_json_prints_one_document_per_refresh_until_ctrl_c(project: Project):
    import signal

    finished_farm(project)
    with storyreel_process("status", str(project.layout.root), "--watch", "--json", "--interval", "0.2",
                           "--url", NO_COORDINATOR, stdout=subprocess.PIPE) as proc:
        docs = [json.loads(proc.stdout.readline()) for _ in range(2)]
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert proc.returncode == 0, proc.stderr.read()
    assert [d["queues"]["output"] for d in docs] == [1, 1]
    assert docs[1]["now"] >= docs[0]["now"]
