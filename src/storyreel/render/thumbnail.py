"""A rendered video's thumbnail: a representative frame with the story's title and chapter.

    make_thumbnail(task_dir, video, dst)   # dst: thumbnail.jpg beside the render

The frame is chosen by ffmpeg's `thumbnail` filter (the frame closest to the average
colour histogram of the candidates: no black fade, no flash) among frames sampled after
the title card; a long video offers only its keyframes, so it is never decoded whole. The
picture is sized for the platforms: 1280x720 for a 16:9 output, 1080x1920 for 9:16, any
other shape scaled to 1280 on its long side. Runs on the render node after the render.
"""

from __future__ import annotations

import math
from pathlib import Path

from storyreel import fsops
from storyreel.errors import MediaError, RenderError, StoryreelError
from storyreel.layout import CHAPTER_RE
from storyreel.media import run as runner
from storyreel.media.tools import ffmpeg, media_arg
from storyreel.render.picture import drawtext, text_size
from storyreel.render.picture_inputs import task_font
from storyreel.taskmeta import TaskMeta, read
from storyreel.units import seconds_text

# The platforms' thumbnail sizes: YouTube's 1280x720 for 16:9, the Shorts/TikTok cover
# 1080x1920 for 9:16; other shapes get this long side.
LANDSCAPE = (1280, 720)
PORTRAIT = (1080, 1920)
LONG_SIDE = 1280
# Candidate frames the thumbnail filter compares (it keeps them all in memory, at the
# thumbnail's size: 100 frames of 1280x720 are about 140 MB).
CANDIDATES = 100
# Videos up to this long are sampled at SAMPLE_FPS from fully decoded frames; longer ones
# offer their keyframes only (about one every 8 s from libx264).
FULL_DECODE_SECONDS = 60.0
SAMPLE_FPS = 2
# Title and chapter heights as shares of the thumbnail's shorter side; where the title sits:
# near the top, clear of the captions burned into the frame (bottom or middle of the picture).
TITLE_SHARE = 0.10
CHAPTER_SHARE = 0.06
TITLE_TOP_SHARE = 0.12
# A thumbnail is one decode of a few seconds of video (or of its keyframes) and one JPEG.
THUMBNAIL_TIMEOUT = 600.0
# JPEG quality for ffmpeg's mjpeg (2 best … 31 worst): clean text edges, a few hundred KB.
JPEG_QUALITY = 3


def thumbnail_size(width: int, height: int) -> tuple[int, int]:
    """The thumbnail size for an output of `width` x `height`."""
    if width * 9 == height * 16:
        return LANDSCAPE
    if width * 16 == height * 9:
        return PORTRAIT
    scale = LONG_SIDE / max(width, height)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def chapter_label(meta: TaskMeta) -> str:
    """`Chapter 3` for a task of chapter_0003.mp3; "" when its chapter has no number."""
    found = CHAPTER_RE.match(Path(meta.chapter).name) if meta.chapter else None
    return f"Chapter {int(found.group(1))}" if found else ""


def thumbnail_argv(video: Path, dst: Path, meta: TaskMeta, font: Path | None, *, tool: str) -> list[str]:
    """The ffmpeg command writing `dst` (JPEG) from the rendered `video`."""
    spec = meta.render
    duration = meta.voice_duration
    start = spec.title_seconds if spec.title_seconds < duration * 0.8 else 0.0
    width, height = thumbnail_size(*spec.size)
    argv = [tool, "-hide_banner", "-nostdin", "-nostats", "-v", "error", "-y"]
    if duration > FULL_DECODE_SECONDS:
        argv += ["-skip_frame", "nokey"]
        sample, candidates = "", CANDIDATES
    else:
        sample = f"fps={SAMPLE_FPS},"
        candidates = max(1, min(CANDIDATES, math.ceil((duration - start) * SAMPLE_FPS)))
    argv += ["-ss", seconds_text(start), "-i", media_arg(video)]
    steps = [f"{sample}scale={width}:{height},setsar=1,thumbnail={candidates}"]
    steps += _lettering(meta, font, width, height)
    argv += ["-vf", ",".join(steps), "-an", "-frames:v", "1", "-c:v", "mjpeg",
             "-q:v", str(JPEG_QUALITY), "-pix_fmt", "yuvj420p", "-f", "image2", media_arg(dst)]
    return argv


def _lettering(meta: TaskMeta, font: Path | None, width: int, height: int) -> list[str]:
    """drawtext filters for the title and, under it, the chapter."""
    short = min(width, height)
    title = meta.story_title
    size = text_size(title, width, short * TITLE_SHARE)
    box = ["box=1", "boxcolor=black@0.45", f"boxborderw={max(2, size // 4)}"]
    top = round(height * TITLE_TOP_SHARE)
    steps = [drawtext(title, font, size, x="(w-text_w)/2", y=str(top), extra=box)]
    chapter = chapter_label(meta)
    if chapter:
        small = text_size(chapter, width, short * CHAPTER_SHARE)
        below = top + round(size * 1.6)
        steps.append(drawtext(chapter, font, small, x="(w-text_w)/2", y=str(below), extra=box))
    return steps


def make_thumbnail(task_dir: Path, video: Path, dst: Path) -> Path:
    """Write the thumbnail of the rendered `video` of `task_dir` to `dst` (whole or not
    at all); RenderError when it cannot be made."""
    task_dir, dst = Path(task_dir), Path(dst)
    tmp = fsops.temp_path(dst.parent, dst.name)
    try:
        meta = read(task_dir)
        argv = thumbnail_argv(Path(video), tmp, meta, task_font(task_dir, meta), tool=ffmpeg())
        runner.run(argv, verb="make the thumbnail of", path=video, timeout=THUMBNAIL_TIMEOUT)
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise RenderError(task_dir, "the thumbnail came out empty")
        fsops.move(tmp, dst, overwrite=True)
    except RenderError:
        tmp.unlink(missing_ok=True)
        raise
    except (MediaError, StoryreelError, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise RenderError(task_dir, f"cannot make the thumbnail: {exc}",
                          stderr=getattr(exc, "stderr", "")) from exc
    return dst
