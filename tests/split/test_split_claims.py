"""Splitting without HTTP: a long chapter's render task is split when a claim reaches it,
its segment tasks go to idle nodes first, a part is filed into the render task, a kill
while splitting is mended, and a segment that fails for good fails its chapter's render."""

from __future__ import annotations

import re
import shutil
import subprocess
import uuid

from splitkit import FPS, planned, settle

from storyreel.chapters import ChapterName
from storyreel.coordinator import Coordinator
from storyreel.coordinator.upload import Receipt
from storyreel.layout import SPLIT_NAME, Layout, TaskState
from storyreel.lifecycle import REPLAN_KEY, ChapterIndex, TaskKey, failure_reason
from storyreel.media.probe import probe
from storyreel.render.job import render_task
from storyreel.render.parts import render_part
from storyreel.render.segments import frame_count
from storyreel.taskmeta import TaskKind, kind_of, read_raw, read_segment, read_split


def split_farm(project, media, *nodes: str, render: str = "") -> tuple[str, Layout, Coordinator]:
    """A project with one chapter to split, planned, and a coordinator with `nodes`."""
    project = settle(project, render)
    task_id = planned(project, media)
    return task_id, project.layout, coordinator(project, *nodes)


def coordinator(project, *nodes: str) -> Coordinator:
    coord = Coordinator(project)
    for node in nodes:
        coord.register(node, "test", ["libx264"], "t")
    return coord


def test_a_claim_splits_the_long_chapter_and_its_render_waits_for_every_part(project, media):
    task_id, layout, coord = split_farm(project, media, "n1", "n2")
    first = coord.claim("n1")
    record = read_split(layout.task_dir(task_id))
    assert record is not None and len(record.segments) == 2
    assert sum(record.frames) == frame_count(read_raw(layout.task_dir(task_id))["voice_duration"], FPS)
    assert first.lease.task_id == record.segments[0]
    assert kind_of(first.metadata) == TaskKind.SEGMENT
    # n1 holds a task and n2 is idle: the second part waits for n2.
    assert coord.claim("n1") is None
    second = coord.claim("n2")
    assert second.lease.task_id == record.segments[1]
    assert coord.claim("n2") is None and coord.claim("n1") is None  # the render waits for its parts
    # A segment task holds only what its part reads: its clips, never the music.
    seg_dir = layout.task_dir(first.lease.task_id, TaskState.PROCESSING)
    meta = read_segment(seg_dir)
    names = sorted(p.name for p in seg_dir.iterdir() if p.name not in ("metadata.json", "lease.json"))
    assert names == sorted(set(meta.video_files[k] for k in meta.segment.reads))
    assert [f.name for f in first.files] == sorted([*names, "metadata.json"])


def test_parts_filed_into_their_render_task_join_into_the_whole_render(project, media, tmp_path):
    task_id, layout, coord = split_farm(project, media, "n1", render='transition = "fade"\ntitle_seconds = 1.0')
    grants = [coord.claim("n1"), coord.claim("n1")]  # one node alone takes both parts
    for grant in grants:
        seg_id = grant.lease.task_id
        out = render_part(layout.task_dir(seg_id, TaskState.PROCESSING), tmp_path / seg_id / "part.mp4")
        part = layout.task_dir(seg_id, TaskState.PROCESSING) / ".upload"
        shutil.copy(out.output, part)
        coord.finish_upload(seg_id, "n1", grant.lease.attempt, part, Receipt(size=part.stat().st_size),
                            expected_size=None, expected_sha256=None)
        assert layout.find_task(seg_id) is None  # the segment task's folder is gone
    folder = layout.task_dir(task_id)
    assert [(folder / Layout.part_name(i)).is_file() for i in range(2)] == [True, True]
    join = coord.claim("n1")
    assert join.lease.task_id == task_id
    names = {f.name for f in join.files}
    assert {SPLIT_NAME, Layout.part_name(0), Layout.part_name(1), "voice.mp3", "music.mp3"} <= names
    assert not [n for n in names if n.startswith("video_") and n.endswith(".mp4")], "the clips are not sent"
    # The joined video against the same task rendered whole, in one pass.
    held = layout.task_dir(task_id, TaskState.PROCESSING)
    whole_dir = layout.task_dir(str(uuid.uuid4()), TaskState.PROCESSING)
    shutil.copytree(held, whole_dir, symlinks=True,
                    ignore=shutil.ignore_patterns(SPLIT_NAME, "part_*.mp4", "lease.json"))
    joined = render_task(held, tmp_path / "joined" / "final.mp4")
    whole = render_task(whole_dir, tmp_path / "whole" / "final.mp4")
    a, b = probe(joined.output), probe(whole.output)
    assert a.first_video.frames == b.first_video.frames == frame_count(read_raw(held)["voice_duration"], FPS)
    assert abs(joined.loudness.integrated - whole.loudness.integrated) < 0.5
    assert psnr(whole.output, joined.output) > 35.0


