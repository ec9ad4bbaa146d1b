"""Disk back-pressure against the real free space: the floor is moved, not the disk filled."""

from __future__ import annotations

import re

from storyreel import diskspace
from storyreel.diskspace import DiskWatcher
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
    disk = DiskWatcher.for_project(project)
    assert disk.space_ok()
    project.settings.disk.floor_gb = 1_000_000.0  # a petabyte: more than any test machine has free
    assert not disk.space_ok()
    assert not disk.space_ok()
    assert _warns(project) == 1  # once per crossing, not once per check
    assert diskspace.measure(project).paused

    project.settings.disk.floor_gb = 0.0
    assert disk.space_ok()
    assert any(" INFO main_worker " in line and "Disk space back:" in line for line in _lines(project))

    project.settings.disk.floor_gb = 1_000_000.0
    assert not disk.space_ok()
    assert _warns(project) == 2  # a new crossing warns again


def test_low_space_above_the_floor_keeps_working(project: Project):
    disk = DiskWatcher.for_project(project)
    project.settings.disk.low_space_gb = 1_000_000.0
    project.settings.disk.floor_gb = 0.0
    report = disk.check()
    assert report.low and not report.paused
    assert disk.space_ok()
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


def test_the_main_worker_hands_one_watcher_to_the_planner_and_the_coordinator(project: Project, media):
    from storyreel.mainworker import MainWorker
    from storyreel.netaddr import Listen

    layout = project.layout
    media.copy(media.tone(seconds=2.0), layout.scanned_voice("fantasy", "dragon", "chapter_0001.mp3"))
    worker = MainWorker(project, listen=Listen("127.0.0.1", 0))
    assert worker.coordinator is not None
    assert worker.planner.disk is worker.disk and worker.coordinator.disk is worker.disk
    worker.coordinator.register("n1", "host", ["libx264"], "0.1")

    project.settings.disk.floor_gb = 1_000_000.0
    assert worker.planner.plan_pending() == []
    assert worker.coordinator.claim("n1") is None
    assert _warns(project) == 1  # one crossing, one line, however many stages ask


def test_low_disk_warning_repeats_only_after_its_interval(tmp_path):
    import io
    import logging

    from storyreel.config import DiskSettings
    from storyreel.logs import setup_logging

    out = io.StringIO()
    setup_logging(None, "INFO", stream=out)
    now = [100.0]
    warner = DiskWatcher(tmp_path, DiskSettings(low_space_gb=1e12), repeat_seconds=600, clock=lambda: now[0])
    for _ in range(3):
        warner.warn_if_low()
    now[0] += 601
    warner.warn_if_low()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert all(" WARN main_worker \"Low disk space: " in line and line.endswith('GB remaining"') for line in lines)
    logging.getLogger("storyreel").handlers.clear()
