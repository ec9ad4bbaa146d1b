"""Clips: raw/{video,frame}/<category>/<name>.mp4 → scanned/<kind>/<category>/mp4_w<W>_h<H>/<duration>_<name>.mp4."""

from __future__ import annotations

from pathlib import Path

from storyreel.errors import Unacceptable
from storyreel.ingest.filing import file_into
from storyreel.ingest.validate import positive_duration, probed_decoding, unreadable
from storyreel.ingest.watch import Signature
from storyreel.layout import AssetKind, RawAsset
from storyreel.project import Project


def ingest_clip(project: Project, asset: RawAsset, expect: Signature) -> Path:
    """Probe and decode the whole video stream (one ffprobe run), check the headers, then
    the decode, and file the clip under its size and duration."""
    decoded = probed_decoding(asset.path)
    info = decoded.info
    if "mp4" not in info.format_name.split(","):
        raise Unacceptable(f"not an MP4 file: ffprobe found {info.format_name}")
    stream = info.first_video
    if stream is None:
        raise Unacceptable("no video stream")
    width, height = stream.display_size
    if width <= 0 or height <= 0:
        raise Unacceptable(f"video stream has no picture size ({width}x{height})")
    duration = positive_duration(info)
    if (damage := decoded.damage()) is not None:
        raise unreadable(damage, "corrupt video")
    kind = AssetKind(str(asset.role))
    dst = project.layout.scanned_clip(kind, asset.category, width, height, duration, asset.stem)
    return file_into(
        project, asset.path, dst, kind=str(kind), expect=expect,
        width=width, height=height, duration=round(duration, 3), rotation=stream.rotation,
    )
