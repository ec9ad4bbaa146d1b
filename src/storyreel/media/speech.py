"""Narration as the caption aligner needs it: 16 kHz mono PCM and the pauses in it.

- `decode_pcm`: the audio of a file as raw signed 16-bit little-endian samples, 16 kHz,
  mono (what pocketsphinx's en-US acoustic model was trained on).
- `pauses`: the stretches quieter than a floor for at least a given time (silencedetect).
- `ipa`: espeak-ng's IPA phonemes for words, one string per word (for words missing
  from the pronunciation dictionary).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from storyreel.errors import MediaError, ToolMissingError
from storyreel.media import run as runner
from storyreel.media.tools import ffmpeg, media_arg

# The acoustic model's sample rate; pocketsphinx reads 16-bit mono at this rate.
PCM_RATE = 16000
# Whole-file decodes of narration; an hour of audio decodes in well under this.
PCM_TIMEOUT = 900.0
# espeak-ng turns a few thousand words into phonemes in a second or two.
IPA_TIMEOUT = 120.0

_START = re.compile(r"silence_start:\s*(-?[\d.]+)")
_END = re.compile(r"silence_end:\s*(-?[\d.]+)")


@dataclass(frozen=True)
class Pause:
    """A quiet stretch of the narration, in seconds from its start."""

    start: float
    end: float

    @property
    def middle(self) -> float:
        return (self.start + self.end) / 2


def decode_pcm(src: Path | str, dst: Path | str) -> Path:
    """Write the first audio stream of `src` to `dst` as 16 kHz mono s16le samples."""
    src, dst = Path(src), Path(dst)
    argv = [
        ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "error", "-i", media_arg(src),
        "-map", "0:a:0", "-ac", "1", "-ar", str(PCM_RATE), "-f", "s16le", "-y", media_arg(dst),
    ]
    runner.run(argv, verb="decode the narration", path=src, timeout=PCM_TIMEOUT)
    return dst


def pauses(path: Path | str, *, noise_db: float, min_seconds: float) -> list[Pause]:
    """The stretches of `path` quieter than `noise_db` dBFS for at least `min_seconds`."""
    path = Path(path)
    argv = [
        ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "info", "-i", media_arg(path),
        "-map", "0:a:0", "-af", f"silencedetect=noise={noise_db:g}dB:duration={min_seconds:g}",
        "-f", "null", "-",
    ]
    done = runner.run(argv, verb="find the pauses in", path=path, timeout=PCM_TIMEOUT)
    found: list[Pause] = []
    opened: float | None = None
    for line in done.stderr.splitlines():
        if (began := _START.search(line)) is not None:
            opened = max(0.0, float(began.group(1)))
        elif (ended := _END.search(line)) is not None and opened is not None:
            found.append(Pause(opened, float(ended.group(1))))
            opened = None
    if opened is not None:  # quiet to the end: the pause closes where the audio does
        found.append(Pause(opened, float("inf")))
    return found


def ipa(words: list[str], *, voice: str = "en-us") -> list[str]:
    """espeak-ng's IPA for each word (one line in, one line out); ToolMissingError without it."""
    program = shutil.which("espeak-ng")
    if program is None:
        raise ToolMissingError("espeak-ng was not found on PATH: install it with "
                               "'sudo apt-get install espeak-ng'")
    if not words:
        return []
    # One word a line, each ended by a full stop so espeak-ng keeps the lines apart.
    text = "\n".join(f"{word}." for word in words)
    argv = [program, "-q", "--ipa", "-v", voice, text]
    done = runner.run(argv, verb="find the phonemes of", path="espeak-ng", timeout=IPA_TIMEOUT)
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    if len(lines) != len(words):
        raise MediaError("find the phonemes of", "espeak-ng",
                         f"{len(words)} words gave {len(lines)} lines of phonemes")
    return lines
