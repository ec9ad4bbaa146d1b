"""The farm as real processes: `storyreel main --listen` and `storyreel render` nodes over
loopback HTTP, with real SIGKILL, SIGSTOP/SIGCONT and SIGTERM."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from damaged import garble_middle, mdat_span
from farmkit import Farm, farm_project, storyreel, wait_for

from storyreel.layout import TEMP_PREFIX, TaskState
from storyreel.media.probe import probe
from storyreel.shutdown import REPEAT_SECONDS

pytestmark = pytest.mark.slow

# Long enough that a test sees a node mid-render (a few seconds at 160x90).
LONG_VOICE = 12.0
VERY_LONG_VOICE = 90.0


@pytest.fixture()
def make_farm(tmp_path: Path, media):
    farms: list[Farm] = []

    def make(tasks: int, **kw) -> Farm:
        project = farm_project(tmp_path / "root", media, tasks=tasks, **kw)
        farm = Farm(project, tmp_path)
        farms.append(farm)
        return farm

    yield make
    for farm in farms:
        farm.stop()


def node_tasks(farm: Farm, node: str) -> list[dict]:
    """The node's current tasks as the coordinator sees them (its heartbeats)."""
    try:
        response = httpx.get(f"{farm.url}/api/v1/nodes", headers={"Authorization": f"Bearer {farm.token}"},
                             timeout=5)
    except httpx.HTTPError:
        return []
    for row in response.json() if response.status_code == 200 else []:
        if row["node"] == node:
            return row["current_tasks"]
    return []


def rendering(farm: Farm, node: str) -> str | None:
    """The task `node` is rendering now, if any."""
    for task in node_tasks(farm, node):
        if task["stage"] == "rendering":
            return task["task_id"]
    return None


def no_partial_files(root: Path) -> list[Path]:
    """Temp or part files anywhere under the project root (there must be none)."""
    return [p for p in root.rglob("*") if p.name.startswith(TEMP_PREFIX) or p.name.endswith(".part")]


def assert_output(farm: Farm, task_id: str) -> None:
    layout = farm.project.layout
    final = layout.output_file(task_id)
    info = probe(final)
    assert info.first_video is not None and info.first_video.width == 160
    assert info.first_audio is not None
    # The video, its metadata and the node's thumbnail: no part file or temp name left behind.
    assert sorted(p.name for p in final.parent.iterdir()) == ["final.mp4", "metadata.json", "thumbnail.jpg"]


def test_two_nodes_drain_six_tasks_each_rendered_once(make_farm) -> None:
    farm = make_farm(tasks=6)
    tasks = farm.ids(TaskState.QUEUED)
    farm.start_main()
    farm.start_node("n1", "--copy-inputs")
    farm.start_node("n2")
    procs = [farm.main, *farm.nodes.values()]
    wait_for("six outputs", lambda: len(farm.events("completed")) == 6 and farm.drained(), procs=procs)

    assert sorted(e["task_id"] for e in farm.events("completed")) == sorted(tasks)
    assert sorted(e["task_id"] for e in farm.events("rendered")) == sorted(tasks)
    assert sorted(e["task_id"] for e in farm.events("claimed")) == sorted(tasks)
    assert {e["attempt"] for e in farm.events("completed")} == {1}
    for task_id in tasks:
        assert_output(farm, task_id)
        voice = farm.events("task_created", task_id=task_id)[0]["voice_duration"]
        assert abs(probe(farm.project.layout.output_file(task_id)).duration - voice) < 0.2
    # n1 downloads its inputs over HTTP; n2 sees the project root and reads them in place.
    assert {e["in_place"] for e in farm.events("downloaded", node="n1")} <= {False}
    assert {e["in_place"] for e in farm.events("downloaded", node="n2")} <= {True}
    assert all(e["bytes"] > 0 for e in farm.events("downloaded", node="n1"))
    assert not farm.ids(TaskState.FAILED) and not no_partial_files(farm.project.layout.root)


