"""A story link alone becomes a narrated, captioned video: `storyreel run --until-idle`
crawls it into chunks, plans a narrate task, a local node speaks it with espeak-ng, the
main worker files the voice with its record, and the chapter renders captioned with the
engine's own word timings."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pysubs2
import pytest
from crawlkit import Reply, article_page
from narratekit import HEIGHT, STORY, WIDTH, assets, narrating

from storyreel import voicerecord
from storyreel.captions import read_script, read_words
from storyreel.layout import Layout, TaskState
from storyreel.media.burnin import grab_frame
from storyreel.media.probe import probe

pytestmark = pytest.mark.slow


def _lit(frame: bytes) -> int:
    """How many pixels of an RGB24 frame are near white (a caption on a black clip)."""
    return sum(1 for i in range(0, len(frame) - 2, 3) if frame[i] > 200 and frame[i + 1] > 200 and frame[i + 2] > 200)


def test_a_link_alone_becomes_a_narrated_captioned_video(project, tmp_path, story_server):
    project = narrating(project)
    assets(project, tmp_path)
    story_server.routes["/keeper"] = Reply(article_page(STORY, title="The Keeper"))
    link = project.layout.raw / "story" / "default" / "keeper" / "link" / "story.txt"
    link.parent.mkdir(parents=True)
    link.write_text(story_server.url("/keeper") + "\n", encoding="utf-8")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "storyreel.cli", "run", str(project.layout.root), "--until-idle"],
                          capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    layout = project.layout
    [chunk] = layout.scanned_chunks("default", "keeper")
    voice = layout.scanned_voice("default", "keeper", "chapter_0001.mp3")
    made = voicerecord.narration(voice)
    assert made is not None and made.engine == "espeak-ng" and made.voice == "en-us"
    assert made.text_sha256 == hashlib.sha256(chunk.read_text(encoding="utf-8").encode()).hexdigest()
    record = voicerecord.read(voice)
    assert record is not None and abs(record.duration - probe(voice).duration) < 0.05
    assert Layout.voice_words(voice).is_file()
    assert not layout.task_ids(TaskState.PROCESSING) and not layout.task_ids(TaskState.FAILED)
    [task_id] = layout.task_ids(TaskState.DONE)  # the narrate task left no output folder of its own
    out = layout.output_file(task_id).parent
    info = probe(out / "final.mp4")
    assert info.video and info.audio and abs(info.duration - record.duration) < 0.2
    written = [w.text for w in read_script(chunk.read_text(encoding="utf-8"))]
    words = read_words(out / "words.json")
    assert [w.word for w in words.words] == written
    assert words.quality.aligned == len(written) and words.quality.confidence == 1.0
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["captions"]["words_file"] == "narration_words.json"
    assert meta["captions_quality"]["unspoken"] == 0
    assert pysubs2.load(str(out / "captions.srt")).events
    said = next(w for w in words.words[3:] if w.end - w.start > 0.2)
    frame = grab_frame(out / "final.mp4", (said.start + said.end) / 2, tmp_path / "f.rgb").read_bytes()
    assert len(frame) == WIDTH * HEIGHT * 3 and _lit(frame) > 100, "no caption drawn while a word is said"
    log = layout.log_file.read_text(encoding="utf-8")
    assert "Created narrate task" in log and "narrated by local-1 with espeak-ng" in log
