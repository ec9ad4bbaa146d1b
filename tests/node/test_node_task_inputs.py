"""What a node reads of a task before and after its render: the voice's channels carried
from ingest in metadata.json (no probe of the voice), and the check of the rendered file,
with real ingest, planning, ffmpeg and ffprobe."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from storyreel import voicerecord
from storyreel.errors import MediaError
from storyreel.layout import METADATA_NAME, TaskState
from storyreel.mainworker import MainWorker
from storyreel.media.probe import probe
from storyreel.media.tools import ffmpeg
from storyreel.project import Project
from storyreel.render import verify
from storyreel.render.job import _inputs, render_task
from storyreel.taskmeta import read

VOICE = "story/fantasy/dragon/voice/chapter_0001.mp3"


def _drop(project: Project, rel: str, src: Path) -> Path:
    dst = project.layout.raw / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(src.read_bytes())
    return dst


def _with_channels(src: Path, dst: Path, channels: int) -> Path:
    subprocess.run([ffmpeg(), "-hide_banner", "-v", "error", "-y", "-i", f"file:{src}", "-ac", str(channels),
                    "-c:a", "libmp3lame", "-b:a", "64k", f"file:{dst}"], check=True, stdin=subprocess.DEVNULL)
    return dst


def _planned_task(project: Project, media, voice: Path) -> Path:
    """Ingest a chapter's voice, a clip and music from raw/, plan it; its task folder."""
    _drop(project, VOICE, voice)
    _drop(project, "video/fantasy/c1.mp4", media.clip(seconds=2.0))
    _drop(project, "music/fantasy/song.mp3", media.tone(seconds=6.0))
    worker = MainWorker(project)
    for _ in range(3):  # files, then the chapter's task
        worker.run_once()
        if project.layout.task_ids(TaskState.QUEUED):
            break
    [task_id] = project.layout.task_ids(TaskState.QUEUED)
    return project.layout.task_dir(task_id)


@pytest.mark.parametrize("channels", [1, 2])
def test_the_voices_channels_travel_from_ingest_into_the_task(project, media, tmp_path, channels):
    voice = _with_channels(media.speech(), tmp_path / "voice.mp3", channels)
    task = _planned_task(project, media, voice)
    scanned = project.layout.scanned / VOICE
    record = voicerecord.read(scanned)
    assert record is not None and record.channels == channels == probe(scanned).first_audio.channels
    meta = read(task)
    assert meta.voice_channels == channels
    assert _inputs(task, meta).voice_channels == channels


def test_the_render_takes_the_recorded_count_and_probes_only_without_one(project, media):
    task = _planned_task(project, media, media.speech())  # espeak-ng speaks mono
    data = json.loads((task / METADATA_NAME).read_text())
    assert data["voice_channels"] == 1
    # The recorded count is what the render mixes by: a count the file does not have is
    # taken as it is, so no probe of the voice ran.
    data["voice_channels"] = 2
    (task / METADATA_NAME).write_text(json.dumps(data))
    assert _inputs(task, read(task)).voice_channels == 2
    # A task planned before the count was recorded (0) probes the voice.
    data["voice_channels"] = 0
    (task / METADATA_NAME).write_text(json.dumps(data))
    assert _inputs(task, read(task)).voice_channels == 1


def test_a_planned_task_renders_and_verifies_with_the_recorded_count(project, media, tmp_path):
    task = _planned_task(project, media, media.speech())
    meta = read(task)
    result = render_task(task, tmp_path / "out" / "final.mp4")
    info = probe(result.output)
    assert (info.first_video.width, info.first_video.height) == meta.render.size
    assert info.first_audio.channels == 2
    assert abs(info.duration - meta.voice_duration) < 0.1
    # The mono voice went to both channels at its level: the mix lands on the target.
    assert result.loudness is not None
    assert abs(result.loudness.integrated - meta.render.loudness_lufs) <= verify.LOUDNESS_TOLERANCE_LU


def test_a_voice_changed_after_ingest_has_no_recorded_count(project, media, tmp_path):
    voice = media.copy(media.speech(), tmp_path / "chapter_0001.mp3")
    voicerecord.write(voice, probe(voice).duration, channels=1)
    assert voicerecord.channels(voice) == 1
    st = voice.stat()
    os.utime(voice, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # replaced by hand
    assert voicerecord.channels(voice) == 0
    voicerecord.write(voice, probe(voice).duration)  # a record from before the count
    assert voicerecord.channels(voice) == 0
    assert voicerecord.channels(tmp_path / "gone.mp3") == 0


def test_the_check_reads_streams_and_loudness_of_the_file(media, tmp_path):
    with_sound = media.clip(seconds=1.0)
    info, level = verify.inspect(with_sound)
    assert info.first_video is not None and info.first_audio is not None
    assert level is not None and not level.silent and level.true_peak is not None
    mute = media.copy(media.clip(seconds=1.0, audio=False), tmp_path / "mute.mp4")
    info, level = verify.inspect(mute)
    assert info.first_video is not None and not info.audio and level is None
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 4096)
    with pytest.raises(MediaError):
        verify.inspect(broken)
