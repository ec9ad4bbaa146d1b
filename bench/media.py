"""Benchmark media: lavfi clips with real motion and texture, espeak-ng narration, music.

Clips are made once per work folder and reused across runs (their names encode every
parameter). Sources: testsrc2 (moving pattern), mandelbrot (zoom), life (cellular
automaton), each with a little temporal grain so the encoder sees real detail.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import BenchError

FFMPEG = shutil.which("ffmpeg") or "ffmpeg"
FFPROBE = shutil.which("ffprobe") or "ffprobe"
BASE = [FFMPEG, "-y", "-hide_banner", "-nostdin", "-loglevel", "error"]

# Grain added to every clip: camera-like temporal noise, so frames are not trivially
# predictable and x264 has to work as on real footage.
GRAIN = "noise=alls=6:allf=t"

STORY = (
    "Long ago, in a valley between two rivers, a young dragon named Ember watched the "
    "older dragons leave each autumn for the warm lands beyond the mountains. She had a "
    "torn wing, and every year she stayed behind with the shepherds and their goats. "
    "The shepherds taught her to read the clouds, to smell the rain before it came, and "
    "to count the stars that rose over the eastern ridge. One winter a storm buried the "
    "village road, and the shepherds could not reach the market town. Ember climbed the "
    "ridge on foot, step by step, carrying bread and lamp oil on her back. "
)


@dataclass(frozen=True)
class ClipSpec:
    """One background clip: lavfi source, size, rate and length."""

    source: str  # testsrc2, mandelbrot, life
    width: int
    height: int
    fps: int
    seconds: float

    @property
    def name(self) -> str:
        return f"{self.source}_{self.width}x{self.height}_{self.fps}fps_{self.seconds:g}s.mp4"

    def lavfi(self) -> str:
        size = f"{self.width}x{self.height}"
        if self.source == "mandelbrot":
            # mandelbrot is costly to draw at full size: draw at half size, then upscale.
            half = f"{max(32, self.width // 2)}x{max(18, self.height // 2)}"
            return f"mandelbrot=s={half}:r={self.fps}:maxiter=128,scale={size}:flags=bicubic"
        if self.source == "life":
            return (
                f"life=s={size}:r={self.fps}:mold=10:ratio=0.2:"
                "life_color=#00ff80:death_color=#c83232:mold_color=#203060"
            )
        return f"testsrc2=s={size}:r={self.fps}"


def _run(argv: list[str]) -> None:
    done = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(
            f"cannot make media with {' '.join(argv[-1:])}: {done.stderr.strip()[-400:]}"
        )


def clip(folder: Path, spec: ClipSpec) -> Path:
    """An H.264 mp4 (no audio, like muted stock footage) made from a lavfi source."""
    path = folder / spec.name
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(".tmp-" + path.name)
    _run(
        BASE
        + [
            "-f",
            "lavfi",
            "-i",
            spec.lavfi(),
            "-t",
            f"{spec.seconds}",
            "-vf",
            f"{GRAIN},format=yuv420p",
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "20",
            "-g",
            str(spec.fps * 2),
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            f"file:{tmp}",
        ]
    )
    tmp.replace(path)
    return path


def narration(folder: Path, seconds: float) -> Path:
    """espeak-ng narration at least `seconds` long, cut to exactly that length (mp3)."""
    path = folder / f"voice_{seconds:g}s.mp3"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    # espeak-ng speaks about 2.6 words/s at 160 wpm: repeat the story until long enough.
    words = len(STORY.split())
    repeats = max(1, int(seconds * 2.9 / words) + 1)
    wav = folder / f".voice_{seconds:g}s.wav"
    _run(["espeak-ng", "-s", "160", "-w", str(wav), STORY * repeats])
    tmp = path.with_name(".tmp-" + path.name)
    _run(
        BASE
        + [
            "-i",
            f"file:{wav}",
            "-t",
            f"{seconds}",
            "-ar",
            "44100",
            "-ac",
            "1",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "64k",
            "-f",
            "mp3",
            f"file:{tmp}",
        ]
    )
    wav.unlink()
    tmp.replace(path)
    if duration(path) < seconds - 0.5:
        raise BenchError(f"cannot make narration {path}: espeak-ng spoke less than {seconds:g} s")
    return path


def music(folder: Path, seconds: float) -> Path:
    """A stereo mp3 of a simple chord progression (stands in for background music)."""
    path = folder / f"music_{seconds:g}s.mp3"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    expr = (
        "0.2*sin(2*PI*(220+55*floor(mod(t,8)/2))*t)+0.15*sin(2*PI*330*t)*(0.5+0.5*sin(PI*t))|"
        "0.2*sin(2*PI*(277+55*floor(mod(t,8)/2))*t)+0.1*sin(2*PI*440*t)"
    )
    tmp = path.with_name(".tmp-" + path.name)
    _run(
        BASE
        + [
            "-f",
            "lavfi",
            "-i",
            f"aevalsrc=exprs='{expr}':s=44100:d={seconds}",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "128k",
            "-f",
            "mp3",
            f"file:{tmp}",
        ]
    )
    tmp.replace(path)
    return path


def logo(folder: Path, width: int = 160, height: int = 60) -> Path:
    path = folder / f"logo_{width}x{height}.png"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    _run(
        BASE
        + [
            "-f",
            "lavfi",
            "-i",
            f"testsrc=s={width}x{height}:d=1",
            "-frames:v",
            "1",
            "-f",
            "image2",
            f"file:{path}",
        ]
    )
    return path


def duration(path: Path) -> float:
    done = subprocess.run(
        [
            FFPROBE,
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
            f"file:{path}",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return float(done.stdout.strip())
    except ValueError as exc:
        raise BenchError(f"cannot probe {path}: {done.stderr.strip() or 'no duration'}") from exc
