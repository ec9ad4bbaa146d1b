"""EBU R128 loudness by ffmpeg's `ebur128` filter: cheaper than loudnorm's measuring pass
(no 192 kHz resampling), and several meters can run in one ffmpeg pass.

- `meter(peak=..., dualmono=...)`: the filter text of one meter, for any audio chain;
- `parse_meters(stderr)`: what each meter of a pass measured, in the order of the graph;
- `measure_file(path)`: the integrated loudness and true peak of a file's first audio stream;
- `limiter(limit_db)`: a sample-peak limiter that changes nothing under its ceiling.

(`media/gain.py` brings music to its loudness at ingest with these; `media/audio.py` keeps
loudnorm's pass for music whose loudness range is wider than the target's.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from storyreel.errors import MediaError
from storyreel.media import run as runner
from storyreel.media.audio import AUDIO_TIMEOUT
from storyreel.media.tools import ffmpeg, media_arg

# ebur128 reports -70 LUFS (its absolute gate) for audio with nothing above the gate.
SILENT_LUFS = -70.0

_SUMMARY = re.compile(r"\[Parsed_ebur128_(\d+) @ [^\]]*\] Summary:(.*?)(?=\[Parsed_|\Z)", re.DOTALL)
_INTEGRATED = re.compile(r"I:\s+(-?[\d.]+|-?inf) LUFS")
_TRUE_PEAK = re.compile(r"True peak:\s+Peak:\s+(-?[\d.]+|-?inf) dBFS")
_SAMPLE_PEAK = re.compile(r"Sample peak:\s+Peak:\s+(-?[\d.]+|-?inf) dBFS")


@dataclass(frozen=True)
class Level:
    """One meter's reading."""

    integrated: float  # LUFS; SILENT_LUFS for silence
    true_peak: float | None = None  # dBTP; None when the meter did not look for it
    sample_peak: float | None = None  # dBFS; None when the meter did not look for it

    @property
    def silent(self) -> bool:
        return self.integrated <= SILENT_LUFS


def meter(*, peak: str = "", dualmono: bool = False) -> str:
    """One ebur128 meter (audio passes through unchanged). `peak`: "true" (4x oversampled,
    about twice the meter's cost) or "sample" (cheap); `dualmono`: a mono input counts as
    the same sound on two channels, as the mix plays it. Its lines for every 100 ms stay
    at verbose level, so an hour of audio prints one summary, not 36,000 lines."""
    options = ["framelog=verbose"]
    if peak:
        options.append(f"peak={peak}")
    if dualmono:
        options.append("dualmono=true")
    return "ebur128=" + ":".join(options)


def _number(text: str) -> float:
    return float(text.replace("inf", "Infinity"))


def parse_meters(stderr: str, *, path: Path | str = "", count: int = 1) -> list[Level]:
    """Each meter's final summary, ordered as the meters appear in the graph; MediaError
    unless there are `count`. ffmpeg prints a summary for a probing set-up of the graph
    too; the last one of each meter counts."""
    found: dict[int, Level] = {}
    for match in _SUMMARY.finditer(stderr):
        integrated = _INTEGRATED.search(match.group(2))
        if integrated is None:
            continue
        true_peak, sample_peak = _TRUE_PEAK.search(match.group(2)), _SAMPLE_PEAK.search(match.group(2))
        found[int(match.group(1))] = Level(
            integrated=max(SILENT_LUFS, _number(integrated.group(1))),
            true_peak=_number(true_peak.group(1)) if true_peak is not None else None,
            sample_peak=_number(sample_peak.group(1)) if sample_peak is not None else None,
        )
    if len(found) != count:
        raise MediaError("measure the loudness of", path,
                         f"ffmpeg printed {len(found)} ebur128 summaries, expected {count}", stderr=stderr)
    return [found[index] for index in sorted(found)]


def measure_file(path: Path | str, *, dualmono: bool = True) -> Level:
    """Integrated loudness and true peak of the first audio stream of `path`."""
    return parse_meters(meter_file(path, dualmono=dualmono), path=path)[0]


def meter_file(path: Path | str, *, dualmono: bool = True) -> str:
    """ffmpeg's stderr after one true-peak meter over the first audio stream of `path`."""
    argv = [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-i", media_arg(path),
            "-map", "0:a:0", "-af", meter(peak="true", dualmono=dualmono), "-f", "null", "-"]
    return runner.run(argv, verb="measure the loudness of", path=path, timeout=AUDIO_TIMEOUT).stderr


def limiter(limit_db: float) -> str:
    """A sample-peak limiter at `limit_db` dBFS. level=0: no automatic gain; latency=1: its
    look-ahead delay is taken back, so the sound keeps its place in time."""
    return f"alimiter=limit={10 ** (limit_db / 20):.6f}:level=0:latency=1"
