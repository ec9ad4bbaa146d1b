"""The dashboard behind the project token: login once, HttpOnly SameSite=Strict cookie."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from webkit import StandInCoordinator, finished_farm, serve

from storyreel.project import Project
from storyreel.web import mount
from storyreel.web.auth import COOKIE_NAME, is_loopback, listen_host


def test_login_sets_a_strict_http_only_cookie_that_opens_the_state(project: Project):
    finished_farm(project)
    app = FastAPI()
    mount(app, StandInCoordinator(project), login_required=True)
    with serve(app) as base, httpx.Client(base_url=base, timeout=10) as client:
        page = client.get("/dashboard")
        assert page.status_code == 303 and page.headers["location"] == "/dashboard/login"
        assert client.get("/dashboard/api/state").status_code == 401
        form = client.get("/dashboard/login")
        assert form.status_code == 200 and 'name="token"' in form.text

        refused = client.post("/dashboard/login", data={"token": "guess"})
        assert refused.status_code == 401 and "not this project's token" in refused.text
        assert COOKIE_NAME not in client.cookies

        accepted = client.post("/dashboard/login", data={"token": project.token})
        assert accepted.status_code == 303 and accepted.headers["location"] == "/dashboard"
        cookie = accepted.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert project.token not in cookie  # the cookie is derived from the token, not the token
        assert client.get("/dashboard").status_code == 200
        state = client.get("/dashboard/api/state")
        assert state.status_code == 200 and state.json()["queues"]["output"] == 1

        client.post("/dashboard/logout")
        assert client.get("/dashboard/api/state").status_code == 401


def test_bearer_token_opens_the_state_for_scripts(project: Project):
    app = FastAPI()
    mount(app, StandInCoordinator(project), login_required=True)
    with serve(app) as base:
        r = httpx.get(f"{base}/dashboard/api/state", headers={"Authorization": f"Bearer {project.token}"}, timeout=10)
    assert r.status_code == 200


def test_loopback_listen_needs_no_login(project: Project):
    assert project.settings.coordinator.listen.startswith("127.0.0.1:")
    app = FastAPI()
    mount(app, StandInCoordinator(project))  # login_required follows [coordinator] listen
    with serve(app) as base:
        assert httpx.get(f"{base}/dashboard", timeout=10).status_code == 200
        root = httpx.get(f"{base}/", timeout=10)
        assert root.status_code == 303 and root.headers["location"] == "/dashboard"
        assert httpx.get(f"{base}/dashboard/static/dashboard.js", timeout=10).status_code == 200
        assert httpx.get(f"{base}/dashboard/static/..%2Fauth.py", timeout=10).status_code == 404


def test_which_listen_addresses_count_as_loopback():
    assert is_loopback(listen_host("127.0.0.1:8765"))
    assert is_loopback(listen_host("[::1]:8765"))
    assert is_loopback(listen_host("localhost:8765"))
    assert not is_loopback(listen_host("0.0.0.0:8765"))
    assert not is_loopback(listen_host("192.168.1.5:8765"))
