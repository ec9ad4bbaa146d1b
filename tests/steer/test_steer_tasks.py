"""Steering tasks as an operator does: `storyreel cancel`, `retry` and `replan` run as
subprocesses against a real main worker (`storyreel main`), which does every move."""

from __future__ import annotations

from pathlib import Path

import pytest
from farm.farmkit import Farm, farm_project, wait_for
from steerkit import chapter_of, queued_for, reason_of, steer

from storyreel.layout import TaskState

pytestmark = pytest.mark.slow


@pytest.fixture()
def farm(tmp_path: Path, media):
    project = farm_project(tmp_path / "root", media, tasks=2)
    running = Farm(project, tmp_path)
    yield running
    running.stop()


def test_without_a_main_worker_every_action_says_so(farm: Farm) -> None:
    root = farm.project.layout.root
    task_id = farm.ids(TaskState.QUEUED)[0]
    for args in (("cancel", root, task_id), ("retry", root, "--failed"), ("node", "pause", root, "n1")):
        done = steer(*args)
        assert done.returncode == 2, done
        assert "no main worker is running" in done.stderr and "Traceback" not in done.stderr
    assert farm.ids(TaskState.QUEUED) == [task_id] + [t for t in farm.ids(TaskState.QUEUED) if t != task_id]
    assert not farm.ids(TaskState.FAILED)  # nothing moved from the command's own process


def test_cancel_a_queued_task_then_retry_it_as_a_new_task(farm: Farm) -> None:
    project, root = farm.project, farm.project.layout.root
    farm.start_main()
    first = sorted(farm.ids(TaskState.QUEUED), key=lambda t: chapter_of(project, t))[0]
    chapter = chapter_of(project, first)
    assert chapter.endswith("tales/story1/voice/chapter_0001.mp3")

    done = steer("cancel", root, "tales/story1/chapter_0001")  # by name, not by id
    assert done.returncode == 0, done.stderr
    assert "cancelled" in done.stdout and first in done.stdout
    reason = reason_of(project, first)
    assert reason["cancelled"] is True and reason["reason"] == "cancelled by the operator"
    assert reason["from"] == "queued" and "replan" not in reason
    assert first not in farm.ids(TaskState.QUEUED)

    again = steer("cancel", root, first[:8])
    assert again.returncode == 2 and "failed" in again.stderr  # not queued or held any more

    done = steer("retry", root, first[:8])  # an id prefix
    assert done.returncode == 0, done.stderr
    reason = reason_of(project, first)
    assert reason["replan"] is True and reason["retried_at"] and reason["cancelled"] is True
    new = wait_for("the chapter planned again", lambda: queued_for(project, chapter, first), procs=[farm.main])
    assert new != first and project.layout.task_dir(first, TaskState.FAILED).is_dir()  # history kept

    twice = steer("retry", root, first)
    assert twice.returncode == 2 and "retried already" in twice.stderr


def test_replan_rebuilds_a_queued_task_and_refuses_nonsense(farm: Farm) -> None:
    project, root = farm.project, farm.project.layout.root
    farm.start_main()
    task_id = farm.ids(TaskState.QUEUED)[0]
    chapter = chapter_of(project, task_id)
    done = steer("replan", root, task_id)
    assert done.returncode == 0, done.stderr
    assert reason_of(project, task_id)["replan"] is True
    new = wait_for("the rebuilt task", lambda: queued_for(project, chapter, task_id), procs=[farm.main])
    assert new != task_id

    for args, said in ((("replan", root, "nosuchtask"), "no task 'nosuchtask'"),
                       (("cancel", root, "tales/story9/chapter_0001"), "no task"),
                       (("replan", root, task_id), "cannot replan"),
                       (("retry", root), "give either TASK or --failed")):
        refused = steer(*args)
        assert refused.returncode == 2 and said in refused.stderr, (args, refused.stderr)
        assert "Traceback" not in refused.stderr


def test_retry_failed_retries_every_failed_chapter_once(farm: Farm) -> None:
    project, root = farm.project, farm.project.layout.root
    farm.start_main()
    ids = farm.ids(TaskState.QUEUED)
    for task_id in ids:
        assert steer("cancel", root, task_id).returncode == 0
    done = steer("retry", root, "--failed")
    assert done.returncode == 0 and "retried 2 failed task(s)" in done.stdout, done.stdout
    chapters = {chapter_of(project, t) for t in ids}
    wait_for("both chapters planned again",
             lambda: {chapter_of(project, t) for t in farm.ids(TaskState.QUEUED)} == chapters, procs=[farm.main])
    assert len(farm.ids(TaskState.QUEUED)) == 2  # one new task each, not more
    again = steer("retry", root, "--failed")
    assert again.returncode == 0 and "retried 0 failed task(s)" in again.stdout
