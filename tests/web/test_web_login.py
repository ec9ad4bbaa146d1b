"""The dashboard behind the project token: login once, HttpOnly SameSite=Strict cookie."""

from __future__ import annotations

import signal

import httpx
from farm.farmkit import free_port, wait_for
from fastapi import FastAPI
from webkit import StandInCoordinator, finished_farm, serve, storyreel_process

from storyreel.netaddr import Listen, is_loopback
from storyreel.project import Project
from storyreel.web import mount
from storyreel.web.auth import COOKIE_NAME


def test_login_sets_a_strict_http_only_cookie_that_opens_the_state(project: Project):
    finished_farm(project)
    app = FastAPI()
    mount(app, StandInCoordinator(project), bound_host="0.0.0.0")
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
    mount(app, StandInCoordinator(project), bound_host="0.0.0.0")
    with serve(app) as base:
        r = httpx.get(f"{base}/dashboard/api/state", headers={"Authorization": f"Bearer {project.token}"}, timeout=10)
    assert r.status_code == 200


def test_bound_to_loopback_needs_no_login(project: Project):
    assert project.settings.coordinator.listen.startswith("127.0.0.1:")
    app = FastAPI()
    mount(app, StandInCoordinator(project), bound_host="127.0.0.1")  # the settings say so too
    with serve(app) as base:
        assert httpx.get(f"{base}/dashboard", timeout=10).status_code == 200
        root = httpx.get(f"{base}/", timeout=10)
        assert root.status_code == 303 and root.headers["location"] == "/dashboard"
        assert httpx.get(f"{base}/dashboard/static/dashboard.js", timeout=10).status_code == 200
        assert httpx.get(f"{base}/dashboard/static/..%2Fauth.py", timeout=10).status_code == 404


def test_which_bound_addresses_count_as_loopback():
    def bound(listen: str) -> str:
        return Listen.parse(listen).host

    assert is_loopback(bound("127.0.0.1:8765"))
    assert is_loopback(bound("[::1]:8765"))
    assert is_loopback(bound("localhost:8765"))
    assert not is_loopback(bound("0.0.0.0:8765"))
    assert not is_loopback(bound("[::]:8765"))
    assert not is_loopback(bound("192.168.1.5:8765"))


def test_main_bound_to_every_interface_asks_loopback_clients_for_the_token(project: Project):
    """The README's farm command: the toml still says 127.0.0.1, the server binds 0.0.0.0,
    so a client on this machine (or a TLS proxy beside it) needs the token too."""
    assert project.settings.coordinator.listen.startswith("127.0.0.1:")
    finished_farm(project)
    port = free_port()
    base, auth = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {project.token}"}
    with storyreel_process("main", str(project.layout.root), "--listen", f"0.0.0.0:{port}") as main:
        wait_for("the coordinator to listen", project.layout.coordinator_file.exists, procs=[main])
        with httpx.Client(base_url=base, timeout=10) as client:
            assert client.get("/dashboard/api/state").status_code == 401
            page = client.get("/dashboard")
            assert page.status_code == 303 and page.headers["location"] == "/dashboard/login"
            assert client.get("/metrics").status_code == 401
            state = client.get("/dashboard/api/state", headers=auth)
            assert state.status_code == 200 and state.json()["queues"]["output"] == 1
            assert client.get("/metrics", headers=auth).status_code == 200
        main.send_signal(signal.SIGTERM)
        main.wait(60)
    assert main.returncode == 0, main.stderr.read()
