"""Helpers for the render tests: task folders made by hand, audio levels, pixels."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from storyreel.layout import METADATA_NAME, VIDEO_LIST_NAME

FFMPEG = shutil.which("ffmpeg") or "ffmpeg"

SPEECH = ("Once upon a time a small dragon learned to fly over the green hills, "
          "and every night it told the stars about the wind.")


def voice_with_tail(media, seconds_of_silence: float = 1.5) -> Path:
    """espeak-ng narration followed by silence, so the end of a render holds only music."""
    def make(path: Path) -> None:
        subprocess.run([FFMPEG, "-y", "-v", "error", "-nostdin", "-i", f"file:{media.speech(SPEECH)}",
                        "-af", f"apad=pad_dur={seconds_of_silence}", "-c:a", "libmp3lame", "-b:a", "64k",
                        f"file:{path}"], check=True)
    return media._cached(f"voice_tail_{seconds_of_silence}.mp3", make)


def make_task(folder: Path, *, clips: list[Path], music: Path, voice: Path, duration: float,
              logo: Path | None = None, order: list[int] | None = None, **render) -> Path:
    """A task folder of plain copies, as a render node downloads it."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i, clip in enumerate(clips, 1):
        name = f"video_{i:04d}.mp4"
        shutil.copyfile(clip, folder / name)
        names.append(name)
    shutil.copyfile(music, folder / "music.mp3")
    shutil.copyfile(voice, folder / "voice.mp3")
    play = [names[i] for i in order] if order else names
    (folder / VIDEO_LIST_NAME).write_text(
        "ffconcat version 1.0\n" + "".join(f"file {n}\n" for n in play), encoding="utf-8")
    spec = {"resolution": "160x90", "frame_rate": 30, "encoder": "libx264", "preset": "ultrafast",
            "logo": "", **render}
    if logo is not None:
        shutil.copyfile(logo, folder / "logo.png")
        spec["logo"] = "logo.png"
    meta = {
        "task_id": folder.name, "category": "fantasy", "story_name": "dragon", "voice_file": "voice.mp3",
        "voice_duration": duration, "music_file": "music.mp3", "video_files": names, "render": spec,
    }
    (folder / METADATA_NAME).write_text(json.dumps(meta), encoding="utf-8")
    return folder


def mean_volume(path: Path, *, start: float = 0.0, seconds: float | None = None) -> float:
    """Mean audio level (dBFS) of a stretch of a file, by ffmpeg's volumedetect."""
    argv = [FFMPEG, "-hide_banner", "-nostdin", "-ss", f"{start}", "-i", f"file:{path}"]
    if seconds is not None:
        argv += ["-t", f"{seconds}"]
    argv += ["-map", "0:a:0", "-af", "volumedetect", "-f", "null", "-"]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    match = re.search(r"mean_volume: (-?[\d.]+|-inf) dB", done.stderr)
    assert match, done.stderr[-500:]
    return float(match.group(1)) if match.group(1) != "-inf" else -200.0


def pixel(path: Path, at: float, x: int, y: int, width: int) -> tuple[int, int, int]:
    """RGB of one pixel of the frame shown at `at` seconds."""
    done = subprocess.run(
        [FFMPEG, "-v", "error", "-nostdin", "-ss", f"{at}", "-i", f"file:{path}", "-frames:v", "1",
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True)
    offset = (y * width + x) * 3
    r, g, b = done.stdout[offset:offset + 3]
    return r, g, b


def moov_before_mdat(path: Path) -> bool:
    """True when the mp4 index comes first (-movflags +faststart)."""
    head = path.read_bytes()
    return 0 <= head.find(b"moov") < head.find(b"mdat")
