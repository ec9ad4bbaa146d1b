"""Narrations at a chosen loudness, tone-burst voices with a pause, and band levels of an output."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from render_helpers import FFMPEG

from storyreel.media.loudness import measure_file

# The music tone of the ducking tests and the voice bursts, far apart so a band-pass
# at the music's frequency hears the music alone.
MUSIC_HZ = 200
VOICE_HZ = 2000


def _encode(argv_in: list[str], af: str, path: Path, channels: int = 1) -> Path:
    subprocess.run([FFMPEG, "-y", "-v", "error", "-nostdin", *argv_in, "-af", af, "-ac", str(channels),
                    "-c:a", "libmp3lame", "-b:a", "128k", f"file:{path}"], check=True)
    return path


def voice_at(source: Path, lufs: float, path: Path) -> Path:
    """`source` re-levelled so that it measures `lufs` integrated (mono mp3)."""
    if not path.exists():
        gain = lufs - measure_file(source).integrated
        _encode(["-i", f"file:{source}"], f"volume={gain:.2f}dB", path)
    return path


def bursts(path: Path, *, gap: tuple[float, float] = (1.5, 3.5), seconds: float = 5.0,
           volume_db: float = -12.0) -> Path:
    """A voice of tone bursts at VOICE_HZ that falls silent during `gap` (s)."""
    if not path.exists():
        start, end = gap
        _encode(["-f", "lavfi", "-i", f"sine=frequency={VOICE_HZ}:sample_rate=44100:duration={seconds}"],
                f"volume='if(between(t,{start},{end}),0,1)':eval=frame,volume={volume_db}dB", path)
    return path


def music_tone(path: Path, *, seconds: float = 6.0, volume_db: float = -6.0) -> Path:
    """Steady music: a stereo tone at MUSIC_HZ."""
    if not path.exists():
        _encode(["-f", "lavfi", "-i", f"sine=frequency={MUSIC_HZ}:sample_rate=44100:duration={seconds}"],
                f"volume={volume_db}dB", path, channels=2)
    return path


def band_level(path: Path, start: float, seconds: float, hz: int = MUSIC_HZ) -> float:
    """Mean level (dBFS) of `path` between start and start+seconds, band-passed around `hz`."""
    done = subprocess.run(
        [FFMPEG, "-hide_banner", "-nostdin", "-ss", f"{start}", "-t", f"{seconds}", "-i", f"file:{path}",
         "-map", "0:a:0", "-af", f"bandpass=f={hz}:width_type=q:w=4,bandpass=f={hz}:width_type=q:w=4,volumedetect",
         "-f", "null", "-"], capture_output=True, text=True, check=True)
    match = re.search(r"mean_volume: (-?[\d.]+|-inf) dB", done.stderr)
    assert match, done.stderr[-500:]
    return float(match.group(1)) if match.group(1) != "-inf" else -200.0


def format_tags(path: Path) -> dict[str, str]:
    """The container's own tags, as ffprobe reads them."""
    done = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json",
                           f"file:{path}"], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)["format"].get("tags", {})
