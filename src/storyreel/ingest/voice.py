"""Narration: raw/story/<category>/<story>/voice/chapter_NNNN.mp3 → the same place under scanned/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from storyreel import fsops, voicerecord
from storyreel.errors import MediaError, Unacceptable
from storyreel.ingest.filing import file_into, reject
from storyreel.ingest.validate import mp3_audio, positive_duration, probed, unreadable
from storyreel.ingest.watch import Signature
from storyreel.layout import VOICE_WORDS_SUFFIX, Layout, RawAsset, RawRole
from storyreel.media.audio import speech_seconds
from storyreel.project import Project

# Less sound than this is silence: an encoder's padding frames at the end of a silent
# mp3 measure as a few hundredths of a second.
SILENT_SECONDS = 0.1
# The trash reason of a synthesized voice an operator's replaced.
SUPERSEDED = "superseded"


def check_voice(project: Project, path: Path) -> tuple[float, float]:
    """The checks every voice chapter passes, an operator's or a synthesized one: MP3 audio
    holding enough speech. Returns (duration, speech seconds); Unacceptable when it fails."""
    duration, speech, _channels = _checked(project, path)
    return duration, speech


def _checked(project: Project, path: Path) -> tuple[float, float, int]:
    """check_voice's checks; (duration, speech seconds, audio channels)."""
    settings = project.settings.ingest
    info = probed(path)
    mp3_audio(info)
    duration = positive_duration(info)
    try:
        speech = speech_seconds(path, duration, silence_db=settings.silence_db)
    except MediaError as exc:
        raise unreadable(exc, "cannot decode the narration") from exc
    if speech < SILENT_SECONDS:
        raise Unacceptable(f"silent: no sound above {settings.silence_db:g} dBFS")
    if speech < settings.min_voice_seconds:
        raise Unacceptable(
            f"too little speech: {speech:.1f} s, at least {settings.min_voice_seconds:g} s needed"
        )
    audio = info.first_audio
    return duration, speech, audio.channels if audio is not None else 0


def ingest_voice(project: Project, asset: RawAsset, expect: Signature, *,
                 superseded: Callable[[str], None] = lambda _chapter: None) -> Path:
    """Check that the chapter is MP3 and holds enough speech, then file it under its own name.
    A synthesized voice already filed under that name makes way: it goes to trash/invalid/
    ("superseded") and `superseded(chapter)` is told, so the chapter is rendered again."""
    duration, speech, channels = _checked(project, asset.path)
    assert asset.story is not None  # classify_raw always names the story of a voice file
    dst = project.layout.scanned_voice(asset.category, asset.story, asset.name)
    if supersede_synthetic(project, dst):
        superseded(project.layout.chapter_of(dst))
    filed = file_into(
        project, asset.path, dst, kind=str(RawRole.VOICE), expect=expect,
        duration=round(duration, 3), speech_seconds=round(speech, 3),
    )
    if filed == dst:  # not a duplicate sent to the trash
        voicerecord.write(dst, duration, channels=channels)
    return filed


def supersede_synthetic(project: Project, voice: Path) -> bool:
    """Move a synthesized voice chapter (its record says so) out of an operator's way, to
    trash/invalid/ with the reason "superseded", its record and word timings with it.
    False when `voice` is not there or is an operator's."""
    made = voicerecord.narration(voice)
    if made is None or not voice.is_file():
        return False
    dest = reject(project, voice, SUPERSEDED, detail=f"an operator's voice replaced the narration "
                  f"{made.engine} ({made.voice}) made in task {made.task_id}", engine=made.engine,
                  voice=made.voice, task_id=made.task_id)
    words = Layout.voice_words(voice)
    if words.is_file():
        fsops.move(words, dest.with_name(dest.name + VOICE_WORDS_SUFFIX))
    Layout.voice_record(voice).unlink(missing_ok=True)
    return True
