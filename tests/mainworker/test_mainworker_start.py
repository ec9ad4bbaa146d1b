"""The root lock and the recovery stage in process: a MainWorker built on a root touches
nothing; refused the lock it recovers nothing; holding it, it recovers everything."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from storyreel.errors import ConfigError, RootLocked
from storyreel.layout import TEMP_PREFIX
from storyreel.mainworker import MainWorker
from storyreel.netaddr import Listen
from storyreel.project import Project
from storyreel.rootlock import RootLock


def _leftovers(project: Project) -> list[Path]:
    """What a killed main worker leaves: a journal entry, a temp file, a link commit."""
    layout = project.layout
    original = layout.raw / "video" / "action" / "a.mp4"
    dst = layout.scanned / "video" / "action" / "a.mp4"
    for path in (original, dst):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"clip")
    entry = layout.journal / "entry.json"
    entry.write_text(json.dumps({"original": str(original), "dst": str(dst)}))
    temp = layout.tasks / f"{TEMP_PREFIX}half-built-task"
    temp.write_bytes(b"x")
    record = layout.scanned_link_dir("fantasy", "dragon") / "links.txt.record.json"
    record.parent.mkdir(parents=True)
    record.write_text(json.dumps({"state": "committing", "chunks": ["chunk_0001.txt"]}))
    return [original, entry, temp, record]


def test_building_a_main_worker_touches_nothing(project: Project) -> None:
    layout = project.layout
    layout.failed.rmdir()
    before = sorted(os.walk(layout.root))
    MainWorker(project, listen=Listen("127.0.0.1", 0))
    MainWorker(project)
    assert sorted(os.walk(layout.root)) == before
    assert not layout.coordinator_lock.exists()


def test_refused_the_lock_it_recovers_nothing(project: Project) -> None:
    left = _leftovers(project)
    holder = RootLock(project.layout).acquire(Listen.parse("127.0.0.1:8765"))
    try:
        worker = MainWorker(project)
        with pytest.raises(RootLocked, match=rf"another main worker \(pid {os.getpid()}, serving render "
                                             r"nodes on 127\.0\.0\.1:8765\) already holds it") as refused:
            worker.run_once()
        assert isinstance(refused.value, ConfigError)  # the CLI reports it and exits 2
        assert all(path.exists() for path in left)
        assert holder.held
    finally:
        holder.release()


def test_holding_the_lock_it_recovers_first(project: Project) -> None:
    left = _leftovers(project)
    project.layout.failed.rmdir()
    MainWorker(project).run_once()
    assert not any(path.exists() for path in left)
    assert project.layout.failed.is_dir()
    RootLock(project.layout).acquire().release()  # it let go of the root on the way out


def test_the_holder_record_names_a_worker_serving_none(project: Project) -> None:
    first = RootLock(project.layout).acquire()
    try:
        with pytest.raises(RootLocked, match=rf"\(pid {os.getpid()}, not serving render nodes\)"):
            RootLock(project.layout).acquire(Listen.parse("0.0.0.0:8765"))
        first.record(Listen.parse("0.0.0.0:40123"))
        with pytest.raises(RootLocked, match=r"serving render nodes on 0\.0\.0\.0:40123"):
            RootLock(project.layout).acquire()
    finally:
        first.release()
    again = RootLock(project.layout).acquire()
    assert again.held
    again.release()
