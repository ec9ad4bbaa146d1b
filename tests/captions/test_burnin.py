"""Burned-in captions stay inside the safe area (a frame grab's caption pixels, real libass)."""

from __future__ import annotations

from pathlib import Path

import mediakit
import pytest

from storyreel.captions import (
    Alignment,
    AlignmentQuality,
    CaptionPosition,
    CaptionSettings,
    WordTiming,
    copy_font,
    write_subtitles,
)
from storyreel.captions.safearea import safe_area
from storyreel.media.burnin import burn_in, grab_frame

# A caption long enough to wrap: the widest line must still fit the safe area.
TEXT = ("Nobody in the village remembered who had built the lighthouse, "
        "but everybody remembered the night its lamp went dark")
# Pixels brighter than this (0–255, any channel) on the black clip are caption text.
LIT = 60


def _alignment() -> Alignment:
    words = [WordTiming(word=w, start=0.1 + i * 0.01, end=0.12 + i * 0.01)
             for i, w in enumerate(TEXT.split())]
    quality = AlignmentQuality(words=len(words), aligned=len(words), unspoken=0, confidence=1.0)
    return Alignment(duration=1.0, words=words, quality=quality)


def _lit_box(frame: bytes, width: int, height: int) -> tuple[int, int, int, int, int]:
    """(left, top, right, bottom, count) of the lit pixels of an RGB24 frame."""
    xs, ys = [], []
    for y in range(height):
        row = frame[y * width * 3:(y + 1) * width * 3]
        if max(row) <= LIT:
            continue
        for x in range(0, width):
            if max(row[3 * x:3 * x + 3]) > LIT:
                xs.append(x)
                ys.append(y)
    assert xs, "no caption pixels in the frame"
    return min(xs), min(ys), max(xs), max(ys), len(xs)


@pytest.mark.parametrize("position", [CaptionPosition.BOTTOM, CaptionPosition.TOP])
@pytest.mark.parametrize(("width", "height"), [(1280, 720), (720, 1280)])
def test_captions_stay_inside_the_safe_area(tmp_path: Path, width: int, height: int,
                                            position: CaptionPosition) -> None:
    clip = mediakit.clip(tmp_path / "black.mp4", width=width, height=height, seconds=0.6, fps=5,
                         audio=False, source="color")
    settings = CaptionSettings(position=position, lines_per_cue=3)
    files = write_subtitles(_alignment(), settings, width=width, height=height, folder=tmp_path)
    fonts = copy_font(settings.font, tmp_path / "fonts", bold=settings.bold)
    burned = burn_in(clip, files.ass, fonts, tmp_path / "burned.mkv")
    frame = grab_frame(burned, 0.4, tmp_path / "frame.rgb").read_bytes()
    assert len(frame) == width * height * 3
    left, top, right, bottom, count = _lit_box(frame, width, height)
    area = safe_area(width, height)
    assert area.left <= left and right <= area.right, (left, right, area)
    assert area.top <= top and bottom <= area.bottom, (top, bottom, area)
    assert count > 2000  # real text, not a stray pixel
    if position is CaptionPosition.BOTTOM:
        assert bottom > area.bottom - 0.1 * height  # sits on the safe area's lower edge
    else:
        assert top < area.top + 0.1 * height
