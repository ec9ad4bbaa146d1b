"""When a chunk is narrated, and which node may narrate it: the narrate task is planned
only once its wait for an operator's voice is over, never when a voice came in time, and
claimed only by a node that runs its engine."""

from __future__ import annotations

import json

from narratekit import STORY, assets, chunk, narrating

from storyreel.coordinator import Coordinator
from storyreel.layout import METADATA_NAME, TaskState
from storyreel.lifecycle import ChapterIndex
from storyreel.narrateplan import NarrationPlanner
from storyreel.taskmeta import NARRATION_TEXT_NAME, read_narrate
from storyreel.waiting import WaitReason


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _planner(project, clock=None) -> NarrationPlanner:
    kw = {"clock": clock} if clock is not None else {}
    return NarrationPlanner(project, ChapterIndex(project.layout), **kw)


def test_a_chunk_waits_for_a_voice_then_gets_one_narrate_task(project):
    project = narrating(project, wait_seconds=600)
    text = chunk(project)
    clock = Clock(text.stat().st_mtime + 30)
    planner = _planner(project, clock)
    assert planner.plan_pending() == []
    [waiting] = planner.waiting
    assert waiting.reason == WaitReason.AWAITING_VOICE
    assert waiting.chapter == "scanned/story/default/keeper/voice/chapter_0001.mp3"
    assert "in 10 min unless one arrives" in waiting.detail
    clock.now += 600
    [task_id] = planner.plan_pending()  # due by time: no rescan needed
    folder = project.layout.task_dir(task_id, TaskState.QUEUED)
    meta = read_narrate(folder)
    assert meta.chapter == waiting.chapter and meta.narration.engine == "espeak-ng"
    assert meta.narration.source == "scanned/story/default/keeper/chunk_0001.txt"
    assert (folder / NARRATION_TEXT_NAME).read_text(encoding="utf-8") == STORY + "\n"
    assert json.loads((folder / METADATA_NAME).read_text())["kind"] == "narrate"
    planner.scanned_changed()
    assert planner.plan_pending() == [] and planner.waiting == []  # never a second task
    assert _planner(project, clock).plan_pending() == []  # nor after a restart


def test_an_operator_voice_in_time_means_no_narration(project, media):
    project = narrating(project, wait_seconds=0)
    chunk(project)
    media.copy(media.speech(), project.layout.scanned_voice("default", "keeper", "chapter_0001.mp3"))
    planner = _planner(project)
    assert planner.plan_pending() == [] and planner.waiting == []
    assert project.layout.task_ids(TaskState.QUEUED) == []


def test_narration_is_off_by_default_and_per_category(project):
    chunk(project, category="fantasy")
    assert _planner(project).plan_pending() == []  # [narration] mode = "off"
    cfg = project.layout.config_file
    cfg.write_text(cfg.read_text() + '\n[categories.fantasy]\nnarration = "missing"\n')
    text = cfg.read_text().replace("wait_seconds = 600.0", "wait_seconds = 0.0")
    cfg.write_text(text)
    chunk(project, category="horror")
    from storyreel.project import Project
    planned = _planner(Project.open(project.layout.root)).plan_pending()
    assert [read_narrate(project.layout.task_dir(t, TaskState.QUEUED)).category for t in planned] == ["fantasy"]


def test_only_a_node_that_runs_the_engine_claims_a_narrate_task(project, tmp_path):
    project = narrating(project, engine="piper")
    assets(project, tmp_path)
    chunk(project)
    [task_id] = _planner(project).plan_pending()
    clock = Clock(1_000_000.0)
    co = Coordinator(project, clock=clock)
    co.register("renders-only", "h1", ["libx264"], "1")
    co.register("espeak-only", "h2", ["libx264"], "1", narrators=["espeak-ng"])
    assert co.claim("renders-only") is None
    assert co.claim("espeak-only") is None  # the task asks for piper
    said = f"Narrate task {task_id} needs the narration engine piper"
    assert said not in project.layout.log_file.read_text(encoding="utf-8")  # nodes may still be probing
    clock.now += 61
    assert co.claim("espeak-only") is None and co.claim("renders-only") is None
    assert project.layout.log_file.read_text(encoding="utf-8").count(said) == 1
    co.register("piper", "h3", ["libx264"], "1", narrators=["piper", "espeak-ng"])
    grant = co.claim("piper")
    assert grant is not None and grant.lease.task_id == task_id
    assert [f.name for f in grant.files] == [METADATA_NAME, NARRATION_TEXT_NAME]
    assert project.layout.task_ids(TaskState.PROCESSING) == [task_id]


def test_auto_goes_to_any_node_with_an_engine(project):
    project = narrating(project, engine="auto")
    chunk(project)
    [task_id] = _planner(project).plan_pending()
    co = Coordinator(project)
    co.register("renders-only", "h1", ["libx264"], "1")
    co.register("espeak", "h2", ["libx264"], "1", narrators=["espeak-ng"])
    assert co.claim("renders-only") is None
    grant = co.claim("espeak")
    assert grant is not None and grant.lease.task_id == task_id


def test_a_narrate_task_is_handed_out_before_older_renders(project):
    project = narrating(project)
    older = project.layout.task_dir("33333333-3333-4333-8333-333333333333", TaskState.QUEUED)
    older.mkdir(parents=True)
    (older / METADATA_NAME).write_text(json.dumps({"task_id": older.name, "created_at": "2000-01-01T00:00:00Z",
                                                   "chapter": "scanned/story/default/other/voice/chapter_0001.mp3"}))
    chunk(project)
    [task_id] = _planner(project).plan_pending()
    co = Coordinator(project)
    co.register("n", "h", ["libx264"], "1", narrators=["espeak-ng"])
    assert [co.claim("n").lease.task_id, co.claim("n").lease.task_id] == [task_id, older.name]


def test_registering_again_with_its_engines_keeps_a_node_s_run_of_failures():
    from storyreel.coordinator.nodes import NodeInfo, NodeTable

    nodes = NodeTable(5.0)
    nodes.register(NodeInfo("a", "h", ["libx264"], "1", 0.0, 0.0))
    assert not nodes.failed("a", "t1", 2)
    nodes.register(NodeInfo("a", "h", ["libx264"], "1", 3.0, 3.0, narrators=["espeak-ng"]))  # probed
    assert nodes.failed("a", "t2", 2)  # the second different failure in a row pauses it
    assert nodes.get("a").narrators == ["espeak-ng"]
