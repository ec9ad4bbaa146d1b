"""`storyreel dashboard`: the dashboard as its own process, beside `storyreel run`."""

from __future__ import annotations

import signal
import socket
import subprocess
import time

import httpx
import pytest
from webkit import finished_farm, storyreel_process

from storyreel.project import Project


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get_when_up(url: str, proc: subprocess.Popen, **kw) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        try:
            return httpx.get(url, timeout=10, **kw)
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize("bind", ["127.0.0.1", "0.0.0.0"])
def test_dashboard_command_serves_and_stops_on_sigterm(project: Project, bind: str):
    finished_farm(project)
    port = _free_port()
    with storyreel_process("dashboard", str(project.layout.root), "--listen", f"{bind}:{port}") as proc:
        base = f"http://127.0.0.1:{port}"
        state = _get_when_up(f"{base}/dashboard/api/state", proc)
        if bind == "127.0.0.1":  # loopback: open
            assert state.status_code == 200
            assert state.json()["coordinator"] is False
            assert state.json()["queues"]["output"] == 1
        else:  # every interface: the token is needed, even from this machine
            assert state.status_code == 401
            page = httpx.get(f"{base}/dashboard", timeout=10)
            assert page.status_code == 303 and page.headers["location"] == "/dashboard/login"
            auth = {"Authorization": f"Bearer {project.token}"}
            assert httpx.get(f"{base}/metrics", headers=auth, timeout=10).status_code == 200
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, proc.stderr.read()
    assert "Dashboard at http://" in project.layout.log_file.read_text(encoding="utf-8")
