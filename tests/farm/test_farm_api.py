"""The coordinator's HTTP API over real loopback HTTP: tokens, claims, names, leases,
stale attempts, the reaper, uploads and failure reports."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import pytest
from farmkit import farm_project

from storyreel.coordinator import Coordinator, CoordinatorServer
from storyreel.layout import TaskState
from storyreel.logs import read_events, setup_logging
from storyreel.render.job import render_task


class Clock:
    """The coordinator's clock, moved by the test so lease expiry needs no waiting."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def farm(tmp_path: Path, media):
    project = farm_project(tmp_path / "root", media, tasks=2, lease=30.0, heartbeat=5.0, max_attempts=2)
    setup_logging(project.layout.log_file, "DEBUG")
    clock = Clock()
    coordinator = Coordinator(project, clock=clock)
    server = CoordinatorServer(coordinator, "127.0.0.1:0")
    url = server.start()
    client = httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {project.token}"},
                          timeout=30)
    yield project, coordinator, clock, client
    client.close()
    server.stop()


def register(client: httpx.Client, node: str, encoders: tuple[str, ...] = ("libx264",)) -> dict:
    response = client.post("/nodes/register", json={"node": node, "host": "test", "encoders": list(encoders),
                                                    "version": "t"})
    assert response.status_code == 200, response.text
    return response.json()


def claim(client: httpx.Client, node: str) -> dict | None:
    response = client.post("/claim", json={"node": node})
    assert response.status_code == 200, response.text
    return response.json()["task"]


def stage_event(kind: str, task_id: str, node: str = "n1", attempt: int = 1, *, seconds: float = 1.5,
                **figures) -> dict:
    """A stage event body as a node sends it (the figures of a download unless given)."""
    body = {"node": node, "attempt": attempt, "event": kind, "task_id": task_id, "started": 1_800_000_000.0,
            "ended": 1_800_000_000.0 + seconds, "seconds": seconds}
    return body | ({"bytes": 600} if kind == "downloaded" else {}) | figures


