"""Music brought to a loudness target by a measured gain (EBU R128).

One `ebur128` pass measures the file (`measure`); one encode applies the gain, with a
sample-peak limiter only where the gained true peak would pass the ceiling (`normalise`).
Music whose loudness range is wider than the target's goes through loudnorm's two
passes instead (`media/audio.py`), whose dynamic mode narrows it, as loudnorm's own linear
mode would have chosen: its measuring pass also finds the offset that mode needs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from storyreel.errors import MediaError
from storyreel.media import run as runner
from storyreel.media.audio import AUDIO_TIMEOUT, MUSIC_BITRATE, LoudnessTarget, normalise_loudness
from storyreel.media.loudness import SILENT_LUFS, limiter, meter_file, parse_meters
from storyreel.media.tools import ffmpeg, media_arg

# The limiter holds samples; peaks between them (and the mp3 encoder's) rise up to about
# this much above, so it aims that far under the true-peak ceiling.
LIMITER_MARGIN_DB = 1.0

_LAST_SUMMARY = re.compile(r"Summary:(?!.*Summary:)(.*)", re.DOTALL)
_THRESHOLD = re.compile(r"Integrated loudness:\s+I:[^\n]*\n\s+Threshold:\s+(-?[\d.]+|-?inf) LUFS")
_RANGE = re.compile(r"LRA:\s+(-?[\d.]+) LU")


class Method(StrEnum):
    GAIN = "gain"  # the gain alone
    LIMITED = "gain+limiter"  # the gain, then the limiter for the peaks
    DYNAMIC = "loudnorm"  # a range wider than the target's: loudnorm's two passes


@dataclass(frozen=True)
class Reading:
    """One meter's summary of a whole file."""

    integrated: float  # LUFS; SILENT_LUFS for silence
    true_peak: float  # dBTP
    loudness_range: float  # LU
    threshold: float  # LUFS, the relative gate of the integrated loudness

    @property
    def silent(self) -> bool:
        return self.integrated <= SILENT_LUFS


@dataclass(frozen=True)
class Plan:
    """How a file reaches the target: the gain, and the limiter's ceiling if it needs one."""

    method: Method
    gain_db: float
    limit_db: float | None = None

    def filters(self) -> str:
        chain = f"volume={self.gain_db:.2f}dB"
        return chain if self.limit_db is None else f"{chain},{limiter(self.limit_db)}"


def measure(path: Path | str) -> Reading:
    """Integrated loudness, true peak, loudness range and gate of the first audio stream
    (a mono file counts as one channel, as loudnorm reads it)."""
    stderr = meter_file(path, dualmono=False)
    level = parse_meters(stderr, path=path)[0]
    summary = _LAST_SUMMARY.search(stderr)
    text = summary.group(1) if summary else ""
    threshold, spread = _THRESHOLD.search(text), _RANGE.search(text)
    if level.true_peak is None or threshold is None or spread is None:
        raise MediaError("measure the loudness of", path, "ebur128 printed no full summary", stderr=stderr)
    return Reading(
        integrated=level.integrated,
        true_peak=level.true_peak,
        loudness_range=float(spread.group(1)),
        threshold=max(SILENT_LUFS, float(threshold.group(1).replace("inf", "Infinity"))),
    )


def plan(reading: Reading, target: LoudnessTarget) -> Plan:
    """The gain to the target; a limiter when the gained peak would pass the ceiling."""
    gain = target.integrated - reading.integrated
    if reading.loudness_range > target.loudness_range:
        return Plan(Method.DYNAMIC, gain)
    if reading.true_peak + gain <= target.true_peak:
        return Plan(Method.GAIN, gain)
    return Plan(Method.LIMITED, gain, target.true_peak - LIMITER_MARGIN_DB)


def normalise(
    src: Path | str, dst: Path | str, target: LoudnessTarget, reading: Reading, *, sample_rate: int = 0,
) -> Plan:
    """Write `src` to `dst` (an mp3, a temp name the caller moves into place) at `target`."""
    src, dst = Path(src), Path(dst)
    if reading.silent:
        raise MediaError("normalise the loudness of", src, "the audio is silent")
    chosen = plan(reading, target)
    if chosen.method is Method.DYNAMIC:
        normalise_loudness(src, dst, target, sample_rate=sample_rate)
        return chosen
    argv = [
        ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "error", "-i", media_arg(src),
        "-map", "0:a:0", "-map_metadata", "0", "-af", chosen.filters(),
        "-ar", str(sample_rate or 44100),
        "-c:a", "libmp3lame", "-b:a", MUSIC_BITRATE, "-f", "mp3", "-y", media_arg(dst),
    ]
    runner.run(argv, verb="normalise the loudness of", path=src, timeout=AUDIO_TIMEOUT)
    return chosen
