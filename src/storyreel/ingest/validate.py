"""Checks shared by the asset kinds; each failure is an Unacceptable with a plain reason."""

from __future__ import annotations

from pathlib import Path

from storyreel.errors import MediaError, Unacceptable
from storyreel.media.probe import AudioStream, MediaInfo, probe


def unreadable(exc: MediaError, what: str = "cannot read the file") -> Unacceptable:
    """An Unacceptable carrying ffmpeg's own words (with the file's bare name) as the detail."""
    reason = exc.reason.replace(f"file:{exc.path}", exc.path.name).replace(str(exc.path), exc.path.name)
    return Unacceptable(f"{what}: {reason}", detail=exc.stderr_tail or exc.reason)


def probed(path: Path) -> MediaInfo:
    """ffprobe's view of a raw file; Unacceptable (with ffprobe's error) when it has none."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise Unacceptable(f"cannot read the file: {exc.strerror or exc}") from exc
    if size == 0:
        raise Unacceptable("empty file (0 bytes)")
    try:
        return probe(path)
    except MediaError as exc:
        raise unreadable(exc, "unreadable media (ffprobe)") from exc


def mp3_audio(info: MediaInfo) -> AudioStream:
    """The file's MP3 audio stream; Unacceptable when it is something else renamed .mp3."""
    audio = info.first_audio
    if audio is None:
        raise Unacceptable("no audio stream")
    formats = info.format_name.split(",")
    if audio.codec != "mp3" or "mp3" not in formats:
        raise Unacceptable(f"not MP3 audio: ffprobe found {audio.codec or 'unknown'} audio in {info.format_name}")
    return audio


def positive_duration(info: MediaInfo) -> float:
    if info.duration is None or info.duration <= 0:
        raise Unacceptable("no duration: the file holds no playable media")
    return info.duration