def test_every_route_wants_the_token(farm) -> None:
    project, _, _, client = farm
    url = str(client.base_url).rstrip("/")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": project.token}):
        assert httpx.post(url + "/claim", json={"node": "n1"}, headers=headers).status_code == 401
        assert httpx.get(url + "/nodes", headers=headers).status_code == 401
        response = httpx.post(url + "/nodes/register", json={"node": "n1"}, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    assert not project.layout.task_ids(TaskState.PROCESSING)


def test_claim_moves_the_task_and_serves_only_its_files(farm) -> None:
    project, _, _, client = farm
    layout = project.layout
    info = register(client, "n1")
    assert info["root"] == str(layout.root)
    assert client.post("/claim", json={"node": "stranger"}).status_code == 428
    task = claim(client, "n1")
    task_id, attempt = task["task_id"], task["attempt"]
    assert attempt == 1
    folder = layout.task_dir(task_id, TaskState.PROCESSING)
    assert folder.is_dir() and not layout.task_dir(task_id).exists()
    lease = json.loads((folder / "lease.json").read_text())
    assert (lease["node"], lease["attempt"], lease["state"]) == ("n1", 1, "held")
    names = {f["name"] for f in task["files"]}
    assert {"metadata.json", "voice.mp3", "music.mp3", "video_list.txt", "video_0001.mp4"} <= names
    assert "lease.json" not in names
    assert task["metadata"]["task_id"] == task_id

    params = {"node": "n1", "attempt": attempt}
    for entry in task["files"]:
        response = client.get(f"/tasks/{task_id}/files/{entry['name']}", params=params)
        assert response.status_code == 200
        assert hashlib.sha256(response.content).hexdigest() == entry["sha256"]
        assert response.headers["x-storyreel-sha256"] == entry["sha256"]
        assert response.content == (folder / entry["name"]).read_bytes()
    # Range: the resume of a broken download.
    whole = (folder / "voice.mp3").read_bytes()
    response = client.get(f"/tasks/{task_id}/files/voice.mp3", params=params, headers={"Range": "bytes=100-"})
    assert response.status_code == 206 and response.content == whole[100:]

    # Names are never paths; private files stay private; only the holder may read.
    for bad in ("..", "lease.json", "%2e%2e", "..%2Fstoryreel.toml", "%2Fetc%2Fpasswd", "..%5Cx",
                "-x.mp4", ".storyreel-tmp-x"):
        response = client.get(f"/tasks/{task_id}/files/{bad}", params=params)
        assert response.status_code in (400, 404), (bad, response.status_code)
    assert client.get(f"/tasks/{task_id}/files/voice.mp3", params={"node": "n2", "attempt": 1}).status_code == 409
    assert client.get(f"/tasks/{task_id}/files/voice.mp3", params={"node": "n1", "attempt": 2}).status_code == 409
    assert client.get("/tasks/not-a-task/files/voice.mp3", params=params).status_code == 404
    other = layout.task_ids(TaskState.QUEUED)[0]
    assert client.get(f"/tasks/{other}/files/voice.mp3", params=params).status_code == 409
    assert client.get(f"/tasks/{task_id}/files/..%2F..%2Fstoryreel.toml", params=params).status_code == 404


def test_heartbeats_extend_and_stale_attempts_are_refused(farm) -> None:
    project, coordinator, clock, client = farm
    register(client, "n1")
    task = claim(client, "n1")
    task_id = task["task_id"]
    clock.now += 20
    response = client.post(f"/tasks/{task_id}/heartbeat",
                           json={"node": "n1", "attempt": 1, "progress": {"stage": "rendering", "percent": 40.0}})
    assert response.status_code == 200
    assert response.json()["deadline"] == pytest.approx(clock.now + 30)
    snapshot = coordinator.nodes_snapshot()[0]
    assert snapshot["current_tasks"][0]["stage"] == "rendering" and snapshot["progress"] == 40.0
    before = (project.layout.task_dir(task_id, TaskState.PROCESSING) / "lease.json").read_text()
    for node, attempt in (("n1", 2), ("n2", 1)):
        response = client.post(f"/tasks/{task_id}/heartbeat", json={"node": node, "attempt": attempt})
        assert response.status_code == 409
    assert (project.layout.task_dir(task_id, TaskState.PROCESSING) / "lease.json").read_text() == before


def test_reaper_requeues_then_abandons_and_notes_lost_nodes(farm) -> None:
    project, coordinator, clock, client = farm
    layout = project.layout
    register(client, "n1")
    task_id = claim(client, "n1")["task_id"]
    clock.now += 29
    assert coordinator.reap() == []
    clock.now += 2
    assert coordinator.reap() == [task_id]
    assert layout.task_dir(task_id, TaskState.QUEUED).is_dir()
    assert coordinator.nodes_snapshot()[0]["state"] == "lost"
    assert client.post(f"/tasks/{task_id}/heartbeat", json={"node": "n1", "attempt": 1}).status_code == 409

    register(client, "n2")
    again = claim(client, "n2")
    while again["task_id"] != task_id:  # the other task is older or younger; take both
        again = claim(client, "n2")
    assert again["attempt"] == 2
    clock.now += 31
    coordinator.reap()
    failed = layout.task_dir(task_id, TaskState.FAILED)
    assert failed.is_dir()
    reason = json.loads((failed / "reason.json").read_text())
    assert reason["reason"].startswith("abandoned") and reason["attempt"] == 2
    kinds = [e["event"] for e in read_events(layout.events_file) if e.get("task_id") == task_id]
    assert kinds == ["task_created", "claimed", "requeued", "claimed", "failed"]
    log = layout.log_file.read_text()
    assert "WARN main_worker" in log and "expired" in log and "Render node n1 lost" in log


def test_upload_checks_then_publishes_and_refuses_stale_ones(farm, tmp_path: Path) -> None:
    project, coordinator, clock, client = farm
    layout = project.layout
    register(client, "n1")
    task_id = claim(client, "n1")["task_id"]
    folder = layout.task_dir(task_id, TaskState.PROCESSING)
    rendered = render_task(folder, tmp_path / "out" / "final.mp4").output
    data = rendered.read_bytes()
    digest = hashlib.sha256(data).hexdigest()

    def put(content: bytes, sha: str, node: str = "n1", attempt: int = 1) -> httpx.Response:
        return client.put(f"/tasks/{task_id}/output", params={"node": node, "attempt": attempt}, content=content,
                          headers={"X-Storyreel-Sha256": sha, "X-Storyreel-Size": str(len(content))})

    assert put(data, "0" * 64).status_code == 422  # damaged in transit
    assert put(b"not a video" * 100, hashlib.sha256(b"not a video" * 100).hexdigest()).status_code == 422
    assert put(data, digest, node="n2").status_code == 409
    assert put(data, digest, attempt=2).status_code == 409
    assert not layout.output_file(task_id).exists()
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []  # no .part left

    response = put(data, digest)
    assert response.status_code == 201, response.text
    assert layout.output_file(task_id).read_bytes() == data
    assert not folder.exists()
    assert put(data, digest).status_code == 409  # a second upload changes nothing
    completed = [e for e in read_events(layout.events_file) if e["event"] == "completed"]
    assert [(e["task_id"], e["attempt"]) for e in completed] == [(task_id, 1)]


def test_stage_events_only_from_the_attempt_that_holds_the_task_typed_and_bounded(
        farm, tmp_path: Path, caplog) -> None:
    import logging

    from storyreel.node.client import CoordinatorClient

    project, _, _, client = farm
    layout = project.layout
    register(client, "n1")
    register(client, "n2")
    task_id = claim(client, "n1")["task_id"]
    other = claim(client, "n2")["task_id"]
    caplog.set_level(logging.WARNING, logger="storyreel")
    refusals = [
        (422, stage_event("downloaded", task_id, seconds=-1.5)),  # negative seconds
        (422, stage_event("downloaded", task_id, bytes=1 << 60)),  # huge bytes
        (422, stage_event("finished", task_id)),  # an unknown kind
        (422, stage_event("downloaded", task_id, fields={"seconds": 1e12})),  # the old free-form fields
        (409, stage_event("downloaded", other)),  # another node's task
        (409, stage_event("downloaded", task_id, attempt=2)),  # an attempt that does not hold it
        (409, stage_event("downloaded", "00000000-0000-4000-8000-000000000000")),  # a task it never held
    ]
    for status, body in refusals:
        caplog.clear()
        response = client.post("/events", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["detail"]
        assert len([r for r in caplog.records if "Refused" in r.getMessage()]) == 1, caplog.records
    assert client.post("/events", content=b"x" * 100_000).status_code == 413
    assert not [e for e in read_events(layout.events_file) if e["event"] in ("downloaded", "finished")]

    # The real node's own events: download and render while it holds the task, upload after.
    from storyreel.protocol import Downloaded, Rendered, Uploaded

    node = CoordinatorClient(str(client.base_url).removesuffix("/api/v1/"), project.token, "n1")
    span = {"started": 1_800_000_000.0, "ended": 1_800_000_004.0, "seconds": 4.0}
    node.event(Downloaded(node="n1", attempt=1, task_id=task_id, bytes=600, **span))
    node.event(Rendered(node="n1", attempt=1, task_id=task_id, media_seconds=3.0, encoder="libx264", **span))
    folder = layout.task_dir(task_id, TaskState.PROCESSING)
    rendered = render_task(folder, tmp_path / "out" / "final.mp4").output
    answer = node.upload(task_id, 1, rendered)
    node.event(Uploaded(node="n1", attempt=1, task_id=task_id, bytes=answer.bytes, tries=1, **span))
    node.close()
    recorded = [(e["event"], e["node"], e["task_id"]) for e in read_events(layout.events_file)
                if e["event"] in ("downloaded", "rendered", "uploaded")]
    assert recorded == [(kind, "n1", task_id) for kind in ("downloaded", "rendered", "uploaded")]


def test_failure_report_moves_the_task_to_trash_with_stderr(farm) -> None:
    project, coordinator, _, client = farm
    coordinator.settings.max_render_failures = 1  # the last render failure allowed
    register(client, "n1")
    task_id = claim(client, "n1")["task_id"]
    body = {"node": "n1", "attempt": 1, "reason": "ffmpeg exited with code 1", "stderr": "boom\nlast line",
            "stage": "render", "seconds": 1.5}
    assert client.post(f"/tasks/{task_id}/failure", json={**body, "attempt": 2}).status_code == 409
    response = client.post(f"/tasks/{task_id}/failure", json=body)
    assert response.status_code == 200
    failed = project.layout.task_dir(task_id, TaskState.FAILED)
    assert (failed / "stderr.log").read_text() == "boom\nlast line"
    assert json.loads((failed / "reason.json").read_text())["node"] == "n1"


def test_release_requeues_and_forced_encoders_go_to_capable_nodes(farm) -> None:
    project, _, _, client = farm
    layout = project.layout
    for task_id in layout.task_ids(TaskState.QUEUED):
        meta_path = layout.task_dir(task_id) / "metadata.json"
        meta = json.loads(meta_path.read_text())
        meta["render"]["encoder"] = "h264_nvenc"
        meta_path.write_text(json.dumps(meta))
    register(client, "cpu", ("libx264",))
    register(client, "gpu", ("h264_nvenc", "libx264"))
    assert claim(client, "cpu") is None
    task = claim(client, "gpu")
    assert task is not None
    task_id = task["task_id"]
    response = client.post(f"/tasks/{task_id}/release", json={"node": "gpu", "attempt": 1})
    assert response.status_code == 204
    assert layout.task_dir(task_id).is_dir()
    again = [claim(client, "gpu"), claim(client, "gpu")]
    assert {t["task_id"]: t["attempt"] for t in again}[task_id] == 2
    assert client.post("/events", json=stage_event("completed", task_id, "gpu", 2)).status_code == 422
    response = client.post("/events", json=stage_event("downloaded", task_id, "gpu", 2, seconds=0.5))
    assert response.status_code == 204
    downloaded = [e for e in read_events(layout.events_file) if e["event"] == "downloaded"]
    assert downloaded[0]["node"] == "gpu" and downloaded[0]["seconds"] == 0.5


def test_node_download_resumes_a_broken_transfer(farm, tmp_path: Path, caplog) -> None:
    import logging
    import threading

    from storyreel.node.client import CoordinatorClient

    project, _, _, client = farm
    register(client, "n1")
    task = claim(client, "n1")
    entry = next(f for f in task["files"] if f["name"] == "voice.mp3")
    good = (project.layout.task_dir(task["task_id"], TaskState.PROCESSING) / "voice.mp3").read_bytes()
    node = CoordinatorClient(str(client.base_url).removesuffix("/api/v1/"), project.token, "n1")
    dest = tmp_path / "inputs" / "voice.mp3"
    part = dest.with_name("voice.mp3.part")
    dest.parent.mkdir()

    def fetch() -> int:
        return node.download(task["task_id"], 1, "voice.mp3", entry["size"], entry["sha256"], dest,
                             threading.Event())

    part.write_bytes(good[: len(good) // 2])  # a transfer that broke off halfway
    assert fetch() == len(good) and dest.read_bytes() == good and not part.exists()
    # A damaged partial file: the resumed whole fails its sha256 (proof the Range was used)
    # and the file is fetched again from the start.
    dest.unlink()
    part.write_bytes(b"x" * (len(good) // 2))
    with caplog.at_level(logging.WARNING, logger="storyreel"):
        assert fetch() == len(good)
    assert dest.read_bytes() == good and "arrived damaged" in caplog.text
    node.close()


def test_a_restarted_coordinator_honours_leases_for_one_more_period(farm) -> None:
    project, coordinator, clock, client = farm
    register(client, "n1")
    task_id = claim(client, "n1")["task_id"]
    clock.now += 100  # the main worker was down far past the lease's deadline
    successor = Coordinator(project, clock=clock)
    assert successor.reap() == []
    assert project.layout.task_dir(task_id, TaskState.PROCESSING).is_dir()
    successor.heartbeat(task_id, "n1", 1, {"stage": "rendering"})  # the node carries on
    clock.now += 29
    assert successor.reap() == []
    clock.now += 2
    assert successor.reap() == [task_id]


def test_one_coordinator_per_root_and_a_taken_port_is_a_clear_error(farm, tmp_path: Path, media) -> None:
    from storyreel.errors import ConfigError

    project, coordinator, _, client = farm
    with pytest.raises(ConfigError, match="another main worker"):
        CoordinatorServer(Coordinator(project), "127.0.0.1:0").start()
    other = farm_project(tmp_path / "other", media, tasks=1)
    port = int(str(client.base_url).split(":")[-1].split("/")[0])
    with pytest.raises(ConfigError, match="cannot listen"):
        CoordinatorServer(Coordinator(other), f"127.0.0.1:{port}").start()
    server = CoordinatorServer(Coordinator(other), "127.0.0.1:0")  # the lock went with the failure
    server.start()
    server.stop()
