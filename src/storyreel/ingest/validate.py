"""Checks shared by the asset kinds; each failure is an Unacceptable with a plain reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from storyreel.errors import MediaError, Unacceptable
from storyreel.media.checks import Decoded, probe_decoding
from storyreel.media.probe import AudioStream, MediaInfo, probe

Probe = TypeVar("Probe", MediaInfo, Decoded)


def unreadable(exc: MediaError, what: str = "cannot read the file") -> Unacceptable:
    """An Unacceptable carrying ffmpeg's own words (with the file's bare name) as the detail."""
    reason = exc.reason.replace(f"file:{exc.path}", exc.path.name).replace(str(exc.path), exc.path.name)
    return Unacceptable(f"{what}: {reason}", detail=exc.stderr_tail or exc.reason)


def probed(path: Path) -> MediaInfo:
    """ffprobe's view of a raw file; Unacceptable (with ffprobe's error) when it has none."""
    return _probed_by(probe, path)


def probed_decoding(path: Path) -> Decoded:
    """As `probed`, with every frame of the picture decoded by the same ffprobe process;
    what the decode found is for the caller to judge (`Decoded.damage`), after the headers."""
    return _probed_by(probe_decoding, path)


def _probed_by(how: Callable[[Path], Probe], path: Path) -> Probe:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise Unacceptable(f"cannot read the file: {exc.strerror or exc}") from exc
    if size == 0:
        raise Unacceptable("empty file (0 bytes)")
    try:
        return how(path)
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
