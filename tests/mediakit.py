"""Tiny real media for tests and the demo, made with ffmpeg lavfi and espeak-ng."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

FFMPEG = shutil.which("ffmpeg") or "ffmpeg"
BASE = [FFMPEG, "-y", "-hide_banner", "-nostdin", "-loglevel", "error"]


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)


def clip(
    path: Path, *, width: int = 160, height: int = 90, seconds: float = 2.0, fps: float = 25,
    audio: bool = True, rotate: int | None = None, sar: str | None = None, source: str = "testsrc2",
) -> Path:
    """An H.264 mp4 with moving test picture and (optionally) a tone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    argv = BASE + ["-f", "lavfi", "-i", f"{source}=s={width}x{height}:r={fps}:d={seconds}"]
    if audio:
        argv += ["-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=44100:duration={seconds}"]
    vf = "format=yuv420p"
    if sar:
        vf += f",setsar={sar}"
    argv += ["-vf", vf, "-c:v", "libx264", "-preset", "ultrafast", "-g", str(int(fps))]
    if audio:
        argv += ["-c:a", "aac", "-b:a", "64k", "-shortest"]
    if rotate is None:
        _run(argv + [f"file:{path}"])
        return path
    # A phone's rotation is a display matrix on the stream; ffmpeg 5 writes one only when
    # remuxing with `-c copy`, so encode first, then remux with the rotate tag.
    plain = path.with_name(path.name + ".plain.mp4")
    _run(argv + [f"file:{plain}"])
    _run(BASE + ["-i", f"file:{plain}", "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", f"file:{path}"])
    plain.unlink()
    return path


def tone_mp3(path: Path, *, seconds: float = 3.0, frequency: int = 440, volume_db: float = 0.0) -> Path:
    """An mp3 sine tone (stands in for music)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _run(BASE + [
        "-f", "lavfi", "-i", f"sine=frequency={frequency}:sample_rate=44100:duration={seconds}",
        "-af", f"volume={volume_db}dB", "-ac", "2", "-c:a", "libmp3lame", "-b:a", "128k", f"file:{path}",
    ])
    return path


def silence_mp3(path: Path, *, seconds: float = 3.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    _run(BASE + [
        "-f", "lavfi", "-i", f"anullsrc=r=44100:cl=mono:d={seconds}",
        "-t", str(seconds), "-c:a", "libmp3lame", "-b:a", "64k", f"file:{path}",
    ])
    return path


def speech_mp3(path: Path, text: str = "Once upon a time a dragon learned to fly over the hills.",
               *, words_per_minute: int = 170) -> Path:
    """Real narration spoken by espeak-ng, as mp3."""
    path.parent.mkdir(parents=True, exist_ok=True)
    wav = path.with_name(path.name + ".wav")
    subprocess.run(
        ["espeak-ng", "-s", str(words_per_minute), "-w", str(wav), text],
        check=True, stdin=subprocess.DEVNULL,
    )
    _run(BASE + ["-i", f"file:{wav}", "-c:a", "libmp3lame", "-b:a", "64k", f"file:{path}"])
    wav.unlink()
    return path


def wav(path: Path, *, seconds: float = 2.0) -> Path:
    """A WAV file (e.g. to rename to .mp3 as a wrong-codec case)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _run(BASE + ["-f", "lavfi", "-i", f"sine=frequency=500:duration={seconds}", "-f", "wav", f"file:{path}"])
    return path


def logo_png(path: Path, *, width: int = 32, height: int = 16, color: str = "red") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    _run(BASE + ["-f", "lavfi", "-i", f"color=c={color}:s={width}x{height}:d=1", "-frames:v", "1",
                 f"file:{path}"])
    return path


def scanned_backdrop(layout, work: Path, category: str, width: int, height: int, seconds: float) -> None:
    """One black clip and one 3 s hum in `category` of scanned/, filed as ingest would."""
    from storyreel.layout import AssetKind

    target = layout.scanned_clip(AssetKind.VIDEO, category, width, height, seconds, "black")
    clip(work / "black.mp4", width=width, height=height, seconds=seconds, fps=10, audio=False, source="color")
    target.parent.mkdir(parents=True, exist_ok=True)
    (work / "black.mp4").rename(target)
    music = layout.scanned_music(category, 3.0, "hum")
    music.parent.mkdir(parents=True, exist_ok=True)
    _run(BASE + ["-f", "lavfi", "-i", "sine=frequency=220:duration=3", "-c:a", "libmp3lame", f"file:{music}"])