def test_prefetch_and_first_sigterm_finish_current_and_release_the_next(make_farm) -> None:
    farm = make_farm(tasks=3, voice_seconds=LONG_VOICE)
    farm.start_main()
    node = farm.start_node("n1", "--copy-inputs")
    first = wait_for("n1 to render", lambda: rendering(farm, "n1"), procs=[node])
    # While the first task renders, the next one is claimed and downloaded (SPEC §7).
    second = wait_for("a prefetched download",
                      lambda: [e["task_id"] for e in farm.events("downloaded") if e["task_id"] != first],
                      procs=[node])[0]
    assert rendering(farm, "n1") == first, "the render ended before the test could stop the node"
    node.send_signal(signal.SIGTERM)
    assert node.wait(60) == 0

    layout = farm.project.layout
    assert layout.output_file(first).is_file()
    assert farm.events("released", task_id=second, node="n1")
    assert layout.task_dir(second, TaskState.QUEUED).is_dir()
    assert len(farm.ids(TaskState.QUEUED)) == 2 and not farm.ids(TaskState.PROCESSING)
    downloaded = farm.events("downloaded", task_id=second)[0]
    rendered = farm.events("rendered", task_id=first)[0]
    assert downloaded["ended"] < rendered["ended"]  # task 2 arrived before task 1's render ended
    # ... and went back as soon as the node was told to stop, not after that render.
    assert farm.events("released", task_id=second)[0]["ts"] <= rendered["ts"]


def test_second_sigterm_stops_at_once_and_releases_everything(make_farm) -> None:
    # Long enough that the render is still running when the second signal comes, more
    # than REPEAT_SECONDS after the first, on a quiet machine too.
    farm = make_farm(tasks=1, voice_seconds=VERY_LONG_VOICE)
    farm.start_main()
    node = farm.start_node("n1")
    task_id = wait_for("n1 to render", lambda: rendering(farm, "n1"), procs=[node])
    node.send_signal(signal.SIGTERM)
    wait_for("the first stop to be seen", lambda: "Stopping:" in farm.node_log("n1").read_text())
    time.sleep(REPEAT_SECONDS + 0.2)  # a second signal within REPEAT_SECONDS repeats the first
    node.send_signal(signal.SIGTERM)
    node.wait(30)
    layout = farm.project.layout
    assert layout.task_dir(task_id, TaskState.QUEUED).is_dir()
    assert farm.events("released", task_id=task_id, node="n1")
    assert not farm.ids(TaskState.DONE) and not no_partial_files(layout.root)


def test_sigkill_mid_render_requeues_to_the_other_node(make_farm) -> None:
    farm = make_farm(tasks=1, voice_seconds=LONG_VOICE)
    farm.start_main()
    victim = farm.start_node("n1", "--copy-inputs")
    task_id = wait_for("n1 to render", lambda: rendering(farm, "n1"), procs=[victim])
    os.killpg(victim.pid, signal.SIGKILL)  # the node and its ffmpeg, as when a machine dies
    victim.wait()
    assert not farm.events("rendered"), "the render ended before the node was killed"
    farm.start_node("n2", "--copy-inputs")
    wait_for("the task to finish", lambda: farm.events("completed", task_id=task_id), procs=[farm.main])

    completed = farm.events("completed")
    assert [(e["node"], e["attempt"]) for e in completed] == [("n2", 2)]
    assert farm.events("requeued", task_id=task_id)[0]["attempt"] == 2
    assert "WARN main_worker" in farm.main_log.read_text()
    assert_output(farm, task_id)
    assert farm.drained() and not no_partial_files(farm.project.layout.root)


def test_paused_node_past_its_lease_cannot_overwrite_the_new_result(make_farm) -> None:
    farm = make_farm(tasks=1, voice_seconds=LONG_VOICE, lease=2.0, heartbeat=0.4)
    farm.start_main()
    paused = farm.start_node("n1", "--copy-inputs")
    task_id = wait_for("n1 to render", lambda: rendering(farm, "n1"), procs=[paused])
    os.killpg(paused.pid, signal.SIGSTOP)
    farm.start_node("n2", "--copy-inputs")
    wait_for("n2 to finish the task", lambda: farm.events("completed", task_id=task_id), procs=[farm.main])
    final = farm.project.layout.output_file(task_id)
    digest = hashlib.sha256(final.read_bytes()).hexdigest()

    os.killpg(paused.pid, signal.SIGCONT)
    wait_for("n1 to learn it lost the lease", lambda: "Lost the lease" in farm.node_log("n1").read_text(),
             procs=[paused])
    main_log = farm.main_log.read_text()
    assert "Refused heartbeat for task" in main_log or "Refused upload of task" in main_log
    paused.send_signal(signal.SIGTERM)
    assert paused.wait(60) == 0
    assert [(e["node"], e["attempt"]) for e in farm.events("completed")] == [("n2", 2)]
    assert hashlib.sha256(final.read_bytes()).hexdigest() == digest
    assert not farm.events("uploaded", node="n1")
    assert farm.drained() and not no_partial_files(farm.project.layout.root)


