"""End to end: the real main worker and a real render node process, then the dashboard,
/metrics and `storyreel status` served by that main worker, with a second node (driven
by the test through the coordinator's API) reporting render progress."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from farm.farmkit import Farm, farm_project, wait_for
from prometheus_client.parser import text_string_to_metric_families

from storyreel.layout import TaskState

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
API = "/api/v1"


def _cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "storyreel.cli", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "200"})


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed")
def test_after_a_real_farm_run_the_dashboard_shows_nodes_and_the_finished_task(tmp_path: Path, media):
    from playwright.sync_api import sync_playwright

    # Long leases and heartbeat periods: node n2 below speaks only when the test says so,
    # and must stay "up" however slow the machine is.
    project = farm_project(tmp_path / "root", media, tasks=1, lease=600.0, heartbeat=120.0)
    layout = project.layout
    # The second chapter below is put in scanned/ by hand: the planner finds it at its next
    # listing of scanned/story/, here every second.
    layout.config_file.write_text(layout.config_file.read_text().replace("seed = 7\n", "seed = 7\nrescan_seconds = 1.0\n"))
    assert "rescan_seconds = 1.0" in layout.config_file.read_text()
    ARTIFACTS.mkdir(exist_ok=True)
    farm = Farm(project, tmp_path)
    farm.start_main()
    try:
        url, auth = farm.url, {"Authorization": f"Bearer {farm.token}"}
        node = farm.start_node("n1")
        wait_for("the render node to finish the task", lambda: farm.events("completed") and farm.drained(),
                 procs=[farm.main, node])
        node.send_signal(signal.SIGTERM)  # n1 stops; it stays on the dashboard
        node.wait(60)
        (done,) = layout.task_ids(TaskState.DONE)

        media.copy(media.tone(seconds=3.0, frequency=220), layout.scanned_voice("tales", "story2", "chapter_0001.mp3"))
        wait_for("the main worker to plan the second task", lambda: farm.ids(TaskState.QUEUED), procs=[farm.main])
        with httpx.Client(base_url=url + API, headers=auth, timeout=20) as api:
            assert api.post("/nodes/register", json={"node": "n2", "host": "gpu-box", "encoders": ["libx264"],
                                                     "version": "test"}).status_code == 200
            task = api.post("/claim", json={"node": "n2"}).json()["task"]
            held = {"node": "n2", "attempt": task["attempt"]}

            def beat(percent: float) -> None:
                progress = {"stage": "rendering", "percent": percent, "eta_seconds": 3.0, "speed": 1.0}
                r = api.post(f"/tasks/{task['task_id']}/heartbeat", json={**held, "progress": progress})
                assert r.status_code == 200, r.text

            beat(50.0)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(f"{url}/dashboard")  # bound to loopback: no login
                page.wait_for_selector("body[data-ready='1']", timeout=30_000)
                nodes = page.inner_text("#nodes")
                assert "n1" in nodes and "n2" in nodes and "gpu-box" in nodes
                assert page.get_attribute("#nodes [role=progressbar]", "aria-valuenow") == "50"
                finished = page.inner_text("#completed")
                assert "tales/story1 chapter 1" in finished and done[:8] in finished
                assert "n1" in page.inner_text("#speeds")
                assert "output/ finished" in page.inner_text("#queues")
                page.screenshot(path=str(ARTIFACTS / "dashboard-farm.png"), full_page=True)
                beat(80.0)
                page.wait_for_selector("#nodes [role=progressbar][aria-valuenow='80']", timeout=30_000)
                browser.close()

            scrape = httpx.get(f"{url}/metrics", timeout=20)
            assert scrape.status_code == 200
            samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                       for f in text_string_to_metric_families(scrape.text) for s in f.samples}
            assert samples[("storyreel_tasks_completed_total", ())] == 1
            assert samples[("storyreel_node_up", (("encoder", "libx264"), ("host", "gpu-box"), ("node", "n2")))] == 1
            assert samples[("storyreel_render_seconds_total", (("encoder", "libx264"), ("node", "n1")))] > 0
            assert samples[("storyreel_node_download_seconds_total", (("node", "n1"),))] >= 0
            assert samples[("storyreel_io_overhead_seconds", (("span", "since_start"),))] > 0

            status = _cli("status", str(layout.root), "--json")  # finds the coordinator by itself
            assert status.returncode == 0, status.stderr
            state = json.loads(status.stdout)
            assert state["coordinator"] is True
            assert {n["node"] for n in state["nodes"]} == {"n1", "n2"}
            assert state["queues"]["processing"] == 1 and state["queues"]["output"] == 1
            assert state["metrics"]["since_start"]["avg_render_time"] > 0
            api.post(f"/tasks/{task['task_id']}/release", json=held)
    finally:
        farm.stop()
    assert farm.main.returncode in (0, -signal.SIGTERM)
