"""A planning pass publishes its task folders together: a kill at any step of the
publishing leaves each folder whole under its final name or only a temp folder, the event
log names only tasks that exist, and the next pass plans every chapter exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from diskkit import small_disk_at
from plan_helpers import scanned_clip, scanned_music, scanned_voice

from storyreel import fsops
from storyreel.errors import FilesystemError
from storyreel.layout import TEMP_PREFIX, TaskState
from storyreel.logs import Event, EventLog, read_events, setup_logging
from storyreel.plan import Planner
from storyreel.planbatch import KILL_STEPS, PLAN_KILL_ENV
from storyreel.project import Project
from storyreel.render.job import read_video_list
from storyreel.taskmeta import read

CHAPTERS = 5


def _stock(project: Project, media, chapters: int = CHAPTERS) -> list[str]:
    """`chapters` voice chapters of one story with a clip and music in scanned/: their keys."""
    scanned_clip(project, media, "fantasy", "c1", seconds=1.0)
    scanned_music(project, media, "fantasy", "m1")
    voices = [scanned_voice(project, media, chapter=f"chapter_{n:04d}.mp3") for n in range(1, chapters + 1)]
    return [project.layout.chapter_of(v) for v in voices]


def _main_once(project: Project, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "storyreel.cli", "main", str(project.layout.root), "--once"],
                          capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL,
                          env={**os.environ, **env})


def _temp_folders(project: Project) -> list[Path]:
    return [p for p in project.layout.tasks.iterdir() if p.name.startswith(TEMP_PREFIX)]


def _whole_tasks(project: Project) -> dict[str, str]:
    """task id → chapter of every task folder in tasks/, each checked whole: its metadata,
    its clip list and every link it names resolving to a scanned file."""
    found = {}
    for task_id in project.layout.task_ids(TaskState.QUEUED):
        task = project.layout.task_dir(task_id)
        meta = read(task)
        assert meta.task_id == task_id
        assert read_video_list(task) == meta.video_files
        for name in (meta.voice_file, meta.music_file, *meta.video_files):
            assert (task / name).resolve().is_file(), name
        found[task_id] = meta.chapter
    return found


def _created_events(project: Project) -> list[dict]:
    return [e for e in read_events(project.layout.events_file) if e["event"] == Event.TASK_CREATED]


@pytest.mark.parametrize("step", KILL_STEPS)
def test_a_pass_killed_while_publishing_leaves_whole_tasks_and_the_next_plans_each_chapter_once(
        project, media, step: str) -> None:
    chapters = _stock(project, media)

    killed = _main_once(project, **{PLAN_KILL_ENV: step})

    assert killed.returncode == -9, killed.stderr[-2000:]
    published = {"synced": 0, "renamed": 1, "published": CHAPTERS}[step]
    assert len(_whole_tasks(project)) == published
    assert len(_temp_folders(project)) == CHAPTERS - published  # built, never renamed: swept at start
    assert _created_events(project) == []  # the events follow the renames

    done = _main_once(project)

    assert done.returncode == 0, done.stderr[-2000:]
    assert _temp_folders(project) == []
    tasks = _whole_tasks(project)
    assert sorted(tasks.values()) == sorted(chapters)  # every chapter, each exactly once
    events = _created_events(project)
    assert len(events) == CHAPTERS - published  # tasks made before the kill are not claimed again
    assert {e["task_id"] for e in events} <= tasks.keys()  # no event names a task that does not exist
    assert len({e["chapter"] for e in events}) == len(events)


def test_an_unknown_kill_step_stops_the_start_with_one_message(project) -> None:
    done = _main_once(project, **{PLAN_KILL_ENV: "halfway"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"storyreel: {PLAN_KILL_ENV}='halfway': expected one of synced, renamed, published"]


def test_a_long_pass_publishes_in_batches_and_says_how_far_it_got(project, media) -> None:
    chapters = _stock(project, media)
    planner = Planner(project)
    planner.publish_batch = 2  # five chapters: three batches

    created = planner.plan_pending()

    tasks = _whole_tasks(project)
    assert sorted(created) == sorted(tasks) and sorted(tasks.values()) == sorted(chapters)
    assert [e["task_id"] for e in _created_events(project)] == created
    lines = [ln for ln in project.layout.log_file.read_text().splitlines() if '"Planning: ' in ln]
    assert [json.loads(ln.split(" ", 3)[3]) for ln in lines] == [
        "Planning: 2 of 5 chapters done, 2 tasks created so far",
        "Planning: 4 of 5 chapters done, 4 tasks created so far",
        "Planning: 5 of 5 chapters done, 5 tasks created so far"]
    assert planner.plan_pending() == [] and Planner(project).plan_pending() == []


def test_a_folder_that_cannot_be_published_leaves_the_others_published(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    (tasks / "b").mkdir(parents=True)  # taken: that folder cannot be published
    steps: list[str] = []
    batch = fsops.FolderBatch(steps.append)
    for name in "abc":
        with fsops.NewFolder(tasks / name) as folder:
            folder.write("metadata.json", f'{{"task_id": "{name}"}}\n')
        batch.add(folder)
    for name, source in (("d", tmp_path / "gone.png"), ("e", Path(__file__))):  # planned, written by publish
        with fsops.FolderPlan(tasks / name) as plan:
            plan.write("metadata.json", f'{{"task_id": "{name}"}}\n')
            plan.symlink("voice.mp3", tmp_path / "voice.mp3")
            plan.copy("logo.png", source)
        batch.add(plan)

    done = batch.publish()

    assert done.folders == [tasks / "a", tasks / "c", tasks / "e"]
    failed = dict(done.failed)
    assert sorted(failed) == [tasks / "b", tasks / "d"]
    assert all(isinstance(error, FilesystemError) for error in failed.values())
    assert "already exists" in str(failed[tasks / "b"]) and "gone.png" in str(failed[tasks / "d"])
    assert sorted(p.name for p in tasks.iterdir()) == ["a", "b", "c", "e"]  # no temp folder left
    assert (tasks / "c" / "metadata.json").read_text() == '{"task_id": "c"}\n'
    assert sorted(p.name for p in (tasks / "e").iterdir()) == ["logo.png", "metadata.json", "voice.mp3"]
    assert os.readlink(tasks / "e" / "voice.mp3") == "../../voice.mp3"  # relative to its final place
    assert (tasks / "e" / "logo.png").read_bytes() == Path(__file__).read_bytes()
    assert list((tasks / "b").iterdir()) == []
    assert steps == ["synced", "renamed", "renamed", "renamed", "published"]


def test_events_written_together_are_all_kept_or_all_counted_lost(tmp_path: Path, capfd) -> None:
    setup_logging(None, "INFO")  # the event log's warnings go to stderr
    with small_disk_at(tmp_path / "small", "64k") as disk:
        path = disk.root / "events.jsonl"
        events = EventLog(path)
        batch = [(Event.TASK_CREATED, {"task_id": f"t{n}", "chapter": f"c{n}"}) for n in range(3)]
        records = events.emit_all(batch)
        assert [r["task_id"] for r in records] == ["t0", "t1", "t2"]
        assert [json.loads(line)["task_id"] for line in path.read_text().splitlines()] == ["t0", "t1", "t2"]
        disk.fill(leave=8192)  # room for some of the 40 lines, not all
        events.emit_all([(Event.TASK_CREATED, {"task_id": f"x{n}", "pad": "p" * 2000}) for n in range(40)])
        disk.free()
        events.emit(Event.COMPLETED, task_id="t0")
        kept = [json.loads(line) for line in path.read_text().splitlines()]  # every line whole
        assert [r["task_id"] for r in kept] == ["t0", "t1", "t2", "t0"]  # none of the 40, not some
        assert "lost 40 events while it could not be written" in capfd.readouterr().err
