"""ffprobe JSON into typed dataclasses. `parse` is pure; `probe` runs ffprobe.

`probe_run(path, decode_video=True)` also decodes every frame of the picture in the same
ffprobe process (`-count_frames`), so a clip is probed and decode-checked by one process
start instead of two.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from storyreel.errors import MediaError
from storyreel.media import run as runner
from storyreel.media.tools import ffprobe, media_arg

PROBE_TIMEOUT = 60.0  # seconds; a probe reads headers only, a hung network share should not hang us
# Decoder threads of a decoding probe: ffprobe takes "auto" (0) as one thread, so the count
# is named; a 2160p clip decodes about 1.3x faster on two threads than on one.
DECODE_THREADS = str(os.cpu_count() or 1)


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


def _count(value: Any) -> int | None:
    number = _float(value)
    return int(number) if number is not None else None


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
    frames_decoded: int | None = None  # frames ffprobe decoded (`-count_frames`), else None
    frames: int | None = None  # frames the container lists (mp4's sample table), else None

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
    streams: int = 0  # streams in the container, listed or not (a decoding probe lists its picture only)

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
                frames_decoded=_count(stream.get("nb_read_frames")),
                frames=_count(stream.get("nb_frames")),
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
        streams=int(_float(fmt.get("nb_streams")) or 0),
    )


def probe_argv(path: Path | str, *, decode_video: bool = False) -> list[str]:
    """ffprobe printing format and streams as JSON; `decode_video`: it also decodes every
    frame of the picture streams (cover art aside), lists only those and counts their frames."""
    argv = [ffprobe(), "-v", "error", "-hide_banner", "-of", "json", "-show_format", "-show_streams"]
    if decode_video:
        argv += ["-threads", DECODE_THREADS, "-count_frames", "-select_streams", "V"]
    return [*argv, media_arg(path)]


def probe(path: Path | str, *, timeout: float = PROBE_TIMEOUT) -> MediaInfo:
    """Probe a media file; MediaError (with ffprobe's message) when it cannot be read."""
    return probe_run(path, timeout=timeout)[0]


def probe_run(
    path: Path | str, *, decode_video: bool = False, timeout: float = PROBE_TIMEOUT
) -> tuple[MediaInfo, runner.Completed]:
    """The probe and the finished ffprobe run (its stderr holds what a decode complained
    of). MediaError when the file cannot be read or holds no stream at all."""
    done = runner.run(probe_argv(path, decode_video=decode_video), verb="probe", path=path,
                      timeout=timeout)
    try:
        data = json.loads(done.stdout or "{}")
    except json.JSONDecodeError as exc:
        raise MediaError("probe", path, f"ffprobe printed unreadable JSON: {exc}") from exc
    info = parse(data, path)
    listed = info.video or info.audio or (decode_video and info.streams)
    if not listed:
        raise MediaError("probe", path, "no audio or video stream found", stderr=done.stderr)
    return info, done
