"""GET /metrics over real HTTP parses with prometheus-client's parser and carries the figures."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from webkit import StandInCoordinator, finished_farm, node_row, serve

from storyreel.project import Project
from storyreel.web import mount


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_parse_and_match_the_farm(project: Project):
    ids = finished_farm(project)
    app = FastAPI()
    mount(app, StandInCoordinator(project, [node_row(ids["processing"])]), bound_host="127.0.0.1")
    with serve(app) as base:
        response = httpx.get(f"{base}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert families["storyreel_tasks_completed"].type == "counter"
    assert all(name.startswith("storyreel_") for name in families)
    s = _samples(response.text)
    assert s[("storyreel_tasks_completed_total", ())] == 1
    assert s[("storyreel_tasks_failed_total", ())] == 1
    assert s[("storyreel_files_rejected_total", ())] == 1
    assert s[("storyreel_folder_items", (("folder", "tasks"),))] == 1
    assert s[("storyreel_folder_items", (("folder", "output"),))] == 1
    assert s[("storyreel_failed_tasks", (("reason", "ffmpeg exited with status 1"),))] == 1
    assert s[("storyreel_invalid_files", (("reason", "corrupt or truncated"),))] == 1
    assert s[("storyreel_render_seconds_total", (("encoder", "libx264"), ("node", "render-1")))] == pytest.approx(60)
    assert s[("storyreel_render_speed_ratio", (("encoder", "libx264"), ("node", "render-1")))] == pytest.approx(0.5)
    assert s[("storyreel_avg_render_time_seconds", (("span", "since_start"),))] == pytest.approx(60)
    assert s[("storyreel_io_overhead_seconds", (("span", "window"),))] == pytest.approx(15)
    assert 0 < s[("storyreel_render_utilization_ratio", (("span", "since_start"),))] <= 1
    assert s[("storyreel_node_up", (("encoder", "libx264"), ("host", "studio-pc"), ("node", "render-1")))] == 1
    progress = ("storyreel_node_task_progress_ratio",
                (("node", "render-1"), ("stage", "rendering"), ("task_id", ids["processing"])))
    assert s[progress] == pytest.approx(0.42)
    assert s[("storyreel_disk_free_bytes", ())] > 0
    assert s[("storyreel_disk_paused", ())] == 0


def test_metrics_need_the_token_when_not_on_loopback(project: Project):
    finished_farm(project)
    app = FastAPI()
    mount(app, StandInCoordinator(project), bound_host="0.0.0.0")
    with serve(app) as base:
        anonymous = httpx.get(f"{base}/metrics", timeout=10)
        wrong = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer nope"}, timeout=10)
        right = httpx.get(f"{base}/metrics", headers={"Authorization": f"Bearer {project.token}"}, timeout=10)
    assert anonymous.status_code == 401 and wrong.status_code == 401
    assert right.status_code == 200
    assert _samples(right.text)[("storyreel_tasks_completed_total", ())] == 1


def test_metrics_without_a_coordinator_show_nodes_from_the_log_as_down(project: Project):
    finished_farm(project)
    app = FastAPI()
    mount(app, None, project=project, bound_host="127.0.0.1")
    with serve(app) as base:
        text = httpx.get(f"{base}/metrics", timeout=10).text
    assert _samples(text)[("storyreel_node_up", (("encoder", "libx264"), ("host", "studio-pc"), ("node", "render-1")))] == 0
