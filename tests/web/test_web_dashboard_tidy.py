"""The dashboard in headless Chromium, tidied for a farm that has run a while: the log box
ends on the newest line and follows new ones, nodes gone for over a day are not listed,
the chart's axes say what they measure, and the page has an icon."""

from __future__ import annotations

import json
import os
import time

import pytest
from fastapi import FastAPI
from webkit import ARTIFACTS, CHROMIUM, StandInCoordinator, finished_farm, node_row, serve

from storyreel.logs import iso_utc
from storyreel.project import Project
from storyreel.web import mount

DAY = 86400.0

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed")


def _log_lines(project: Project, first: int, count: int) -> None:
    with project.layout.log_file.open("a", encoding="utf-8") as out:
        for n in range(first, first + count):
            out.write(f'{iso_utc()} INFO main_worker "log line {n:03d}"\n')


def _old_nodes(project: Project, now: float) -> None:
    """A node last heard from three days ago and one an hour ago, both known only from the log."""
    events = [{"ts": now - 3 * DAY, "event": "node_registered", "node": "old-box", "host": "attic",
               "encoders": ["libx264"]},
              {"ts": now - 3600, "event": "node_registered", "node": "recent-box", "host": "desk",
               "encoders": ["libx264"]}]
    with project.layout.events_file.open("a", encoding="utf-8") as out:
        out.writelines(json.dumps(e) + "\n" for e in events)


def _at_bottom(page) -> bool:
    return page.evaluate("(() => { const b = document.getElementById('log');"
                         " return b.scrollHeight > b.clientHeight"
                         " && b.scrollHeight - b.scrollTop - b.clientHeight < 2; })()")


def test_the_log_follows_the_newest_line_and_old_nodes_are_not_listed(project: Project, browser):
    now = time.time()
    ids = finished_farm(project, now)
    _old_nodes(project, now)
    _log_lines(project, 0, 60)
    app = FastAPI()
    mount(app, StandInCoordinator(project, [node_row(ids["processing"])]), bound_host="127.0.0.1")
    with serve(app) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base}/dashboard")
        page.wait_for_selector("body[data-ready='1']", timeout=20_000)

        log_text = page.inner_text("#log")
        assert log_text.rstrip().endswith('"log line 059"')
        assert _at_bottom(page), "the log box must show its newest line"
        _log_lines(project, 60, 5)
        page.wait_for_function("document.getElementById('log').textContent.includes('log line 064')",
                               timeout=20_000)
        assert _at_bottom(page), "the log box must follow new lines"
        page.evaluate("document.getElementById('log').scrollTop = 0")  # the reader scrolls up
        _log_lines(project, 65, 5)
        page.wait_for_function("document.getElementById('log').textContent.includes('log line 069')",
                               timeout=20_000)
        assert page.evaluate("document.getElementById('log').scrollTop") == 0, "a reader's scroll is kept"

        nodes = page.inner_text("#nodes")
        assert "render-1" in nodes and "recent-box" in nodes
        assert "old-box" not in nodes
        assert page.inner_text("#nodes-hidden") == "1 node offline for over a day not shown."

        assert page.inner_text("#chart-y").split() == ["1", "tasks", "completed", "0"]
        assert page.inner_text("#chart-y2").split() == ["100%", "utilization", "0%"]
        assert page.inner_text("#chart-x-start") and page.inner_text("#chart-x-end")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-tidy.png"), full_page=True)

        for where in ("/dashboard", "/dashboard/login"):
            page.goto(f"{base}{where}")
            icon = page.get_attribute("link[rel=icon]", "href")
            assert icon, f"{where} links no icon"
            fetched = page.request.get(f"{base}{icon}")
            assert fetched.status == 200 and fetched.headers["content-type"].startswith("image/svg+xml")
            assert fetched.text().startswith("<svg")
        page.close()
