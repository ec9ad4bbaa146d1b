"""The Steer section of the dashboard in real headless Chromium, against a real main worker
(`storyreel main`) and the standalone `storyreel dashboard`, which forwards to it. Every POST
needs the page's CSRF token. Screenshots go to test-artifacts/steer-*.png."""

from __future__ import annotations

import os
import re
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from farm.farmkit import Farm, farm_project, free_port, storyreel, wait_for
from steerkit import chapter_of, node_rows, queued_for, reason_of

from storyreel.layout import TaskState

CHROMIUM = "/usr/bin/chromium"
# Headless in a container: no sandbox, no GPU, no background traffic.
HEADLESS_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WAIT_MS = 30_000

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed")]


@pytest.fixture()
def farm(tmp_path: Path, media):
    project = farm_project(tmp_path / "root", media, tasks=2, lease=600.0, heartbeat=120.0)
    running = Farm(project, tmp_path)
    running.start_main()
    yield running
    running.stop()


@pytest.fixture()
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, closing(pw.chromium.launch(
            executable_path=CHROMIUM, args=HEADLESS_ARGS, headless=True)) as chromium:
        yield chromium


def story_task(farm: Farm, story: str) -> str:
    return next(t for t in farm.ids(TaskState.QUEUED) if f"/{story}/" in chapter_of(farm.project, t))


def press(page, row_text: str, action: str, table: str = "#steer-tasks") -> str:
    """Click `action` on the row holding `row_text`; the answer shown under the heading."""
    page.locator("#steer-result").evaluate("box => box.textContent = ''")
    page.locator(f"{table} tr", has_text=row_text).locator(f"button[data-action={action}]").click()
    page.wait_for_function("document.getElementById('steer-result').textContent !== ''", timeout=WAIT_MS)
    return page.inner_text("#steer-result")


def test_the_buttons_cancel_retry_and_pause_through_the_main_worker(farm: Farm, browser) -> None:
    project = farm.project
    ARTIFACTS.mkdir(exist_ok=True)
    first = story_task(farm, "story1")
    with httpx.Client(base_url=farm.url + "/api/v1", headers={"Authorization": f"Bearer {farm.token}"}) as api:
        assert api.post("/nodes/register", json={"node": "gpu-1", "encoders": ["libx264"]}).status_code == 200
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    page.goto(f"{farm.url}/dashboard")
    page.wait_for_selector("body[data-steer-ready='1']", timeout=WAIT_MS)
    tasks = page.inner_text("#steer-tasks")
    assert "tales" in tasks and "story1" in tasks and "chapter_0001" in tasks and "queued" in tasks
    page.locator("#steer-section").screenshot(path=str(ARTIFACTS / "steer-buttons.png"))

    answer = press(page, "story1", "cancel")
    assert "cancelled" in answer and first in answer
    assert reason_of(project, first)["cancelled"] is True
    page.wait_for_selector("#steer-tasks tr:has-text('story1') button[data-action=retry]", timeout=WAIT_MS)
    answer = press(page, "story1", "retry")
    assert "retried" in answer
    chapter = chapter_of(project, first)
    wait_for("the chapter planned again", lambda: queued_for(project, chapter, first), procs=[farm.main])

    answer = press(page, "gpu-1", "pause", table="#steer-nodes")
    assert "node gpu-1 paused" in answer
    page.wait_for_selector("#steer-nodes .state.paused", timeout=WAIT_MS)
    assert node_rows(farm.url, farm.token)["gpu-1"]["state"] == "paused"
    page.wait_for_function("document.querySelector('#nodes .state').textContent === 'paused'",
                           timeout=WAIT_MS)  # the node table says so too
    page.locator("#steer-section").screenshot(path=str(ARTIFACTS / "steer-paused-node.png"))
    assert "resumed" in press(page, "gpu-1", "resume", table="#steer-nodes")

    answer = press(page, "story2", "cancel")
    assert "cancelled" in answer
    page.wait_for_selector("#steer-tasks tr:has-text('story2') button[data-action=retry]", timeout=WAIT_MS)
    assert "retried" in press(page, "story2", "retry")
    page.wait_for_selector("#steer-tasks tr:has-text('story2') button[data-action=retry]", state="detached",
                           timeout=WAIT_MS)  # a retried task offers no second retry
    page.screenshot(path=str(ARTIFACTS / "steer-dashboard.png"), full_page=True)


def test_a_post_without_the_csrf_token_or_from_another_site_is_refused(farm: Farm) -> None:
    task_id = farm.ids(TaskState.QUEUED)[0]
    page = httpx.get(f"{farm.url}/dashboard", timeout=10).text
    csrf = re.search(r'name="csrf-token" content="([0-9a-f]{64})"', page).group(1)
    body = {"action": "cancel", "target": task_id}
    url = f"{farm.url}/dashboard/api/control"
    for headers in ({}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": csrf, "Origin": "https://evil.example"},
                    {"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}):
        refused = httpx.post(url, json=body, headers=headers, timeout=10)
        assert refused.status_code == 403, (headers, refused.text)
    assert farm.project.layout.task_dir(task_id).is_dir()  # nothing moved
    node_token = httpx.post(f"{farm.url}/api/v1/control", json=body, timeout=10)
    assert node_token.status_code == 401
    done = httpx.post(url, json=body, headers={"X-CSRF-Token": csrf, "Origin": farm.url}, timeout=10)
    assert done.status_code == 200 and task_id in done.json()["task_ids"]
    assert reason_of(farm.project, task_id)["cancelled"] is True


def test_the_standalone_dashboard_forwards_the_buttons_to_the_main_worker(farm: Farm, browser, tmp_path) -> None:
    project = farm.project
    second = story_task(farm, "story2")
    port = free_port()
    dashboard = storyreel("dashboard", str(project.layout.root), "--listen", f"127.0.0.1:{port}",
                          log=tmp_path / "dashboard.log")
    try:
        base = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            try:
                return httpx.get(f"{base}/dashboard/api/board", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for("the standalone dashboard", answers, procs=[dashboard])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(f"{base}/dashboard")
        page.wait_for_selector("body[data-steer-ready='1']", timeout=WAIT_MS)
        answer = press(page, "story2", "replan")
        assert "replanned" in answer and second in answer
        assert reason_of(project, second)["replan"] is True
        chapter = chapter_of(project, second)
        wait_for("the task rebuilt", lambda: queued_for(project, chapter, second), procs=[farm.main])
        page.screenshot(path=str(ARTIFACTS / "steer-standalone.png"), full_page=True)
    finally:
        dashboard.terminate()
        dashboard.wait(20)
