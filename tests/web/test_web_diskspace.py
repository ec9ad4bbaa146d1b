"""Disk back-pressure against the real free space: the floor is moved, not the disk filled."""

from __future__ import annotations

import re

from storyreel import diskspace
from storyreel.project import Project

WARN = re.compile(
    r'^\S+Z WARN main_worker "Low disk space: \d+\.\dGB remaining, below the 1000000\.0GB floor; '
    r'no task is planned or claimed until space returns"$'
)


def _lines(project: Project) -> list[str]:
    return project.layout.log_file.read_text(encoding="utf-8").splitlines()


def _warns(project: Project) -> int:
    return sum(1 for line in _lines(project) if WARN.match(line))


def test_below_the_floor_work_pauses_with_one_warn_and_resumes(project: Project):
    assert diskspace.space_ok(project)
    project.settings.disk.floor_gb = 1_000_000.0  # a petabyte: more than any test machine has free
    assert not diskspace.space_ok(project)
    assert not diskspace.space_ok(project)
    assert _warns(project) == 1  # once per crossing, not once per check
    assert diskspace.measure(project).paused

    project.settings.disk.floor_gb = 0.0
    assert diskspace.space_ok(project)
    assert any(" INFO main_worker " in line and "Disk space back:" in line for line in _lines(project))

    project.settings.disk.floor_gb = 1_000_000.0
    assert not diskspace.space_ok(project)
    assert _warns(project) == 2  # a new crossing warns again


def test_low_space_above_the_floor_keeps_working(project: Project):
    project.settings.disk.low_space_gb = 1_000_000.0
    project.settings.disk.floor_gb = 0.0
    report = diskspace.check(project)
    assert report.low and not report.paused
    assert diskspace.space_ok(project)
    assert _warns(project) == 0


def test_planner_and_coordinator_hold_back_below_the_floor_and_resume(project: Project, media):
    from storyreel.coordinator import Coordinator
    from storyreel.layout import TaskState
    from storyreel.plan import Planner

    layout = project.layout
    media.copy(media.speech(), layout.scanned_voice("fantasy", "dragon", "chapter_0001.mp3"))
    media.copy(media.tone(seconds=6), layout.scanned_music("fantasy", 6.0, "calm"))
    media.copy(media.clip(seconds=2), layout.scanned_clip("video", "fantasy", 160, 90, 2.0, "hills"))
    planner, coordinator = Planner(project), Coordinator(project)
    coordinator.register("n1", "host", ["libx264"], "0.1")

    project.settings.disk.floor_gb = 1_000_000.0
    assert planner.plan_pending() == []
    assert layout.task_ids(TaskState.QUEUED) == []

    project.settings.disk.floor_gb = 0.0
    created = planner.plan_pending()
    assert len(created) == 1 and layout.task_ids(TaskState.QUEUED) == created

    project.settings.disk.floor_gb = 1_000_000.0
    assert coordinator.claim("n1") is None
    assert coordinator.claim("n1") is None
    assert layout.task_ids(TaskState.QUEUED) == created  # nothing handed out, nothing moved

    project.settings.disk.floor_gb = 0.0
    grant = coordinator.claim("n1")
    assert grant is not None and layout.task_ids(TaskState.PROCESSING) == created
    assert _warns(project) == 2  # two crossings of the floor, one line each