def psnr(a, b) -> float:
    done = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-i", f"file:{a}", "-i", f"file:{b}",
                           "-lavfi", "[0:v][1:v]psnr", "-f", "null", "-"], capture_output=True, text=True)
    return float(re.findall(r"average:([0-9.]+|inf)", done.stderr)[-1].replace("inf", "99"))


def test_a_segment_task_lost_to_a_kill_while_splitting_is_made_again(project, media):
    task_id, layout, coord = split_farm(project, media, "n1", "n2")
    first = coord.claim("n1")
    record = read_split(layout.task_dir(task_id))
    shutil.rmtree(layout.task_dir(record.segments[1]))  # as if killed before its folder was written
    coord.queue.discard(record.segments[1])
    again = coord.claim("n2")  # this claim finds it missing, makes it again and hands it out
    assert again.lease.task_id == record.segments[1]
    assert layout.task_dir(record.segments[1], TaskState.PROCESSING).is_dir()
    assert first.lease.task_id == record.segments[0]


def test_a_segment_that_fails_for_good_fails_its_render_and_cancels_the_rest(project, media):
    task_id, layout, coord = split_farm(project, media, "n1", "n2")
    first = coord.claim("n1")
    record = read_split(layout.task_dir(task_id))
    coord.fail(first.lease.task_id, "n1", first.lease.attempt, "upload failed 3 times", "",
               {"stage": "upload"})
    assert coord.claim("n2") is None
    assert layout.find_task(task_id)[0] == TaskState.FAILED
    reason = read_raw(layout.task_dir(task_id, TaskState.FAILED))  # metadata is kept
    assert reason is not None
    assert failure_reason(layout, task_id)["reason"].startswith("segment 1 of 2 failed: upload failed")
    assert layout.find_task(record.segments[1])[0] == TaskState.FAILED  # cancelled, never rendered
    assert layout.task_ids(TaskState.QUEUED) == []


def test_a_frame_clip_or_a_short_chapter_is_not_split(project, media):
    project = settle(project, "segment_seconds = 10.0")  # 12 s is less than two parts of 10 s
    task_id = planned(project, media)
    grant = coordinator(project, "n1").claim("n1")
    assert grant.lease.task_id == task_id and read_split(project.layout.task_dir(task_id, TaskState.PROCESSING)) is None


def test_cancelling_a_split_chapter_cancels_its_parts_queued_and_held(project, media):
    task_id, layout, coord = split_farm(project, media, "n1", "n2")
    held = coord.claim("n1")
    record = read_split(layout.task_dir(task_id))
    reply = coord.control.cancel(task_id[:8])
    assert "2 unfinished part(s) are cancelled too" in reply.message
    assert [layout.find_task(t)[0] for t in (task_id, *record.segments)] == [TaskState.FAILED] * 3
    assert coord.holds.load(held.lease.task_id) is None  # its node is told at its next heartbeat
    assert coord.claim("n2") is None


def test_a_part_is_named_by_its_chapter_and_its_place(project, media):
    project = settle(project)
    planned(project, media)
    grant = coordinator(project, "n1").claim("n1")
    assert ChapterName.of_metadata(grant.metadata).label == "fantasy/dragon chapter 1 (part 1 of 2)"


def test_a_part_that_fails_on_a_bad_clip_plans_its_chapter_again_without_it(project, media):
    task_id, layout, coord = split_farm(project, media, "n1", "n2")
    first = coord.claim("n1")
    meta = read_segment(layout.task_dir(first.lease.task_id, TaskState.PROCESSING))
    bad = meta.video_files[meta.segment.clips[0]]
    coord.fail(first.lease.task_id, "n1", first.lease.attempt, "ffmpeg cannot decode the clip", "",
               {"stage": "render"}, bad_input=bad)
    assert coord.claim("n2") is None
    assert failure_reason(layout, task_id)[REPLAN_KEY] is True
    chapter = meta.chapter
    assert TaskKey(chapter) not in ChapterIndex(layout).tasks()  # the planner makes it a new task
    assert len(layout.task_ids(TaskState.FAILED)) == 3 and layout.task_ids(TaskState.QUEUED) == []


def test_every_part_is_encoded_with_the_encoder_of_the_node_that_split_it(project, media):
    task_id, layout, coord = split_farm(project, media, render='encoder = "auto"')
    coord.register("gpu", "test", ["h264_nvenc", "libx264"], "t")
    coord.register("cpu", "test", ["libx264"], "t")
    first = coord.claim("gpu")
    record = read_split(layout.task_dir(task_id))
    assert record.encoder == "h264_nvenc" and first.metadata["render"]["encoder"] == "h264_nvenc"
    assert coord.claim("cpu") is None  # its part needs NVENC: it waits for a node that has it
    assert coord.claim("gpu").lease.task_id == record.segments[1]
