"""The coordinator's in-memory queue of tasks/: planner additions, folders an operator moves in
or out by hand, and held leases kept in memory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from farmkit import farm_project

from storyreel.coordinator import Coordinator
from storyreel.coordinator.taskqueue import RESCAN_SECONDS
from storyreel.errors import StaleLease
from storyreel.layout import TaskState
from storyreel.plan import Planner


class Monotonic:
    """The pace of the coordinator's listings of tasks/, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def queued(tmp_path: Path, media):
    project = farm_project(tmp_path / "root", media, tasks=2, lease=30.0, heartbeat=5.0)
    monotonic = Monotonic()
    coordinator = Coordinator(project, monotonic=monotonic)
    coordinator.register("n1", "test", ["libx264"], "t")
    return project, coordinator, monotonic


def _aside(project, task_id: str) -> Path:
    """Move a queued task folder out of tasks/ by hand, as an operator would."""
    aside = project.layout.root / "aside"
    aside.mkdir(exist_ok=True)
    os.rename(project.layout.task_dir(task_id), aside / task_id)
    return aside / task_id


def test_a_task_the_planner_creates_is_claimable_at_once(queued, media) -> None:
    project, coordinator, _ = queued
    first_two = [coordinator.claim("n1").lease.task_id for _ in range(2)]
    assert coordinator.claim("n1") is None and len(coordinator.queue) == 0

    media.copy(media.tone(seconds=3.0, frequency=220),
               project.layout.scanned_voice("tales", "story9", "chapter_0001.mp3"))
    created = Planner(project).plan_pending()
    assert len(created) == 1
    coordinator.note_queued(created)  # what the main worker does after each planning pass
    grant = coordinator.claim("n1")  # the listing is not due: the note alone makes it claimable
    assert grant is not None and grant.lease.task_id == created[0] not in first_two
    assert project.layout.task_ids(TaskState.PROCESSING) == sorted([*first_two, *created])


def test_a_folder_moved_into_tasks_by_hand_is_claimed_after_the_rescan(queued) -> None:
    project, coordinator, monotonic = queued
    later = project.layout.task_ids(TaskState.QUEUED)[-1]
    held = _aside(project, later)
    first = coordinator.claim("n1")
    assert first is not None and first.lease.task_id != later

    os.rename(held, project.layout.task_dir(later))  # the operator puts it back
    assert coordinator.claim("n1") is None  # not listed again yet
    monotonic.now += RESCAN_SECONDS
    assert coordinator.reap() == []  # the main worker's pass lists tasks/ when it is due
    grant = coordinator.claim("n1")
    assert grant is not None and grant.lease.task_id == later
    assert project.layout.task_dir(later, TaskState.PROCESSING).is_dir()


def test_a_miss_lists_tasks_again_once_the_rescan_is_due(queued) -> None:
    project, coordinator, monotonic = queued
    ids = project.layout.task_ids(TaskState.QUEUED)
    aside = [_aside(project, task_id) for task_id in ids]
    assert coordinator.claim("n1") is None
    for path in aside:
        os.rename(path, project.layout.task_dir(path.name))
    monotonic.now += RESCAN_SECONDS
    grant = coordinator.claim("n1")
    assert grant is not None and grant.lease.task_id in ids


def test_a_task_removed_by_hand_is_skipped_and_not_recreated(queued) -> None:
    project, coordinator, _ = queued
    assert coordinator.rescan_queue() == (2, 0)
    oldest, other = list(coordinator.queue)
    moved = _aside(project, oldest)
    grant = coordinator.claim("n1")
    assert grant is not None and grant.lease.task_id == other
    assert not project.layout.task_dir(oldest).exists()  # no lease.json written into a ghost folder
    assert (moved / "metadata.json").is_file() and not (moved / "lease.json").exists()
    assert len(coordinator.queue) == 0 and coordinator.claim("n1") is None


def test_a_held_task_moved_back_by_hand_refuses_its_heartbeats_and_requeues_on_release(queued) -> None:
    project, coordinator, _ = queued
    grant = coordinator.claim("n1")
    task_id = grant.lease.task_id
    coordinator.heartbeat(task_id, "n1", 1, {"percent": 10.0})
    os.rename(project.layout.task_dir(task_id, TaskState.PROCESSING), project.layout.task_dir(task_id))
    with pytest.raises(StaleLease):
        coordinator.heartbeat(task_id, "n1", 1, {})
    # The operator's folder is back in tasks/; the next listing queues it again.
    coordinator.rescan_queue()
    assert task_id in list(coordinator.queue)


def test_release_and_expiry_put_the_task_back_in_the_queue(queued) -> None:
    project, coordinator, _ = queued
    grant = coordinator.claim("n1")
    task_id = grant.lease.task_id
    coordinator.heartbeat(task_id, "n1", 1, {})
    coordinator.release(task_id, "n1", 1)
    assert task_id in list(coordinator.queue)
    again = [coordinator.claim("n1").lease for _ in range(2)]
    assert {lease.task_id for lease in again} == set(project.layout.task_ids(TaskState.PROCESSING))
    assert [lease.attempt for lease in again if lease.task_id == task_id] == [2]


def test_renewals_reach_lease_json_once_it_trails_by_a_quarter_lease(tmp_path: Path, media) -> None:
    project = farm_project(tmp_path / "root", media, tasks=1, lease=40.0, heartbeat=5.0)
    now = [1_900_000_000.0]
    coordinator = Coordinator(project, clock=lambda: now[0])
    coordinator.register("n1", "test", ["libx264"], "t")
    task_id = coordinator.claim("n1").lease.task_id
    lease_file = project.layout.task_dir(task_id, TaskState.PROCESSING) / "lease.json"

    def on_disk() -> float:
        return json.loads(lease_file.read_text())["deadline"]

    claimed = on_disk()
    now[0] += 5
    assert coordinator.heartbeat(task_id, "n1", 1, {}).deadline == now[0] + 40
    assert on_disk() == claimed  # 5 s behind: not written yet
    now[0] += 5
    coordinator.heartbeat(task_id, "n1", 1, {})
    assert on_disk() == now[0] + 40  # 10 s = a quarter of the lease behind: written
    written = on_disk()
    now[0] += 5
    coordinator.heartbeat(task_id, "n1", 1, {})  # kept in memory only
    now[0] += 37
    assert now[0] > written and coordinator.reap() == []  # the reaper judges the lease in memory
    now[0] += 4
    assert coordinator.reap() == [task_id]
