"""Helpers for the coordinator's unit tests: a project whose tasks/ holds hand-made task
folders (no media, no planner), a clock the test moves, a coordinator over both, and that
coordinator served over real HTTP."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.client import HTTPResponse
from pathlib import Path

import httpx

from storyreel.coordinator import Coordinator, CoordinatorServer
from storyreel.layout import LEASE_NAME, TaskState
from storyreel.project import Project
from storyreel.protocol import API_PREFIX, SHA256_HEADER, SIZE_HEADER

# Lease settings of every unit test: round numbers, so deadlines read plainly.
LEASE = 30.0
HEARTBEAT = 5.0
START = 1_900_000_000.0


class Clock:
    """The coordinator's wall clock, moved by the test so expiry needs no waiting."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_project(root: Path, *, tasks: int, max_attempts: int = 3) -> Project:
    """A project whose tasks/ holds `tasks` task folders, created a second apart (oldest first)."""
    Project.init(root)
    project = Project.open(root)
    settings = project.settings.coordinator
    settings.lease_seconds, settings.heartbeat_seconds, settings.max_attempts = LEASE, HEARTBEAT, max_attempts
    for number in range(tasks):
        add_task(project, created_at=f"2026-01-01T00:00:{number:02d}Z")
    return project


def add_task(project: Project, *, created_at: str, encoder: str = "auto") -> str:
    task_id = str(uuid.uuid4())
    folder = project.layout.task_dir(task_id, TaskState.QUEUED)
    folder.mkdir(parents=True)
    metadata = {"task_id": task_id, "created_at": created_at, "voice_duration": 3.0,
                "render": {"encoder": encoder}}
    (folder / "metadata.json").write_text(json.dumps(metadata))
    (folder / "voice.mp3").write_bytes(b"voice " * 100)
    return task_id


def coordinator(project: Project, clock: Clock, *nodes: str) -> Coordinator:
    """A coordinator on `clock` with `nodes` registered (libx264 each)."""
    coord = Coordinator(project, clock=clock)
    for node in nodes:
        coord.register(node, "test", ["libx264"], "t")
    return coord


def lease_file(project: Project, task_id: str, state: TaskState = TaskState.PROCESSING) -> dict | None:
    path = project.layout.task_dir(task_id, state) / LEASE_NAME
    return json.loads(path.read_text()) if path.exists() else None


def events(project: Project, task_id: str) -> list[tuple[str, int | None]]:
    """(event, attempt) of one task, in order."""
    from storyreel.logs import read_events

    return [(e["event"], e.get("attempt")) for e in read_events(project.layout.events_file)
            if e.get("task_id") == task_id]


@contextmanager
def held_elsewhere(lock: threading.RLock) -> Iterator[None]:
    """`lock` held by another thread for the duration (a claim or a move in progress)."""
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            taken.set()
            done.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert taken.wait(10)
        yield
    finally:
        done.set()
        holder.join()


class Served:
    """A coordinator served by a real uvicorn on a free loopback port, with a client that
    speaks as node `node` and a raw socket for requests a client library will not send."""

    def __init__(self, coord: Coordinator, node: str = "n1") -> None:
        self.coord = coord
        self.node = node
        self.server = CoordinatorServer(coord, "127.0.0.1:0")
        self.url = self.server.start()
        self.auth = {"Authorization": f"Bearer {coord.project.token}"}
        self.http = httpx.Client(base_url=self.url + API_PREFIX, headers=self.auth, timeout=30)

    def close(self) -> None:
        self.http.close()
        self.server.stop()

    def claim(self) -> tuple[str, int]:
        """(task id, attempt) of the task `node` claims now."""
        response = self.http.post("/claim", json={"node": self.node})
        assert response.status_code == 200, response.text
        task = response.json()["task"]
        return task["task_id"], task["attempt"]

    def put(self, task_id: str, attempt: int, body: bytes | Iterator[bytes], *, size: int,
            sha256: str) -> httpx.Response:
        return self.http.put(f"/tasks/{task_id}/output", params={"node": self.node, "attempt": attempt},
                             headers={SHA256_HEADER: sha256, SIZE_HEADER: str(size)}, content=body)

    def head_only(self, task_id: str, attempt: int, *, size: int, timeout: float = 5.0) -> HTTPResponse:
        """Send an upload's head announcing `size` bytes and not one byte of its body; the
        answer must come all the same (within `timeout`)."""
        port = int(self.url.rsplit(":", 1)[1])
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        head = (f"PUT {API_PREFIX}/tasks/{task_id}/output?node={self.node}&attempt={attempt} HTTP/1.1\r\n"
                f"Host: 127.0.0.1\r\nAuthorization: {self.auth['Authorization']}\r\n"
                f"{SHA256_HEADER}: {'0' * 64}\r\n{SIZE_HEADER}: {size}\r\nContent-Length: {size}\r\n\r\n")
        sock.sendall(head.encode())
        answer = HTTPResponse(sock)
        answer.begin()
        answer.body = answer.read()  # type: ignore[attr-defined]
        sock.close()
        return answer


def leftovers(project: Project, task_id: str) -> list[str]:
    """Hidden files (an upload's part file) in the task's processing folder."""
    folder = project.layout.task_dir(task_id, TaskState.PROCESSING)
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
