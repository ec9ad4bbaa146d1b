"""The coordinator's steering in one process, on hand-made task folders and a clock the test
moves: which node gets a task that failed on another, the revoked attempt's answers, task
names and the actions the board offers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from coordinator.coordkit import Clock, coordinator, make_project

from storyreel.errors import Revoked, StaleLease, SteerRefused, UnknownTask
from storyreel.layout import TaskState
from storyreel.protocol import SteerAction, SteerRequest


def name_task(project, task_id: str, category: str, story: str, number: int) -> None:
    meta_path = project.layout.task_dir(task_id) / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta |= {"category": category, "story_name": story,
             "chapter": f"scanned/story/{category}/{story}/voice/chapter_{number:04d}.mp3"}
    meta_path.write_text(json.dumps(meta))


@pytest.fixture()
def farm(tmp_path: Path):
    project = make_project(tmp_path / "root", tasks=2)
    first, second = sorted(project.layout.task_ids(TaskState.QUEUED),
                           key=lambda t: json.loads((project.layout.task_dir(t) / "metadata.json")
                                                    .read_text())["created_at"])
    name_task(project, first, "tales", "dragon", 1)
    name_task(project, second, "tales", "dragon", 2)
    return project, coordinator(project, Clock(), "a", "b"), first, second


def test_a_render_failure_goes_to_another_node_then_to_trash(farm) -> None:
    project, coord, first, _ = farm
    assert coord.claim("a").lease.task_id == first
    assert coord.fail(first, "a", 1, "render failed: ffmpeg exited 1", "", {"stage": "render"}) is None
    assert project.layout.task_dir(first).is_dir()
    grant = coord.claim("a")  # a failed the older task: it gets the younger one
    assert grant.lease.task_id != first
    again = coord.claim("b")
    assert (again.lease.task_id, again.lease.attempt, again.lease.failed_nodes) == (first, 2, ["a"])
    dest = coord.fail(first, "b", 2, "render failed: ffmpeg exited 1", "", {"stage": "render"})
    reason = json.loads((dest / "reason.json").read_text())
    assert reason["failed_nodes"] == ["a", "b"] and dest.parent.name == "failed"


def test_an_upload_failure_is_not_retried_elsewhere(farm) -> None:
    project, coord, first, _ = farm
    coord.claim("a")
    dest = coord.fail(first, "a", 1, "upload failed 4 times", "", {"stage": "upload"})
    assert dest == project.layout.task_dir(first, TaskState.FAILED)


def test_the_only_node_gets_its_failed_task_back(tmp_path: Path) -> None:
    project = make_project(tmp_path / "root", tasks=1)
    coord = coordinator(project, Clock(), "solo")
    task_id = coord.claim("solo").lease.task_id
    coord.fail(task_id, "solo", 1, "render failed", "", {"stage": "render"})
    assert coord.claim("solo").lease.task_id == task_id


def test_a_cancelled_attempt_is_told_why_and_refused(farm) -> None:
    project, coord, first, _ = farm
    coord.claim("a")
    reply = coord.control.act(SteerRequest(action=SteerAction.CANCEL, target=first[:6]))
    assert reply.task_ids == [first] and "node a is told" in reply.message
    for call in (lambda: coord.heartbeat(first, "a", 1, {}), lambda: coord.upload_target(first, "a", 1, 10)):
        with pytest.raises(Revoked, match="cancelled by the operator"):
            call()
    with pytest.raises(StaleLease):
        coord.heartbeat(first, "a", 2, {})  # another attempt learns nothing it did not own
    assert json.loads((project.layout.task_dir(first, TaskState.FAILED) / "reason.json").read_text())["cancelled"]


def test_pause_hands_back_held_tasks_and_refuses_claims_with_a_reason(farm) -> None:
    project, coord, first, _ = farm
    coord.claim("a")
    reply = coord.control.act(SteerRequest(action=SteerAction.PAUSE, target="a"))
    assert reply.task_ids == [first] and project.layout.task_dir(first).is_dir()
    with pytest.raises(Revoked, match="paused this node"):
        coord.heartbeat(first, "a", 1, {})
    assert coord.claim("a") is None and coord.nodes.claim_refusal("a") == "node a is paused: by the operator"
    assert coord.claim("b").lease.attempt == 2  # the attempt count carries on
    coord.control.act(SteerRequest(action=SteerAction.RESUME, target="a"))
    assert coord.claim("a") is not None


def test_names_prefixes_and_refusals(farm) -> None:
    project, coord, first, second = farm
    names = coord.control.names
    assert names.resolve("tales/dragon/chapter_0002", (TaskState.QUEUED,), "cancel").task_id == second
    assert names.resolve(f"/{first}/", (TaskState.QUEUED,), "cancel").task_id == first
    with pytest.raises(UnknownTask):
        names.resolve("tales/dragon/chapter_0009", (TaskState.QUEUED,), "cancel")
    with pytest.raises(UnknownTask):
        names.resolve("abc", (TaskState.QUEUED,), "cancel")  # too short to be meant
    with pytest.raises(SteerRefused, match="cannot replan"):
        coord.claim("a")
        coord.control.act(SteerRequest(action=SteerAction.REPLAN, target=first))
    board = {t.task_id: t for t in coord.control.board().tasks}
    assert board[first].actions == ["cancel"] and board[first].node == "a"
    assert board[second].actions == ["cancel", "replan"] and board[second].chapter == "chapter_0002"
    with pytest.raises(ValueError):
        SteerRequest(action=SteerAction.CANCEL, target=" ")


def _set_profile(project, task_id: str, profile: str) -> None:
    meta_path = project.layout.task_dir(task_id) / "metadata.json"
    meta_path.write_text(json.dumps(json.loads(meta_path.read_text()) | {"profile": profile}))


@pytest.mark.parametrize(("profile", "other_profile", "refused"),
                         [("shorts", "main", False), ("main", "shorts", False), ("main", "main", True)])
def test_a_retry_is_refused_only_by_a_live_task_of_the_same_chapter_and_profile(
        farm, profile: str, other_profile: str, refused: bool) -> None:
    project, coord, first, second = farm
    name_task(project, second, "tales", "dragon", 1)  # the same chapter as the first task
    _set_profile(project, first, profile)
    _set_profile(project, second, other_profile)
    coord.control.act(SteerRequest(action=SteerAction.CANCEL, target=first))
    assert project.layout.task_dir(first, TaskState.FAILED).is_dir()
    if refused:
        with pytest.raises(SteerRefused, match="has task"):
            coord.control.act(SteerRequest(action=SteerAction.RETRY, target=first))
    else:
        reply = coord.control.act(SteerRequest(action=SteerAction.RETRY, target=first))
        assert reply.task_ids == [first]
        reason = json.loads((project.layout.task_dir(first, TaskState.FAILED) / "reason.json").read_text())
        assert reason["replan"] is True
