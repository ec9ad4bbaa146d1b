"""The main worker is the only writer of the project root, for real: beside a serving
`storyreel main`, every other writing mode is refused before it touches anything, and the
read-only commands never take the lock nor write."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from farm.farmkit import Farm, farm_project, free_port, wait_for

from storyreel.layout import TEMP_PREFIX, TaskState

STORYREEL = [sys.executable, "-m", "storyreel.cli"]
# A refused main worker gives up in about a second; this bound only catches a hang.
REFUSAL_LIMIT = 120.0
PART_BYTES = b"half of a render, still arriving"


@dataclass
class Serving:
    """A serving main worker with a task mid-upload and a link commit half done."""

    farm: Farm
    task_id: str
    part: Path
    record: Path
    chunk: Path

    def untouched(self) -> None:
        layout = self.farm.project.layout
        assert self.part.read_bytes() == PART_BYTES, "the in-flight upload part file is gone"
        assert json.loads(self.record.read_text())["state"] == "committing", "the link commit was undone"
        assert self.chunk.read_text() == "the first chunk of three\n"
        assert layout.task_ids(TaskState.PROCESSING) == [self.task_id]
        assert len(layout.task_ids(TaskState.QUEUED)) == 1, "the chapters were planned again"
        recorded = json.loads(layout.coordinator_file.read_text())
        assert recorded["pid"] == self.farm.main.pid and recorded["port"] == self.farm.port


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory, media) -> Iterator[Serving]:
    """One serving main worker for every refused mode: each refusal must leave it as it was,
    so each test also checks that the refusals before it touched nothing."""
    tmp_path = tmp_path_factory.mktemp("serving")
    project = farm_project(tmp_path / "root", media, tasks=2, lease=600.0, heartbeat=5.0)
    farm = Farm(project, tmp_path)
    farm.start_main()
    layout = project.layout
    with httpx.Client(base_url=farm.url + "/api/v1", headers={"Authorization": f"Bearer {farm.token}"},
                      timeout=30) as client:
        client.post("/nodes/register", json={"node": "n1", "host": "test", "encoders": ["libx264"],
                                             "version": "t"}).raise_for_status()
        grant = client.post("/claim", json={"node": "n1"}).json()["task"]
    task_id = grant["task_id"]
    part = layout.task_dir(task_id, TaskState.PROCESSING) / f"{TEMP_PREFIX}0123456789ab-final.mp4.part"
    part.write_bytes(PART_BYTES)
    link_dir = layout.scanned_link_dir("tales", "story1")
    link_dir.mkdir(parents=True)
    chunk = link_dir.parent / "chunk_0001.txt"
    chunk.write_text("the first chunk of three\n")
    record = link_dir / "links.txt.record.json"
    record.write_text(json.dumps({"state": "committing",
                                  "chunks": ["chunk_0001.txt", "chunk_0002.txt", "chunk_0003.txt"]}))
    try:
        yield Serving(farm, task_id, part, record, chunk)
    finally:
        farm.stop()


@pytest.mark.parametrize("mode", [["main", "--once"], ["main", "--listen", "127.0.0.1:0"], ["run"]],
                         ids=["main-once", "main", "run"])
def test_a_second_main_worker_is_refused_and_touches_nothing(serving: Serving, mode: list[str]) -> None:
    farm = serving.farm
    root = str(farm.project.layout.root)
    done = subprocess.run([*STORYREEL, mode[0], root, *mode[1:]], capture_output=True, text=True,
                          timeout=REFUSAL_LIMIT, stdin=subprocess.DEVNULL)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "another main worker" in done.stderr
    assert f"pid {farm.main.pid}" in done.stderr
    assert f"127.0.0.1:{farm.port}" in done.stderr
    serving.untouched()
    assert farm.main.poll() is None, "the serving main worker must keep serving"


def _missing_folders(tmp_path: Path, media) -> tuple[Path, list[Path]]:
    project = farm_project(tmp_path / "root", media, tasks=1)
    layout = project.layout
    gone = [layout.journal, layout.raw / "frame", layout.failed]
    for folder in gone:
        folder.rmdir()
    return layout.root, gone


def test_status_reads_without_the_lock_and_writes_nothing(tmp_path: Path, media) -> None:
    root, gone = _missing_folders(tmp_path, media)
    done = subprocess.run([*STORYREEL, "status", str(root), "--json", "--url", f"http://127.0.0.1:{free_port()}"],
                          capture_output=True, text=True, timeout=REFUSAL_LIMIT, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout)["queues"]["tasks"] == 1
    assert not any(folder.exists() for folder in gone)
    assert not (root / ".storyreel" / "coordinator.lock").exists()


def test_dashboard_serves_beside_a_main_worker_without_the_lock(tmp_path: Path, media) -> None:
    root, gone = _missing_folders(tmp_path, media)
    lock = root / ".storyreel" / "coordinator.lock"
    port = free_port()
    proc = subprocess.Popen([*STORYREEL, "dashboard", str(root), "--listen", f"127.0.0.1:{port}"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def state() -> httpx.Response | None:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/dashboard/api/state", timeout=10)
            except httpx.TransportError:
                return None

        reply = wait_for("the dashboard to answer", state, procs=[proc])
        assert reply.status_code == 200 and reply.json()["queues"]["tasks"] == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not any(folder.exists() for folder in gone)
    assert not lock.exists()


def test_the_lock_goes_with_the_main_worker(tmp_path: Path, media) -> None:
    """A killed holder frees the root at once; the next main worker recovers and serves."""
    project = farm_project(tmp_path / "root", media, tasks=1)
    farm = Farm(project, tmp_path)
    try:
        first = farm.start_main()
        first.kill()
        first.wait()
        stray = project.layout.tasks / f"{TEMP_PREFIX}left-by-the-killed-one"
        stray.write_bytes(b"x")
        time.sleep(0.1)
        farm.start_main()
        wait_for("the temp sweep", lambda: not stray.exists(), procs=[farm.main])
    finally:
        farm.stop()
