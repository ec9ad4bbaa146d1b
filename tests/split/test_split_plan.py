"""Where a long chapter is cut: at clip boundaries, into parts of about equal cost (a 4K
clip costs a node more than a 720p clip of the same length), exactly the voice's frames."""

from __future__ import annotations

from storyreel.config import RenderSettings
from storyreel.render import farmsplit
from storyreel.render.fill import ClipShape
from storyreel.render.segments import frame_count
from storyreel.taskmeta import RenderSpec, TaskMeta

FPS = 30


def task(seconds: float, clips: int, **render) -> TaskMeta:
    spec = RenderSpec.from_settings(RenderSettings(resolution="1280x720", frame_rate=FPS, **render), "")
    return TaskMeta(task_id="t", category="c", story_name="s", voice_file="voice.mp3", voice_duration=seconds,
                    music_file="music.mp3", video_files=[f"video_{k:04d}.mp4" for k in range(clips)], render=spec)


def test_parts_of_equal_clips_are_of_equal_length_and_add_up_to_the_voice():
    meta = task(60.0, 12, segment_seconds=10.0)
    parts = farmsplit.parts(meta, [ClipShape(1280, 720, 5.0)] * 12)
    assert [p.frames for p in parts] == [300] * 6
    assert [p.start for p in parts] == [0, 300, 600, 900, 1200, 1500]
    assert sum(p.frames for p in parts) == frame_count(60.0, FPS)


def test_4k_clips_make_shorter_parts_than_720p_clips():
    shapes = [ClipShape(3840, 2160, 5.0)] * 4 + [ClipShape(1280, 720, 5.0)] * 8
    parts = farmsplit.parts(task(60.0, 12, segment_seconds=20.0), shapes)
    # Three parts of about equal cost: two of 10 s of 4K, one of 40 s of 720p.
    assert [p.clips for p in parts] == [[0, 1], [2, 3], list(range(4, 12))]
    assert [p.frames for p in parts] == [300, 300, 1200]
    assert sum(p.frames for p in parts) == frame_count(60.0, FPS)


def test_fades_start_each_part_with_the_fade_into_its_first_clip():
    meta = task(30.0, 8, segment_seconds=10.0, transition="fade", transition_seconds=0.5)
    parts = farmsplit.parts(meta, [ClipShape(1280, 720, 4.5)] * 8)
    assert parts[0].lead is None and all(p.lead == p.clips[0] - 1 for p in parts[1:])
    assert sum(p.frames for p in parts) == frame_count(30.0, FPS)


def test_what_is_not_split():
    assert not farmsplit.wanted(task(60.0, 12))  # segment_seconds = 0
    assert not farmsplit.wanted(task(19.0, 12, segment_seconds=10.0))  # less than two parts
    assert not farmsplit.wanted(task(60.0, 1, segment_seconds=10.0))  # one clip
    framed = task(60.0, 12, segment_seconds=10.0).model_copy(update={"frame_file": "frame.mp4"})
    assert not farmsplit.wanted(framed)
    assert farmsplit.wanted(task(60.0, 12, segment_seconds=10.0))