@pytest.mark.parametrize(("faults", "outcome"), [(3, TaskState.DONE), (4, TaskState.FAILED)])
def test_upload_is_retried_three_times_after_the_first_try(make_farm, faults: int,
                                                           outcome: TaskState) -> None:
    # Fault injection: the node announces a wrong sha256 on its first `faults` uploads; the
    # real coordinator checks it and refuses each (422), as it would a file damaged in transit.
    # SPEC §8 "retry up to 3 times" with upload_retries = 3 (farmkit): four tries in all.
    farm = make_farm(tasks=1)
    task_id = farm.ids(TaskState.QUEUED)[0]
    farm.start_main()
    node = farm.start_node("n1", env={"STORYREEL_FAULT_UPLOAD_FAILURES": str(faults)})
    ended = "uploaded" if outcome == TaskState.DONE else "failed"  # the node's event comes last
    wait_for("the task to end", lambda: farm.events(ended, task_id=task_id), procs=[node, farm.main])
    refused = farm.main_log.read_text().count("Refused upload of task")
    layout = farm.project.layout
    if outcome == TaskState.DONE:
        assert refused == 3
        assert farm.events("uploaded", task_id=task_id)[0]["tries"] == 4
        assert_output(farm, task_id)
    else:
        assert refused == 4
        failed = layout.task_dir(task_id, TaskState.FAILED)
        assert "upload failed 4 times" in (failed / "reason.json").read_text()
        assert (failed / "stderr.log").exists()
        assert not layout.task_dir(task_id, TaskState.DONE).exists()
    assert not no_partial_files(layout.root)


