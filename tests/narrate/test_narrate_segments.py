"""A narrated chapter long enough for many clips renders in segments, captioned from its
engine's word timings: every word's caption shows in its own segment, at its own time."""

from __future__ import annotations

import shutil

import mediakit
import pytest
from narratekit import HEIGHT, STORY, WIDTH, chunk, narrating

from storyreel import voicerecord
from storyreel.captions import read_words
from storyreel.layout import AssetKind, Layout, TaskState
from storyreel.media.burnin import grab_frame
from storyreel.media.probe import probe
from storyreel.narration import narrate
from storyreel.plan import Planner
from storyreel.render import segments
from storyreel.render.job import _inputs, render_task
from storyreel.taskmeta import read

pytestmark = pytest.mark.slow


def _lit(frame: bytes) -> int:
    return sum(1 for i in range(0, len(frame) - 2, 3) if min(frame[i], frame[i + 1], frame[i + 2]) > 200)


def test_a_narrated_chapter_of_many_clips_is_captioned_in_every_segment(project, tmp_path):
    project = narrating(project)
    layout = project.layout
    chunk(project)
    made = narrate(STORY + "\n", tmp_path / "narration", engine="espeak-ng")
    voice = layout.scanned_voice("default", "keeper", "chapter_0001.mp3")
    voice.parent.mkdir(parents=True)
    shutil.copy(made.audio, voice)
    shutil.copy(made.words, Layout.voice_words(voice))
    voicerecord.write(voice, made.duration, voicerecord.Narration(
        engine=made.engine, voice=made.voice, text_sha256=made.text_sha256, task_id="t",
        source="scanned/story/default/keeper/chunk_0001.txt"))
    for number in range(12):  # dark clips of 2.5 s: the chapter needs about ten of them
        path = layout.scanned_clip(AssetKind.VIDEO, "default", WIDTH, HEIGHT, 2.5, f"dark{number}")
        mediakit.clip(path, width=WIDTH, height=HEIGHT, seconds=2.5, fps=10, audio=False, source="color")
    music = layout.scanned_music("default", 3.0, "hum")
    mediakit.tone_mp3(music, seconds=3.0, frequency=220, volume_db=-20)
    [task_id] = Planner(project).plan_pending()
    folder = layout.task_dir(task_id, TaskState.QUEUED)
    meta = read(folder)
    assert meta.captions is not None and meta.captions.words_file
    plan = segments.plan(_inputs(folder, meta), meta.render)
    assert plan is not None and len(plan) >= 3, "the chapter renders in segments"
    out = tmp_path / "out" / "final.mp4"
    render_task(folder, out)
    assert abs(probe(out).duration - made.duration) < 0.1
    words = read_words(tmp_path / "out" / "words.json").words
    assert [w.word for w in words] == [w.word for w in read_words(made.words).words]
    starts = [s.start / meta.render.frame_rate for s in plan]
    for segment_start in starts[1:]:  # a word said inside each later segment is captioned there
        word = next(w for w in words if w.start > segment_start + 0.3 and w.end - w.start > 0.15)
        frame = grab_frame(out, (word.start + word.end) / 2, tmp_path / "f.rgb").read_bytes()
        assert _lit(frame) > 50, f"no caption for {word.word!r} at {word.start:.2f} s"
