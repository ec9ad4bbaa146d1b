"""End to end through `storyreel run ROOT --until-idle` (a real main worker and node): a
chapter whose story has its text comes out captioned, with its sidecars."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pysubs2
import pytest
from storykit import HEIGHT, TEXT, WIDTH, lit_box, narrated_story, small_render

from storyreel.captions import read_words
from storyreel.captions.safearea import safe_area
from storyreel.layout import TaskState
from storyreel.media.burnin import grab_frame

pytestmark = pytest.mark.slow


def _run(project) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(project.layout.root.parent / "cache")}
    return subprocess.run([sys.executable, "-m", "storyreel.cli", "run", str(project.layout.root), "--until-idle"],
                          capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)


def _output(project):
    [task_id] = project.layout.task_ids(TaskState.DONE)
    return project.layout.output_file(task_id).parent


def test_a_chapter_with_its_text_comes_out_captioned_with_sidecars(project, tmp_path):
    project = small_render(project)
    narration = narrated_story(project, tmp_path)
    done = _run(project)
    assert done.returncode == 0, done.stderr[-3000:]
    out = _output(project)
    assert {"final.mp4", "captions.srt", "captions.vtt", "words.json", "metadata.json"} <= {
        p.name for p in out.iterdir()}
    srt = pysubs2.load(str(out / "captions.srt"))
    assert abs(srt.events[-1].end / 1000 - narration.seconds) < 1.0
    assert [w.word for w in read_words(out / "words.json").words] == TEXT.split()
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["captions_quality"]["aligned"] == len(TEXT.split())
    assert meta["captions_quality"]["unspoken"] == 0 and meta["captions_quality"]["confidence"] > 0.5
    assert meta["voice_file"] == "voice.mp3"  # SPEC §5 fields as they were
    frame = grab_frame(out / "final.mp4", narration.words[4].start + 0.15, tmp_path / "f.rgb").read_bytes()
    box = lit_box(frame, WIDTH, HEIGHT)
    area = safe_area(WIDTH, HEIGHT)
    assert box is not None and box[4] > 200, "no caption drawn while a word is said"
    assert area.left <= box[0] and box[2] <= area.right and area.top <= box[1] and box[3] <= area.bottom


def test_a_chapter_without_text_comes_out_without_captions(project, tmp_path):
    project = small_render(project)
    narration = narrated_story(project, tmp_path, text=False)
    done = _run(project)
    assert done.returncode == 0, done.stderr[-3000:]
    out = _output(project)
    assert not (out / "captions.srt").exists() and not (out / "words.json").exists()
    said = [ln for ln in done.stderr.splitlines() if "No captions for" in ln]
    assert len(said) == 1 and " INFO " in said[0] and "chunk_0001.txt" in said[0], done.stderr[-2000:]
    frame = grab_frame(out / "final.mp4", narration.words[4].start + 0.15, tmp_path / "f.rgb").read_bytes()
    assert lit_box(frame, WIDTH, HEIGHT) is None
