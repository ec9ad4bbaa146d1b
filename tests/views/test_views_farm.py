"""A real farm (a `storyreel main` process and a render node process) seen through every
view: `status`, /metrics, the standalone `storyreel dashboard` (the coordinator's live state,
found through .storyreel/coordinator.json) and that dashboard in headless Chromium, where
the finished chapter plays and the chapter without music shows why it waits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from farm.farmkit import Farm, farm_project, free_port, wait_for
from prometheus_client.parser import text_string_to_metric_families

from storyreel.layout import AssetKind, TaskState
from storyreel.waitlist import reasons

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LABEL = "tales/story1 chapter 1"
WAITING = "silent/quiet_tale chapter 2"


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "storyreel.cli", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "250"})


def _waiting_gauges(text: str) -> dict[str, float]:
    for family in text_string_to_metric_families(text):
        if family.name == "storyreel_chapters_waiting":
            return {s.labels["reason"]: s.value for s in family.samples}
    raise AssertionError("no storyreel_chapters_waiting in /metrics")


@pytest.fixture()
def farm(tmp_path: Path, media):
    project = farm_project(tmp_path / "root", media, tasks=1, lease=600.0, heartbeat=1.0)
    layout = project.layout
    # A chapter in a category with clips but no music (nor in the default category).
    media.copy(media.clip(seconds=2.0), layout.scanned_clip(AssetKind.VIDEO, "silent", 160, 90, 2.0, "s1"))
    media.copy(media.tone(seconds=3.0, frequency=330), layout.scanned_voice("silent", "quiet_tale", "chapter_0002.mp3"))
    farm = Farm(project, tmp_path)
    try:
        yield farm
    finally:
        farm.stop()


def test_every_view_names_chapters_and_shows_what_waits(farm: Farm):
    layout = farm.project.layout
    root = str(layout.root)
    farm.start_main()
    node = farm.start_node("n1")
    wait_for("the task to finish", lambda: layout.task_ids(TaskState.DONE) and farm.drained(),
             procs=[farm.main, node])
    (done,) = layout.task_ids(TaskState.DONE)
    wait_for("the waiting chapter to be published", layout.waiting_file.exists, procs=[farm.main])

    state = json.loads(_cli("status", root, "--json").stdout)
    assert state["coordinator"] is True
    (waiting,) = state["waiting"]
    assert waiting["reason"] == "no_music" and waiting["name"]["label"] == WAITING
    assert state["names"][done]["label"] == LABEL
    table = _cli("status", root).stdout
    assert "waiting: no music in category silent" in table and WAITING in table
    assert LABEL in table and f"output/{done}/final.mp4" in table

    video = layout.output_file(done).read_bytes()
    seek = httpx.get(f"{farm.url}/dashboard/videos/{done}/final.mp4", headers={"Range": "bytes=10-59"}, timeout=20)
    assert seek.status_code == 206 and seek.content == video[10:60]  # the coordinator serves it too

    gauges = _waiting_gauges(httpx.get(farm.url + "/metrics", timeout=20).text)
    assert gauges == {**dict.fromkeys(reasons(), 0.0), "no_music": 1.0}

    port = free_port()
    dashboard = subprocess.Popen([sys.executable, "-m", "storyreel.cli", "dashboard", root, "--listen",
                                  f"127.0.0.1:{port}"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def standalone_state():
            try:
                return httpx.get(base + "/dashboard/api/state", timeout=10).json()
            except httpx.TransportError:
                return None

        beside = wait_for("the standalone dashboard", standalone_state, procs=[dashboard])
        assert beside["coordinator"] is True  # the running coordinator, not the folders
        (n1,) = [row for row in beside["nodes"] if row["node"] == "n1"]
        assert n1["live"] is True and n1["state"] == "idle"
        coordinator = httpx.get(farm.url + "/dashboard/api/state", timeout=10).json()
        assert beside["queues"] == coordinator["queues"]
        assert beside["metrics"]["since_start"]["tasks_completed"] == 1
        assert _waiting_gauges(httpx.get(base + "/metrics", timeout=10).text)["no_music"] == 1.0
        if os.path.exists(CHROMIUM):
            _browse(base, done)
    finally:
        dashboard.send_signal(signal.SIGTERM)
        dashboard.wait(30)
    assert dashboard.returncode == 0, dashboard.stderr.read()

    farm.stop()
    assert not layout.waiting_file.exists()  # a stopped main worker plans nothing: nothing "waits"


def _browse(base: str, done: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/dashboard")  # bound to loopback: no login
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            assert "coordinator not running" not in page.inner_text("#updated")
            assert page.locator("#nodes .state.live").count() >= 1
            waiting = page.inner_text("#waiting")
            assert WAITING in waiting and "waiting: no music in category silent" in waiting
            finished = page.inner_text("#completed")
            assert LABEL in finished and done[:8] in finished
            download = page.get_attribute("#completed a.download", "href")
            assert download == f"/dashboard/videos/{done}/final.mp4?download=1"

            page.click("#completed a.play")
            page.wait_for_function("document.getElementById('player').readyState >= 2", timeout=30_000)
            page.wait_for_function("document.getElementById('player').currentTime > 0.3", timeout=30_000)
            assert page.inner_text("#player-title") == LABEL
            page.evaluate("() => { const v = document.getElementById('player'); v.pause(); v.currentTime = 2.0; }")
            page.wait_for_function("document.getElementById('player').currentTime >= 1.9", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "dashboard-views.png"), full_page=True)
        finally:
            browser.close()
