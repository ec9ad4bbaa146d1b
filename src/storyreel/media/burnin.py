"""Burn ASS captions into a video with ffmpeg's `ass` filter (libass), and grab frames.

`ass_filter` is the filter the render graph puts next to the logo; `burn_in` and
`grab_frame` run it alone (tests and checks of the caption layout).
"""

from __future__ import annotations

from pathlib import Path

from storyreel.media import run as runner
from storyreel.media.tools import ffmpeg, media_arg

# A burn-in check renders seconds of video; a frame grab is one decode.
BURN_TIMEOUT = 300.0

# Characters with a meaning inside one filter's options, and inside a filter graph.
_OPTION_SPECIAL = "\\':"
_GRAPH_SPECIAL = "\\'[],;"


def _escaped(text: str, special: str) -> str:
    return "".join(f"\\{char}" if char in special else char for char in text)


def filter_value(text: str) -> str:
    """A path or string as one filter option's value inside a filter graph."""
    return _escaped(_escaped(text, _OPTION_SPECIAL), _GRAPH_SPECIAL)


def ass_filter(ass: Path | str, fonts_dir: Path | str) -> str:
    """The `ass` filter drawing `ass` with only the fonts in `fonts_dir` besides the system's."""
    return f"ass=filename={filter_value(str(ass))}:fontsdir={filter_value(str(fonts_dir))}"


def burn_in(video: Path | str, ass: Path | str, fonts_dir: Path | str, dst: Path | str) -> Path:
    """Write `video` with the captions of `ass` drawn on it to `dst` (video only, x264)."""
    video, dst = Path(video), Path(dst)
    argv = [
        ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "error", "-i", media_arg(video),
        "-vf", ass_filter(ass, fonts_dir), "-an", "-c:v", "libx264", "-preset", "ultrafast",
        "-qp", "0", "-y", media_arg(dst),
    ]
    runner.run(argv, verb="burn the captions into", path=video, timeout=BURN_TIMEOUT)
    return dst


def grab_frame(video: Path | str, at: float, dst: Path | str) -> Path:
    """Write the frame shown at `at` seconds of `video` to `dst` as raw RGB24 pixels."""
    video, dst = Path(video), Path(dst)
    argv = [
        ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "error", "-ss", f"{at:.3f}",
        "-i", media_arg(video), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24",
        "-y", media_arg(dst),
    ]
    runner.run(argv, verb="grab a frame of", path=video, timeout=BURN_TIMEOUT)
    return dst
