"""The dashboard in headless Chromium names every task by its chapter — in the nodes, the
queued and rendering tasks, the finished tasks and the failures — and lists the chapters
that wait with their reason. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi import FastAPI
from viewskit import every_state
from web.webkit import StandInCoordinator, node_row, serve

from storyreel.layout import AssetKind
from storyreel.waiting import Waiting, WaitReason
from storyreel.waitlist import WaitFile
from storyreel.web import mount

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed")


def test_dashboard_names_every_task_and_shows_what_waits(tmp_path: Path, media):
    from playwright.sync_api import sync_playwright

    project, ids = every_state(tmp_path / "root", media)
    layout = project.layout
    voice = layout.scanned_voice("fantasy", "dragon_flight", "chapter_0003.mp3")
    WaitFile(layout).publish([Waiting(layout.chapter_of(voice), WaitReason.LOGO_MISSING,
                                      "render.logo names logo.png, which does not exist")])
    assert AssetKind.STORY in voice.parts  # the key is a scanned chapter's
    app = FastAPI()
    mount(app, StandInCoordinator(project, [node_row(ids["story2"], percent=30.0)]), bound_host="127.0.0.1")
    ARTIFACTS.mkdir(exist_ok=True)
    with serve(app) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{base}/dashboard")
            page.wait_for_selector("body[data-ready='1']", timeout=20_000)
            assert "tales/story2 chapter 1 · rendering" in page.inner_text("#nodes")
            tasks = page.inner_text("#tasks")
            assert "tales/story1 chapter 1" in tasks and "queued" in tasks
            assert "tales/story2 chapter 1" in tasks and "render-1" in tasks
            assert page.get_attribute("#tasks tbody tr:first-child", "data-task-id") == ids["story1"]
            assert "tales/story3 chapter 1" in page.inner_text("#completed")
            failures = page.inner_text("#failures")
            assert "tales/story4 chapter 1" in failures and ids["story4"][:8] in failures
            assert ids["story4"] not in failures  # the uuid only short, beside the name
            waiting = page.inner_text("#waiting")
            assert "fantasy/dragon_flight chapter 3" in waiting
            assert "waiting: render.logo names logo.png, which does not exist" in waiting
            page.screenshot(path=str(ARTIFACTS / "dashboard-names.png"), full_page=True)

            WaitFile(layout).publish([])  # the chapter got its logo: nothing waits
            page.wait_for_selector("#waiting-section[hidden]", state="attached", timeout=20_000)

            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(f"{base}/dashboard")
            phone.wait_for_selector("body[data-ready='1']", timeout=20_000)
            assert "tales/story3 chapter 1" in phone.inner_text("#completed")
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
            phone.screenshot(path=str(ARTIFACTS / "dashboard-names-phone.png"), full_page=True)
        finally:
            browser.close()