def test_render_error_sends_the_task_to_trash_with_ffmpeg_stderr(make_farm, media) -> None:
    farm = make_farm(tasks=1)
    task_id = farm.ids(TaskState.QUEUED)[0]
    folder = farm.project.layout.task_dir(task_id)
    for clip in folder.glob("video_*.mp4"):  # a clip that probes but does not decode
        clip.unlink()
        data = bytearray(media.clip(seconds=4.0, audio=False).read_bytes())
        start = int(len(data) * 0.45)
        data[start:start + len(data) // 10] = os.urandom(len(data) // 10)
        clip.write_bytes(bytes(data))
    farm.start_main()
    node = farm.start_node("n1", "--copy-inputs")
    wait_for("the failure report", lambda: farm.events("failed", task_id=task_id), procs=[node, farm.main])
    failed = farm.project.layout.task_dir(task_id, TaskState.FAILED)
    reason = json.loads((failed / "reason.json").read_text())
    assert reason["reason"].startswith("render failed") and reason["node"] == "n1" and reason["stage"] == "render"
    assert "video_0001.mp4" in (failed / "stderr.log").read_text()
    assert not farm.ids(TaskState.DONE) and farm.drained()
    assert node.poll() is None  # the node carries on with the next task


def test_a_clip_damaged_after_ingest_is_set_aside_and_the_chapter_rendered_again(make_farm) -> None:
    farm = make_farm(tasks=1)
    layout = farm.project.layout
    (first,) = farm.ids(TaskState.QUEUED)
    meta = json.loads((layout.task_dir(first) / "metadata.json").read_text())
    bad = layout.task_dir(first).joinpath("video_0001.mp4").resolve()  # the scanned clip it links to
    span = mdat_span(bad.read_bytes())
    garble_middle(bad, bad, length=(span[1] - span[0]) // 3)
    farm.start_main()
    node = farm.start_node("n1", "--copy-inputs")  # its inputs come over HTTP, damage and all
    done = wait_for("the chapter's new task to render",
                    lambda: [e for e in farm.events("completed") if e["task_id"] != first],
                    procs=[node, farm.main])

    failed = layout.task_dir(first, TaskState.FAILED)
    assert "video_0001.mp4" in (failed / "stderr.log").read_text()
    reason = json.loads((failed / "reason.json").read_text())
    assert reason["bad_input"] == "video_0001.mp4" and reason["replan"] is True and reason["node"] == "n1"
    trashed = layout.invalid / bad.relative_to(layout.scanned)
    assert not bad.exists() and trashed.is_file()
    assert json.loads(layout.reason_file(trashed).read_text())["task_id"] == first
    second = done[0]["task_id"]
    assert farm.ids(TaskState.DONE) == [second]
    assert_output(farm, second)
    again = json.loads((layout.task_dir(second, TaskState.DONE) / "metadata.json").read_text())
    assert again["chapter"] == meta["chapter"]
    assert again["video_sources"] and layout.relative(bad) not in again["video_sources"]
    assert node.poll() is None


def test_main_worker_restart_mid_render_loses_nothing(make_farm) -> None:
    farm = make_farm(tasks=1, voice_seconds=LONG_VOICE)
    farm.start_main()
    node = farm.start_node("n1", "--copy-inputs")
    task_id = wait_for("n1 to render", lambda: rendering(farm, "n1"), procs=[node])
    os.killpg(farm.main.pid, signal.SIGKILL)
    farm.main.wait()
    farm.start_main()
    wait_for("the task to finish", lambda: farm.events("completed", task_id=task_id), procs=[node, farm.main])
    assert [(e["node"], e["attempt"]) for e in farm.events("completed")] == [("n1", 1)]
    assert not farm.events("requeued")
    assert_output(farm, task_id)
    wait_for("n1 to register again", lambda: any(r["node"] == "n1" for r in _nodes(farm)))


def _nodes(farm: Farm) -> list[dict]:
    response = httpx.get(f"{farm.url}/api/v1/nodes", headers={"Authorization": f"Bearer {farm.token}"})
    return response.json()


def test_wrong_token_is_refused(make_farm) -> None:
    farm = make_farm(tasks=1)
    farm.start_main()
    proc = storyreel("render", "--server", farm.url, "--token", "not-the-token", "--node-id", "intruder",
                     log=farm.tmp / "intruder.log")
    assert proc.wait(60) == 2
    assert "refused our token" in (farm.tmp / "intruder.log").read_text()
    assert len(farm.ids(TaskState.QUEUED)) == 1
    assert not farm.events("node_registered")
    response = httpx.get(f"{farm.url}/api/v1/tasks/{farm.ids(TaskState.QUEUED)[0]}/files/..",
                         params={"node": "x", "attempt": 1}, headers={"Authorization": f"Bearer {farm.token}"})
    assert response.status_code in (400, 404)
    # A second main worker on the same root would hand out the same tasks: refused.
    second = storyreel("main", str(farm.project.layout.root), "--listen", "127.0.0.1:0",
                       log=farm.tmp / "second.log")
    assert second.wait(60) == 2
    assert "another main worker" in (farm.tmp / "second.log").read_text()


def test_run_with_local_nodes_goes_from_raw_to_output(tmp_path: Path, media) -> None:
    from farmkit import FARM_TOML

    from storyreel.project import Project

    root = tmp_path / "root"
    Project.init(root)
    (root / "storyreel.toml").write_text(FARM_TOML.format(encoder="libx264", lease=5.0, heartbeat=0.5,
                                                          max_attempts=3))
    raw = root / "raw"
    media.copy(media.clip(seconds=2.0), raw / "video" / "tales" / "clip1.mp4")
    media.copy(media.tone(seconds=6.0), raw / "music" / "tales" / "song.mp3")
    for story in ("one", "two"):
        media.copy(media.speech(), raw / "story" / "tales" / story / "voice" / "chapter_0001.mp3")
    done = subprocess.run(
        [*storyreel_argv(), "run", str(root), "--nodes", "2", "--until-idle"],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    project = Project.open(root)
    outputs = project.layout.task_ids(TaskState.DONE)
    assert len(outputs) == 2
    assert 'Running 2 local render nodes' in done.stderr
    nodes = {e["node"] for e in farm_events(project) if e["event"] == "completed"}
    assert nodes <= {"local-1", "local-2"} and nodes


def storyreel_argv() -> list[str]:
    import sys

    return [sys.executable, "-m", "storyreel.cli"]


def farm_events(project) -> list[dict]:
    from storyreel.logs import read_events

    return list(read_events(project.layout.events_file))


@pytest.mark.skip(reason="flaky about 1 run in 20 under load: a group-wide stop can still end as a failed render; being traced")
def test_a_stop_sent_to_the_whole_process_group_hands_the_render_back(make_farm) -> None:
    # A terminal's Ctrl-C or a supervisor's stop reaches the node and its ffmpeg at once:
    # the render was stopped, it did not fail, so the task goes back to tasks/.
    farm = make_farm(tasks=1, voice_seconds=VERY_LONG_VOICE)
    farm.start_main()
    node = farm.start_node("n1")
    task_id = wait_for("n1 to render", lambda: rendering(farm, "n1"), procs=[node])
    os.killpg(node.pid, signal.SIGTERM)
    assert node.wait(60) == 0
    layout = farm.project.layout
    assert layout.task_dir(task_id, TaskState.QUEUED).is_dir()
    assert farm.events("released", task_id=task_id, node="n1")
    assert not farm.ids(TaskState.FAILED) and not farm.ids(TaskState.DONE)
