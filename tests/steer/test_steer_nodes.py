"""Steering a farm of real processes: a held task cancelled mid-render (its node's ffmpeg
stops, its upload is refused), a failed render retried on another node, a node paused after
failing task after task, and `storyreel node pause|resume|drain`."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest
from farm.farmkit import Farm, farm_project, wait_for
from steerkit import ffmpeg_pids, node_rows, reason_of, steer

from storyreel.layout import TaskState
from storyreel.node.faults import FAULT_RENDERS_ENV
from storyreel.plan import Planner
from storyreel.project import Project

pytestmark = pytest.mark.slow


def make(tmp_path: Path, media, *, tasks: int, voice: float = 3.0) -> Farm:
    return Farm(farm_project(tmp_path / "root", media, tasks=tasks, voice_seconds=voice), tmp_path)


def slow(farm: Farm) -> Farm:
    """The farm's tasks planned again with renders slow enough to be caught while ffmpeg runs
    (640x360, veryslow): a task keeps the render settings it was planned with."""
    layout = farm.project.layout
    layout.config_file.write_text(layout.config_file.read_text()
                                  .replace('resolution = "160x90"', 'resolution = "640x360"')
                                  .replace('preset = "ultrafast"', 'preset = "veryslow"'))
    planned = layout.task_ids(TaskState.QUEUED)
    for task_id in planned:
        shutil.rmtree(layout.task_dir(task_id))
    project = Project.open(layout.root)
    assert len(Planner(project).plan_pending()) == len(planned)
    return Farm(project, farm.tmp)


@pytest.fixture()
def farms():
    made: list[Farm] = []
    yield made
    for farm in made:
        farm.stop()


def rendering(farm: Farm, node: str) -> str | None:
    rows = node_rows(farm.url, farm.token)
    tasks = rows.get(node, {}).get("current_tasks", [])
    return next((t["task_id"] for t in tasks if t["stage"] == "rendering"), None)


def test_cancel_of_a_held_task_stops_its_ffmpeg_and_refuses_its_upload(tmp_path: Path, media, farms) -> None:
    farm = slow(make(tmp_path, media, tasks=1, voice=30.0))
    farms.append(farm)
    farm.start_main()
    node = farm.start_node("n1")
    task_id = wait_for("the render to start", lambda: rendering(farm, "n1"), procs=[node, farm.main])
    marker = str(tmp_path / "work-n1")
    pids = wait_for("ffmpeg to run", lambda: ffmpeg_pids(marker), procs=[node])

    done = steer("cancel", farm.project.layout.root, task_id)
    assert done.returncode == 0, done.stderr
    assert "n1 is told at its next heartbeat" in done.stdout
    reason = reason_of(farm.project, task_id)
    assert reason["cancelled"] is True and reason["node"] == "n1" and reason["from"] == "processing"

    wait_for("the node's ffmpeg to stop", lambda: not any(p in ffmpeg_pids(marker) for p in pids), timeout=30)
    wait_for("the node to say so", lambda: "cancelled by the operator" in farm.node_log("n1").read_text())
    # The revoked attempt is told why at every turn, its upload too (410), and nothing is published.
    auth = {"Authorization": f"Bearer {farm.token}"}
    beat = httpx.post(f"{farm.url}/api/v1/tasks/{task_id}/heartbeat", headers=auth,
                      json={"node": "n1", "attempt": 1}, timeout=5)
    assert beat.status_code == 200 and "cancelled by the operator" in beat.json()["revoked"]
    upload = httpx.put(f"{farm.url}/api/v1/tasks/{task_id}/output", params={"node": "n1", "attempt": 1},
                       headers={**auth, "X-Storyreel-Sha256": "0" * 64, "X-Storyreel-Size": "4"},
                       content=b"fake", timeout=5)
    assert upload.status_code == 410 and "cancelled" in upload.json()["detail"]
    assert not farm.ids(TaskState.DONE) and not farm.ids(TaskState.PROCESSING)
    assert farm.project.layout.task_dir(task_id, TaskState.FAILED).is_dir()
    assert node.poll() is None  # the node carries on, waiting for work
    assert "Uploaded task" not in farm.node_log("n1").read_text()


def test_a_render_that_fails_on_one_node_is_retried_on_another(tmp_path: Path, media, farms) -> None:
    farm = slow(make(tmp_path, media, tasks=1, voice=10.0))
    farms.append(farm)
    root = farm.project.layout.root
    task_id = farm.ids(TaskState.QUEUED)[0]
    farm.start_main()
    b = farm.start_node("b")
    wait_for("b to render", lambda: rendering(farm, "b"), procs=[b, farm.main])
    paused = steer("node", "pause", root, "b")  # its task goes back; b waits aside
    assert paused.returncode == 0 and "node b paused" in paused.stdout and "1 task(s)" in paused.stdout, paused
    wait_for("b to stop its render", lambda: "taken back: the operator paused this node"
             in farm.node_log("b").read_text(), procs=[b])
    assert farm.project.layout.task_dir(task_id, TaskState.QUEUED).is_dir()

    a = farm.start_node("a", env={FAULT_RENDERS_ENV: "5"})
    wait_for("a's failure to be retried", lambda: farm.events("requeued", task_id=task_id, node="a"),
             procs=[a, b, farm.main])
    lease = farm.project.layout.task_dir(task_id, TaskState.QUEUED) / "lease.json"
    assert '"a"' in wait_for("the task back in tasks/", lambda: lease.is_file() and lease.read_text())
    assert node_rows(farm.url, farm.token)["b"]["state"] == "paused"
    assert "Claiming nothing: node b is paused" in farm.node_log("b").read_text()

    assert steer("node", "resume", root, "b").returncode == 0
    wait_for("b to render it", lambda: farm.events("completed", task_id=task_id), procs=[a, b, farm.main])
    assert farm.events("completed", task_id=task_id)[0]["node"] == "b"
    assert [e["node"] for e in farm.events("claimed", task_id=task_id)] == ["b", "a", "b"]  # a never again
    assert farm.project.layout.output_file(task_id).is_file() and not farm.events("failed")


def test_a_node_failing_task_after_task_is_paused_then_resumed_and_drained(tmp_path: Path, media, farms) -> None:
    farm = make(tmp_path, media, tasks=3)
    config = farm.project.layout.config_file
    config.write_text(config.read_text().replace(
        "max_attempts = 3\n", "max_attempts = 3\nmax_render_failures = 1\npause_after_failures = 2\n"))
    farms.append(farm)
    root = farm.project.layout.root
    farm.start_main()
    a = farm.start_node("a", env={FAULT_RENDERS_ENV: "2"})

    wait_for("a paused", lambda: node_rows(farm.url, farm.token).get("a", {}).get("state") == "paused",
             procs=[a, farm.main])
    assert len(farm.events("failed")) == 2
    wait_for("its third task back in the queue", lambda: len(farm.ids(TaskState.QUEUED)) == 1)
    log = farm.main_log.read_text()
    assert any(" WARN main_worker " in line and "Render node a paused: it failed 2 different tasks in a row"
               in line for line in log.splitlines())
    assert node_rows(farm.url, farm.token)["a"]["steer_reason"] == "failed 2 different tasks in a row"

    assert steer("node", "resume", root, "a").returncode == 0
    wait_for("a renders the last task", lambda: farm.events("completed"), procs=[a, farm.main])

    drained = steer("node", "drain", root, "a")
    assert drained.returncode == 0 and "draining" in drained.stdout
    assert node_rows(farm.url, farm.token)["a"]["state"] == "draining"
    retried = steer("retry", root, "--failed")  # two chapters planned again: a claims neither
    assert retried.returncode == 0 and "retried 2" in retried.stdout
    wait_for("the two new tasks", lambda: len(farm.ids(TaskState.QUEUED)) == 2, procs=[a, farm.main])
    claims = len(farm.events("claimed"))
    time.sleep(2.0)  # several poll periods of the node
    assert len(farm.events("claimed")) == claims and len(farm.ids(TaskState.QUEUED)) == 2
    assert steer("node", "resume", root, "a").returncode == 0
    wait_for("both rendered", lambda: len(farm.events("completed")) == 3, procs=[a, farm.main])
    unknown = steer("node", "pause", root, "zz")
    assert unknown.returncode == 2 and "no render node 'zz'" in unknown.stderr
