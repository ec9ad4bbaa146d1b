"""A captioned story in scanned/: its text, its espeak-ng narration, a black clip and music."""

from __future__ import annotations

import runpy
import subprocess
from pathlib import Path

import mediakit

from storyreel.media.tools import ffmpeg
from storyreel.project import Project

BENCH = Path(__file__).resolve().parents[2] / "bench"
narrate = runpy.run_path(str(BENCH / "captions_narration.py"))["narrate"]

# A chapter's text, short enough for a render of a few seconds.
TEXT = ("The old keeper walked along the shore every morning, "
        "counting the boats that came home before the storm.")
# Small frames with captions still tall enough to find in a frame grab.
WIDTH, HEIGHT = 640, 360
# Pixels brighter than this (0–255, any channel) on the black clip are caption text.
LIT = 60


def small_render(project: Project) -> Project:
    """The project rendering WIDTH×HEIGHT frames fast."""
    cfg = project.layout.config_file
    text = cfg.read_text().replace('resolution = "3840x2160"', f'resolution = "{WIDTH}x{HEIGHT}"')
    cfg.write_text(text.replace('preset = "medium"', 'preset = "ultrafast"'))
    return Project.open(project.layout.root)


def narrated_story(project: Project, work: Path, *, text: bool = True, category: str = "default",
                   story: str = "keeper", said: str = TEXT, chapter: int = 1,
                   chunks: list[str] | None = None):
    """Scanned assets of chapter `chapter` narrating `said` (the story's chunks written when
    `text`: `chunks`, by default TEXT alone); the espeak-ng narration (its reference word
    starts)."""
    layout = project.layout
    narration = narrate(said, work / "voice.wav")
    voice = layout.scanned_voice(category, story, f"chapter_{chapter:04d}.mp3")
    voice.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg(), "-v", "error", "-nostdin", "-y", "-i", str(narration.wav),
                    "-c:a", "libmp3lame", "-b:a", "64k", str(voice)], check=True)
    seconds = narration.seconds + 1.0
    mediakit.scanned_backdrop(layout, work, category, WIDTH, HEIGHT, seconds)
    if text:
        for number, chunk in enumerate(chunks or [TEXT], start=1):
            layout.scanned_chunk(category, story, number).write_text(chunk + "\n", encoding="utf-8")
    return narration


def lit_box(frame: bytes, width: int, height: int) -> tuple[int, int, int, int, int] | None:
    """(left, top, right, bottom, count) of the lit pixels of an RGB24 frame; None if none."""
    xs, ys = [], []
    for y in range(height):
        row = frame[y * width * 3:(y + 1) * width * 3]
        if max(row) <= LIT:
            continue
        for x in range(width):
            if max(row[3 * x:3 * x + 3]) > LIT:
                xs.append(x)
                ys.append(y)
    return (min(xs), min(ys), max(xs), max(ys), len(xs)) if xs else None
