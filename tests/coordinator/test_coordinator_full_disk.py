"""A full disk under the main worker's project root (a real small tmpfs): renewals are kept
in memory and reach lease.json when they can, a claim is refused as DiskFull with the task
left queued, and the reaper moves nothing it has no room for and says so once."""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from coordkit import LEASE, START, Clock, coordinator, lease_file, make_project
from diskkit import SmallDisk, small_disk_at

from storyreel.coordinator import Coordinator
from storyreel.diskspace import DiskWatcher, disk_full
from storyreel.errors import DiskFull, FilesystemError
from storyreel.layout import TaskState
from storyreel.project import Project

# Room for a project of hand-made tasks; filled in a blink.
SMALL_DISK = "2m"


@pytest.fixture()
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with small_disk_at(tmp_path / "small", SMALL_DISK) as small:
        yield small


def on_disk(disk: SmallDisk, tmp_path: Path, clock: Clock, *, tasks: int,
            max_attempts: int = 3) -> tuple[Project, Coordinator]:
    """A project on the small disk and a coordinator whose floor check looks elsewhere (a
    roomy disk), so each test meets the full disk itself, not the floor before it."""
    project = make_project(disk.root / "root", tasks=tasks, max_attempts=max_attempts)
    coord = coordinator(project, clock, "n1")
    coord.disk = DiskWatcher(tmp_path, project.settings.disk)
    return project, coord


def held_on_full_disk(disk: SmallDisk, tmp_path: Path, clock: Clock) -> tuple[Project, Coordinator, str]:
    """n1 holds the one task of a project on the small disk, which is then filled up."""
    project, coord = on_disk(disk, tmp_path, clock, tasks=1)
    task_id = coord.claim("n1").lease.task_id
    disk.fill()
    return project, coord, task_id


def test_renewals_on_a_full_disk_are_kept_in_memory_and_written_once_space_returns(
        disk: SmallDisk, tmp_path: Path, caplog) -> None:
    clock = Clock()
    project, coord, task_id = held_on_full_disk(disk, tmp_path, clock)
    with caplog.at_level(logging.INFO, logger="storyreel"):
        for _ in range(4):  # each renewal would be written: it trails by a whole lease
            clock.now += LEASE - 1
            assert coord.heartbeat(task_id, "n1", 1, {"stage": "uploading"}).deadline == clock.now + LEASE
        assert lease_file(project, task_id)["deadline"] == START + LEASE  # the disk has no room for it
        clock.now += LEASE - 1
        assert coord.reap() == []  # judged by the renewal in memory: still held
        assert coord.holds.held(task_id, "n1", 1).lease.deadline == clock.now - (LEASE - 1) + LEASE
        disk.free()
        clock.now += 1
        coord.heartbeat(task_id, "n1", 1, {"stage": "uploading"})
    assert lease_file(project, task_id)["deadline"] == clock.now + LEASE
    assert caplog.text.count("Cannot write the lease of task") == 1
    assert "Lease renewals reach the disk again" in caplog.text


def test_a_claim_on_a_full_disk_is_refused_and_the_task_stays_queued(
        disk: SmallDisk, tmp_path: Path, caplog) -> None:
    clock = Clock()
    project, coord = on_disk(disk, tmp_path, clock, tasks=3)
    disk.fill()
    with caplog.at_level(logging.ERROR, logger="storyreel"), pytest.raises(DiskFull):
        coord.claim("n1")
    assert len(project.layout.task_ids(TaskState.QUEUED)) == 3 and coord.holds.task_ids() == set()
    assert "Cannot hand out task" not in caplog.text  # not one ERROR per queued task
    disk.free()
    assert coord.claim("n1").lease.attempt == 1


def test_the_reaper_moves_nothing_it_has_no_room_for_and_says_so_once(
        disk: SmallDisk, tmp_path: Path, caplog) -> None:
    clock = Clock()
    project, coord, task_id = held_on_full_disk(disk, tmp_path, clock)
    clock.now += LEASE  # the node is really gone: its lease ran out
    with caplog.at_level(logging.INFO, logger="storyreel"):
        for _ in range(20):  # the reaper runs every half second
            assert coord.reap() == []
            clock.now += 0.5
        assert project.layout.task_dir(task_id, TaskState.PROCESSING).is_dir()
        assert coord.holds.task_ids() == {task_id}  # the hold is kept, to be ended later
        disk.free()
        assert coord.reap() == [task_id]
    assert lease_file(project, task_id, TaskState.QUEUED)["state"] == "expired"
    full = [r for r in caplog.records if "Cannot reap task" in r.getMessage()]
    assert len(full) == 1 and full[0].levelno == logging.WARNING, caplog.text
    assert "Expired tasks can be moved again" in caplog.text
    assert not project.layout.task_ids(TaskState.FAILED)


@pytest.mark.parametrize(("code", "full"), [(errno.ENOSPC, True), (errno.EDQUOT, True), (errno.EACCES, False)])
def test_a_full_disk_or_quota_is_told_apart_behind_the_error_raised_from_it(code: int, full: bool) -> None:
    try:
        try:
            raise OSError(code, os.strerror(code))
        except OSError as exc:
            raise FilesystemError("write", "processing/x/lease.json", None, exc.strerror) from exc
    except FilesystemError as wrapped:
        assert disk_full(wrapped) is full
    assert disk_full(OSError(code, "")) is full and not disk_full(ValueError("no"))
