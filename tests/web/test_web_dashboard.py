"""The dashboard in real headless Chromium: login once, then the nodes, the finished task,
failures and metrics appear and follow the farm live. Screenshots go to test-artifacts/."""

from __future__ import annotations

import os

import pytest
from fastapi import FastAPI
from webkit import ARTIFACTS, CHROMIUM, StandInCoordinator, finished_farm, node_row, serve

from storyreel.project import Project
from storyreel.web import mount

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed")


def test_dashboard_shows_the_farm_and_follows_it_live(project: Project, browser):
    ids = finished_farm(project)
    coordinator = StandInCoordinator(project, [node_row(ids["processing"], percent=42.0)])
    app = FastAPI()
    mount(app, coordinator, bound_host="0.0.0.0")
    ARTIFACTS.mkdir(exist_ok=True)
    with serve(app) as base:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))

        page.goto(f"{base}/dashboard")
        assert page.url == f"{base}/dashboard/login"
        page.fill("#token", project.token)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/dashboard")
        page.wait_for_selector("body[data-ready='1']", timeout=20_000)

        nodes = page.inner_text("#nodes")
        assert "render-1" in nodes and "studio-pc" in nodes and "libx264" in nodes
        bar = page.locator("#nodes [role=progressbar]")
        assert bar.get_attribute("aria-valuenow") == "42"
        assert ids["done"][:8] in page.inner_text("#completed")  # no metadata here: the short id stands in
        assert "ffmpeg exited with status 1" in page.inner_text("#failures")
        assert "corrupt or truncated" in page.inner_text("#invalid")
        assert "output/ finished" in page.inner_text("#queues")
        metrics = page.inner_text("#metrics")
        assert "60.0s" in metrics  # avg render time of the one finished video
        assert page.locator("#chart rect").count() > 0
        assert page.inner_text("#speeds").count("0.50×") == 1
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

        coordinator.nodes[0]["current_tasks"][0]["progress"] = 90.0  # the render moves on
        page.wait_for_selector("#nodes [role=progressbar][aria-valuenow='90']", timeout=20_000)

        phone = context.new_page()
        phone.set_viewport_size({"width": 390, "height": 844})
        phone.goto(f"{base}/dashboard")  # the session cookie is reused: no second login
        phone.wait_for_selector("body[data-ready='1']", timeout=20_000)
        assert "render-1" in phone.inner_text("#nodes")
        phone.screenshot(path=str(ARTIFACTS / "dashboard-phone.png"), full_page=True)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # nothing pushes the page sideways on a phone
        context.close()
    assert requested and all(url.startswith(base) for url in requested)  # no CDN, no internet
