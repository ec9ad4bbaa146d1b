"""Narration: raw/story/<category>/<story>/voice/chapter_NNNN.mp3 → the same place under scanned/."""

from __future__ import annotations

from pathlib import Path

from storyreel import voicerecord
from storyreel.errors import MediaError, Unacceptable
from storyreel.ingest.filing import file_into
from storyreel.ingest.validate import mp3_audio, positive_duration, probed, unreadable
from storyreel.ingest.watch import Signature
from storyreel.layout import RawAsset, RawRole
from storyreel.media.audio import speech_seconds
from storyreel.project import Project

# Less sound than this is silence: an encoder's padding frames at the end of a silent
# mp3 measure as a few hundredths of a second.
SILENT_SECONDS = 0.1


def ingest_voice(project: Project, asset: RawAsset, expect: Signature) -> Path:
    """Check that the chapter is MP3 and holds enough speech, then file it under its own name."""
    settings = project.settings.ingest
    info = probed(asset.path)
    mp3_audio(info)
    duration = positive_duration(info)
    try:
        speech = speech_seconds(asset.path, duration, silence_db=settings.silence_db)
    except MediaError as exc:
        raise unreadable(exc, "cannot decode the narration") from exc
    if speech < SILENT_SECONDS:
        raise Unacceptable(f"silent: no sound above {settings.silence_db:g} dBFS")
    if speech < settings.min_voice_seconds:
        raise Unacceptable(
            f"too little speech: {speech:.1f} s, at least {settings.min_voice_seconds:g} s needed"
        )
    assert asset.story is not None  # classify_raw always names the story of a voice file
    dst = project.layout.scanned_voice(asset.category, asset.story, asset.name)
    filed = file_into(
        project, asset.path, dst, kind=str(RawRole.VOICE), expect=expect,
        duration=round(duration, 3), speech_seconds=round(speech, 3),
    )
    if filed == dst:  # not a duplicate sent to the trash
        voicerecord.write(dst, duration)
    return filed
