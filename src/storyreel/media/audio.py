"""Audio analysis and loudness normalisation with ffmpeg filters.

- `measure_loudness`: EBU R128 integrated loudness, true peak and range (loudnorm's
  measuring pass, printed as JSON).
- `normalise_loudness`: the second loudnorm pass, fed the first pass's figures, so the
  gain is linear where the true-peak ceiling allows it. Ingest uses the two passes only
  for music whose loudness range is wider than the target's (media.gain does the rest).
- `speech_seconds`: how much of a file is louder than a silence floor (silencedetect).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from storyreel.errors import MediaError
from storyreel.media import run as runner
from storyreel.media.tools import ffmpeg, media_arg

# Whole-file decodes of music or narration; an hour of audio decodes in well under this.
AUDIO_TIMEOUT = 900.0
# Music is re-encoded once; 192 kbit/s keeps it transparent under narration.
MUSIC_BITRATE = "192k"
# Pauses shorter than this between words still count as speech.
MIN_PAUSE_SECONDS = 0.5

_SILENCE_START = re.compile(r"silence_start:\s*(-?[\d.]+)")
_SILENCE_END = re.compile(r"silence_end:\s*(-?[\d.]+)")


@dataclass(frozen=True)
class Loudness:
    """One loudnorm measuring pass (EBU R128)."""

    integrated: float  # LUFS; -inf for silence
    true_peak: float  # dBTP
    loudness_range: float  # LU
    threshold: float  # LUFS
    offset: float  # LU, loudnorm's target_offset


@dataclass(frozen=True)
class LoudnessTarget:
    integrated: float = -16.0
    true_peak: float = -1.5
    loudness_range: float = 11.0

    def filter_args(self) -> str:
        return f"I={self.integrated:g}:TP={self.true_peak:g}:LRA={self.loudness_range:g}"


def _base(path: Path) -> list[str]:
    return [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-i", media_arg(path)]


def _loudnorm_json(stderr: str, path: Path) -> dict[str, str]:
    start = stderr.rfind("{")
    end = stderr.rfind("}")
    if start < 0 or end < start:
        raise MediaError("measure the loudness of", path, "ffmpeg printed no loudnorm figures", stderr=stderr)
    try:
        data = json.loads(stderr[start:end + 1])
    except json.JSONDecodeError as exc:
        raise MediaError("measure the loudness of", path, f"unreadable loudnorm figures: {exc}",
                         stderr=stderr) from exc
    return data


def _number(data: dict[str, str], key: str, path: Path) -> float:
    try:
        value = float(data[key])
    except (KeyError, TypeError, ValueError) as exc:
        raise MediaError("measure the loudness of", path, f"loudnorm gave no usable {key}") from exc
    if value != value or value == float("inf"):
        raise MediaError("measure the loudness of", path, f"loudnorm gave {key}={data[key]}")
    return value  # -inf: silence


def measure_loudness(path: Path | str, target: LoudnessTarget | None = None) -> Loudness:
    """Measure integrated loudness, true peak and range; MediaError if the audio cannot be decoded."""
    path = Path(path)
    target = target or LoudnessTarget()
    argv = [
        *_base(path), "-map", "0:a:0",
        "-af", f"loudnorm={target.filter_args()}:print_format=json", "-f", "null", "-",
    ]
    done = runner.run(argv, verb="measure the loudness of", path=path, timeout=AUDIO_TIMEOUT)
    data = _loudnorm_json(done.stderr, path)
    return Loudness(
        integrated=_number(data, "input_i", path),
        true_peak=_number(data, "input_tp", path),
        loudness_range=_number(data, "input_lra", path),
        threshold=_number(data, "input_thresh", path),
        offset=_number(data, "target_offset", path),
    )


def normalise_loudness(
    src: Path | str, dst: Path | str, target: LoudnessTarget, *, sample_rate: int = 0,
    measured: Loudness | None = None,
) -> Loudness:
    """Write `src` to `dst` (an mp3) normalised to `target` in two loudnorm passes.

    `dst` should be a temp name; the caller moves it into place. Returns the first
    pass's measurement.
    """
    src, dst = Path(src), Path(dst)
    measured = measured or measure_loudness(src, target)
    if measured.integrated == float("-inf"):
        raise MediaError("normalise the loudness of", src, "the audio is silent")
    loudnorm = (
        f"loudnorm={target.filter_args()}"
        f":measured_I={measured.integrated:g}:measured_TP={measured.true_peak:g}"
        f":measured_LRA={measured.loudness_range:g}:measured_thresh={measured.threshold:g}"
        f":offset={measured.offset:g}:linear=true"
    )
    argv = [
        *_base(src), "-v", "error", "-map", "0:a:0", "-map_metadata", "0",
        "-af", loudnorm,
        # loudnorm works at 192 kHz internally; return to the source's rate.
        "-ar", str(sample_rate or 44100),
        "-c:a", "libmp3lame", "-b:a", MUSIC_BITRATE, "-f", "mp3", "-y", media_arg(dst),
    ]
    runner.run(argv, verb="normalise the loudness of", path=src, timeout=AUDIO_TIMEOUT)
    return measured


def speech_seconds(path: Path | str, duration: float, *, silence_db: float) -> float:
    """Seconds of `path` louder than `silence_db` dBFS (pauses under half a second count as sound)."""
    path = Path(path)
    argv = [
        *_base(path), "-v", "info", "-map", "0:a:0",
        "-af", f"silencedetect=noise={silence_db:g}dB:duration={MIN_PAUSE_SECONDS:g}",
        "-f", "null", "-",
    ]
    done = runner.run(argv, verb="measure the speech in", path=path, timeout=AUDIO_TIMEOUT)
    silent = 0.0
    start: float | None = None
    for line in done.stderr.splitlines():
        if "silencedetect" not in line:
            continue
        if (m := _SILENCE_START.search(line)) is not None:
            start = max(0.0, float(m.group(1)))
        elif (m := _SILENCE_END.search(line)) is not None and start is not None:
            silent += max(0.0, min(float(m.group(1)), duration) - start)
            start = None
    if start is not None:
        silent += max(0.0, duration - start)
    return max(0.0, duration - silent)
