"""ffprobe JSON into typed dataclasses. `parse` is pure; `probe` runs ffprobe."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from storyreel.errors import MediaError
from storyreel.media import run as runner
from storyreel.media.tools import ffprobe, media_arg

PROBE_TIMEOUT = 60.0  # seconds; a probe reads headers only, a hung network share should not hang us


def _float(value: Any) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if result == result else None  # NaN → None


def _rate(value: Any) -> float | None:
    try:
        frac = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return float(frac) if frac > 0 else None


def _rotation(stream: dict[str, Any]) -> int:
    for side in stream.get("side_data_list") or []:
        if "rotation" in side:
            try:
                return int(round(float(side["rotation"])))
            except (TypeError, ValueError):
                pass
    tag = (stream.get("tags") or {}).get("rotate")
    try:
        return int(tag) if tag is not None else 0
    except ValueError:
        return 0


@dataclass(frozen=True)
class VideoStream:
    index: int
    codec: str
    width: int
    height: int
    rotation: int = 0
    fps: float | None = None
    sar: str = "1:1"
    pix_fmt: str = ""
    duration: float | None = None

    @property
    def display_size(self) -> tuple[int, int]:
        """Width and height as shown, after the rotation a phone recorded."""
        if abs(self.rotation) % 180 == 90:
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True)
class AudioStream:
    index: int
    codec: str
    sample_rate: int = 0
    channels: int = 0
    duration: float | None = None


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    format_name: str
    duration: float | None
    size: int
    video: list[VideoStream] = field(default_factory=list)
    audio: list[AudioStream] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)  # the container's own tags, lower-case keys

    @property
    def first_video(self) -> VideoStream | None:
        return self.video[0] if self.video else None

    @property
    def first_audio(self) -> AudioStream | None:
        return self.audio[0] if self.audio else None


def parse(data: dict[str, Any], path: Path | str) -> MediaInfo:
    """Turn `ffprobe -of json -show_format -show_streams` output into MediaInfo."""
    fmt = data.get("format") or {}
    videos: list[VideoStream] = []
    audios: list[AudioStream] = []
    for stream in data.get("streams") or []:
        kind = stream.get("codec_type")
        disposition = stream.get("disposition") or {}
        if kind == "video" and not disposition.get("attached_pic"):
            videos.append(VideoStream(
                index=int(stream.get("index", 0)),
                codec=str(stream.get("codec_name", "")),
                width=int(stream.get("width") or 0),
                height=int(stream.get("height") or 0),
                rotation=_rotation(stream),
                fps=_rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate")),
                sar=str(stream.get("sample_aspect_ratio") or "1:1"),
                pix_fmt=str(stream.get("pix_fmt", "")),
                duration=_float(stream.get("duration")),
            ))
        elif kind == "audio":
            audios.append(AudioStream(
                index=int(stream.get("index", 0)),
                codec=str(stream.get("codec_name", "")),
                sample_rate=int(_float(stream.get("sample_rate")) or 0),
                channels=int(stream.get("channels") or 0),
                duration=_float(stream.get("duration")),
            ))
    duration = _float(fmt.get("duration"))
    if duration is None:
        known = [s.duration for s in (*videos, *audios) if s.duration]
        duration = max(known) if known else None
    return MediaInfo(
        path=Path(path),
        format_name=str(fmt.get("format_name", "")),
        duration=duration,
        size=int(_float(fmt.get("size")) or 0),
        video=videos,
        audio=audios,
        tags={str(k).lower(): str(v) for k, v in (fmt.get("tags") or {}).items()},
    )


def probe(path: Path | str, *, timeout: float = PROBE_TIMEOUT) -> MediaInfo:
    """Probe a media file; MediaError (with ffprobe's message) when it cannot be read."""
    argv = [
        ffprobe(), "-v", "error", "-hide_banner", "-of", "json",
        "-show_format", "-show_streams", media_arg(path),
    ]
    done = runner.run(argv, verb="probe", path=path, timeout=timeout)
    try:
        data = json.loads(done.stdout or "{}")
    except json.JSONDecodeError as exc:
        raise MediaError("probe", path, f"ffprobe printed unreadable JSON: {exc}") from exc
    info = parse(data, path)
    if not info.video and not info.audio:
        raise MediaError("probe", path, "no audio or video stream found", stderr=done.stderr)
    return info
