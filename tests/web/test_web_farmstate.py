"""The farm state: one typed document built from real folders and a real event log, the
coordinator's node rows read at one boundary, and the same JSON for `status --json` and
the dashboard."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from fastapi import FastAPI
from webkit import StandInCoordinator, finished_farm, node_row, serve

from storyreel.farmstate import FarmState, NodeRow, NodeState, build_state
from storyreel.farmstate.model import FolderCounts
from storyreel.project import Project
from storyreel.status import fetch_state
from storyreel.web import mount


def test_state_counts_folders_and_reads_reasons(project: Project):
    ids = finished_farm(project)
    state = build_state(project).model_dump()
    assert state["queues"] == {
        "raw": 1, "scanned/story": 0, "scanned/video": 0, "scanned/frame": 0, "scanned/music": 0,
        "tasks": 1, "processing": 1, "output": 1, "trash/invalid": 1, "trash/failed": 1,
    }
    assert state["invalid_reasons"] == {"corrupt or truncated": 1}
    assert state["failed_reasons"] == {"ffmpeg exited with status 1": 1}
    failure = state["recent_failures"][0]
    assert failure["task_id"] == ids["failed"]
    assert failure["stderr_tail"][-1] == "Conversion failed!"
    assert [c["task_id"] for c in state["recent_completed"]] == [ids["done"]]
    node = state["nodes"][0]
    assert (node["node"], node["host"], node["encoder"], node["live"]) == ("render-1", "studio-pc", "libx264", False)
    assert node["state"] == "busy" and [t["task_id"] for t in node["tasks"]] == [ids["processing"]]
    assert state["metrics"]["since_start"]["tasks_completed"] == 1
    assert state["metrics"]["since_start"]["avg_render_time"] == 60.0
    json.dumps(state)  # the document is plain JSON



def test_log_tail_keeps_operator_lines_and_drops_debug(project: Project):
    from storyreel.logs import MAIN_WORKER, get_logger

    log = get_logger(MAIN_WORKER)
    log.info("Moved file %s → %s", "raw/video/a/x.mp4", "scanned/video/a/mp4_w160_h90/2.0_x.mp4")
    log.debug("run ffprobe with a very long argv")
    log.warning("Low disk space: %.1fGB remaining", 2.3)
    tail = build_state(project).model_dump()["log_tail"]
    assert len(tail) == 2
    assert tail[0].endswith('INFO main_worker "Moved file raw/video/a/x.mp4 → scanned/video/a/mp4_w160_h90/2.0_x.mp4"')
    assert tail[1].endswith('WARN main_worker "Low disk space: 2.3GB remaining"')




def test_folder_counts_are_typed_and_dumped_under_the_folder_names(project: Project):
    finished_farm(project)
    queues = build_state(project).queues
    assert (queues.raw, queues.tasks, queues.trash_failed, queues.trash_invalid) == (1, 1, 1, 1)
    assert queues.scanned() == {"story": 0, "video": 0, "frame": 0, "music": 0}
    assert list(queues.by_folder())[:2] == ["raw", "scanned/story"]
    with pytest.raises(ValueError, match="scanned/voice"):
        FolderCounts.model_validate({**queues.by_folder(), "scanned/voice": 3})  # a folder it does not know


def test_a_coordinator_row_becomes_a_node_row_at_one_boundary():
    raw = node_row("t-1", percent=42.0)
    row = NodeRow.from_snapshot(raw)
    assert (row.node, row.host, row.encoder, row.encoders) == ("render-1", "studio-pc", "libx264", ["libx264"])
    assert row.state is NodeState.BUSY and row.live is True
    assert row.last_seen == raw["last_seen"]
    (task,) = row.tasks
    assert (task.task_id, task.stage, task.progress, task.eta) == ("t-1", "rendering", 0.42, 12.5)


def test_a_lost_or_odd_coordinator_row_is_read_without_guessing():
    lost = NodeRow.from_snapshot({"node": "n9", "state": "lost", "last_seen": "2026-01-01T00:00:00Z",
                                  "current_tasks": "not a list", "encoders": None})
    assert lost.state is NodeState.LOST and lost.live is False
    assert lost.last_seen == 1767225600.0 and lost.tasks == [] and lost.encoder == ""
    odd = NodeRow.from_snapshot({"current_tasks": [{"task_id": "t", "progress": "much", "eta_seconds": True},
                                                   {"task_id": "u", "progress": 250}, "junk"]})
    assert odd.node == "?" and odd.state is NodeState.BUSY
    assert [(t.task_id, t.progress, t.eta) for t in odd.tasks] == [("t", None, None), ("u", 1.0, None)]
    assert NodeRow.from_snapshot({"node": "idle-one"}).state is NodeState.IDLE


def test_a_live_render_counts_up_to_now_from_its_progress_and_eta(project: Project):
    """render-1 is 42 % through with 12.5 s left: it started 12.5 × 0.42 / 0.58 s ago."""
    ids = finished_farm(project)
    now = time.time()
    row = NodeRow.from_snapshot(node_row(ids["processing"], percent=42.0))
    (render,) = row.renders_started(now)
    assert render[:2] == ("render-1", ids["processing"])
    assert now - render[2] == pytest.approx(12.5 * 0.42 / 0.58)
    with_live = build_state(project, [row], now=now)
    from_log = build_state(project, None, now=now)
    assert with_live.since_start.render_seconds > from_log.since_start.render_seconds
    assert [n.live for n in with_live.nodes] == [True] and [n.live for n in from_log.nodes] == [False]


def test_the_document_reads_back_into_the_same_model(project: Project):
    ids = finished_farm(project)
    state = build_state(project, [NodeRow.from_snapshot(node_row(ids["processing"]))])
    again = FarmState.model_validate_json(state.model_dump_json())
    assert again == state
    assert again.model_dump() == state.model_dump()


def test_status_json_and_the_dashboard_json_have_one_shape(project: Project):
    """`status --json` without a coordinator and the dashboard's state carry the same keys
    at every level, and both are what FarmState.model_dump() makes."""
    ids = finished_farm(project)
    app = FastAPI()
    mount(app, StandInCoordinator(project, [node_row(ids["processing"])]), bound_host="127.0.0.1")
    with serve(app) as base:
        served = httpx.get(f"{base}/dashboard/api/state", timeout=10).json()
        fetched = fetch_state(base, "", 3600.0)
    built = json.loads(json.dumps(build_state(project).model_dump()))
    assert _shape(served) == _shape(built)
    assert fetched is not None and fetched.coordinator is True
    assert fetched.nodes[0].tasks[0].progress == 0.42


def test_a_server_that_is_not_a_coordinator_is_not_read_as_one():
    app = FastAPI()
    app.add_api_route("/dashboard/api/state", lambda: {"queues": {}, "hello": "world"})
    with serve(app) as base:
        assert fetch_state(base, "", 3600.0) is None


def _shape(doc: object) -> object:
    """The keys of a JSON document at every level; lists by their first item."""
    if isinstance(doc, dict):
        return {key: _shape(value) for key, value in doc.items()}
    if isinstance(doc, list):
        return [_shape(doc[0])] if doc else []
    return None
