"""The API's answers to what goes wrong, over real HTTP: a full disk (a real small tmpfs
under the project root) is a 507 with Retry-After that loses nothing, and every error is
a JSON body and one log line, never a traceback."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from coordkit import LEASE, Clock, Served, coordinator, leftovers, make_project
from diskkit import SmallDisk, small_disk_at

from storyreel.diskspace import DiskWatcher
from storyreel.errors import FilesystemError
from storyreel.layout import TaskState
from storyreel.project import Project

# Room for a project of hand-made tasks and a short render; filled in a blink.
SMALL_DISK = "2m"
# Left free on the full disk: an upload starts to be written and meets the full disk.
ROOM = 8192


@pytest.fixture()
def lines(caplog, monkeypatch) -> pytest.LogCaptureFixture:
    """Every record of storyreel and uvicorn, whatever an earlier test set up."""
    monkeypatch.setattr(logging.getLogger("storyreel"), "propagate", True)
    caplog.set_level(logging.DEBUG)
    return caplog


@pytest.fixture()
def full(tmp_path: Path) -> Iterator[tuple[SmallDisk, Project, Clock, Served]]:
    """A served coordinator whose project root is a small disk; its floor check looks at a
    roomy disk, so requests meet the full disk itself."""
    with small_disk_at(tmp_path / "small", SMALL_DISK) as disk:
        project = make_project(disk.root / "root", tasks=2)
        clock = Clock()
        coord = coordinator(project, clock, "n1", "n2")
        coord.disk = DiskWatcher(tmp_path, project.settings.disk)
        served = Served(coord)
        try:
            yield disk, project, clock, served
        finally:
            served.close()


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not [r for r in caplog.records if r.exc_info or "Exception in ASGI" in r.getMessage()]


def refusals(caplog: pytest.LogCaptureFixture, what: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(f"Refused {what}")]


def test_an_upload_meeting_a_full_disk_is_asked_again_507_and_goes_through_later(full, media, lines) -> None:
    disk, project, _, farm = full
    task_id, attempt = farm.claim()
    render = media.clip(seconds=3.0).read_bytes()
    assert len(render) > 2 * ROOM
    digest = hashlib.sha256(render).hexdigest()
    disk.fill(leave=ROOM)
    response = farm.put(task_id, attempt, render, size=len(render), sha256=digest)
    assert response.status_code == 507, response.text
    assert response.headers["retry-after"] == "5" and "disk full" in response.json()["detail"]
    assert leftovers(project, task_id) == [] and farm.coord.holds.task_ids() == {task_id}
    (line,) = refusals(lines, f"PUT /api/v1/tasks/{task_id}/output from n1")
    assert line.levelno == logging.WARNING

    disk.free()
    response = farm.put(task_id, attempt, render, size=len(render), sha256=digest)
    assert response.status_code == 201, response.text
    assert project.layout.output_file(task_id).read_bytes() == render
    no_tracebacks(lines)


def test_heartbeats_hold_and_failure_reports_and_claims_wait_on_a_full_disk(full, lines) -> None:
    disk, project, clock, farm = full
    task_id, attempt = farm.claim()
    beat = {"node": "n1", "attempt": attempt, "progress": {"stage": "uploading"}}
    report = {"node": "n1", "attempt": attempt, "reason": "render failed: boom", "stderr": "x" * 100_000}
    disk.fill()
    for _ in range(3):
        clock.now += LEASE - 1  # each renewal is due to be written to lease.json
        response = farm.http.post(f"/tasks/{task_id}/heartbeat", json=beat)
        assert response.status_code == 200, response.text
    response = farm.http.post(f"/tasks/{task_id}/failure", json=report)
    assert response.status_code == 507 and response.headers["retry-after"] == "5", response.text
    response = farm.http.post("/claim", json={"node": "n2"})
    assert response.status_code == 507 and response.json()["detail"], response.text
    assert farm.coord.reap() == []
    layout = project.layout
    assert layout.task_ids(TaskState.PROCESSING) == [task_id] and len(layout.task_ids(TaskState.QUEUED)) == 1
    assert not layout.task_ids(TaskState.FAILED)

    disk.free()
    assert farm.http.post(f"/tasks/{task_id}/failure", json=report).status_code == 200
    assert layout.task_ids(TaskState.FAILED) == [task_id]
    assert len(refusals(lines, f"POST /api/v1/tasks/{task_id}/failure")) == 1
    no_tracebacks(lines)


def test_an_unexpected_fault_in_a_handler_is_a_json_500_and_one_error_line(tmp_path: Path, lines) -> None:
    project = make_project(tmp_path / "root", tasks=1)
    coord = coordinator(project, Clock(), "n1")
    served = Served(coord)
    try:
        def broken(*_args: object) -> None:
            raise RuntimeError("the node table is broken")

        def unwritable(*_args: object) -> None:
            raise FilesystemError("move", "processing/x", "tasks/x", "permission denied")

        coord.nodes_snapshot = broken
        coord.release = unwritable
        lines.clear()
        response = served.http.get("/nodes")
        assert response.status_code == 500
        assert response.json() == {"detail": "internal error: RuntimeError: the node table is broken"}
        task_id, attempt = served.claim()
        response = served.http.post(f"/tasks/{task_id}/release", json={"node": "n1", "attempt": attempt})
        assert response.status_code == 500 and "permission denied" in response.json()["detail"]
    finally:
        served.close()
    errors = [r.getMessage() for r in lines.records if r.levelno >= logging.ERROR]
    assert errors == ["Request GET /api/v1/nodes failed: RuntimeError: the node table is broken",
                      f"Request POST /api/v1/tasks/{task_id}/release failed: FilesystemError: "
                      "cannot move processing/x → tasks/x: permission denied"]
    no_tracebacks(lines)


def test_every_api_error_is_a_json_body_and_one_log_line(tmp_path: Path, lines) -> None:
    project = make_project(tmp_path / "root", tasks=1)
    served = Served(coordinator(project, Clock(), "n1"))
    try:
        task_id, attempt = served.claim()
        asks = [
            ("POST", "/claim", {"json": {"node": "n1"}, "headers": {"Authorization": "Bearer wrong"}}, 401),
            ("POST", "/claim", {"json": {"node": "stranger"}}, 428),
            ("POST", "/claim", {"json": {"nod": "n1"}}, 422),
            ("POST", "/tasks/not-a-task/heartbeat", {"json": {"node": "n1", "attempt": 1}}, 404),
            ("POST", f"/tasks/{task_id}/heartbeat", {"json": {"node": "n1", "attempt": attempt + 1}}, 409),
            ("PUT", f"/tasks/{task_id}/output", {"params": {"node": "n1", "attempt": attempt}}, 400),
        ]
        for method, path, kw, status in asks:
            lines.clear()
            response = served.http.request(method, path, **kw)
            assert response.status_code == status, (path, response.text)
            assert response.json()["detail"], response.text
            logged = [r for r in lines.records if r.name.startswith("storyreel") and r.levelno >= logging.WARNING]
            assert len(logged) == 1, (status, [r.getMessage() for r in logged])
    finally:
        served.close()
    no_tracebacks(lines)
