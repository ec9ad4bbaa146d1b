"""The synthetic voice at the audio path's loudness, as a mono mp3: one gain, the render's
limiter where the peaks need it, the gain raised again by what the limiter and the mp3
encoder took. The project's meter reads a mono voice as played on both channels, as the
render mixes it."""

from __future__ import annotations

from pathlib import Path

from storyreel.errors import NarrationError
from storyreel.media import run as runner
from storyreel.media.audio import AUDIO_TIMEOUT
from storyreel.media.loudness import Level, meter, parse_meters
from storyreel.media.tools import ffmpeg, media_arg
from storyreel.render.audio import LIMITER_MARGIN_DB, limiter

# The loudness the audio path gives every voice (the render's and music's targets).
VOICE_LUFS = -16.0
VOICE_TRUE_PEAK = -1.5
# Speech needs no more: 64 kbit/s mono mp3 at the engines' 22.05 kHz is clear and small.
VOICE_BITRATE = "64k"
# Within this of the target the gain is found; else it is raised by the shortfall (the
# limiter takes a few tenths of a LU), on the WAV at most ROUNDS times.
TOLERANCE_LU = 0.15
ROUNDS = 3
# The encoder's low-pass takes another few tenths; the mp3 is encoded again only when it
# is further than this off the target (the render meters the voice again and sets its
# balance from what it measures, so a few tenths do not matter; an hour's second
# encoding and metering take about four times the CPU of espeak-ng's synthesis of it).
ENCODED_TOLERANCE_LU = 0.5


def _measure(audio: Path, chain: list[str], *, peak: str = "") -> Level:
    """The loudness (and with `peak`, the peak) of `audio` after the filters in `chain`."""
    graph = ",".join([*chain, meter(peak=peak, dualmono=True)])
    argv = [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-i", media_arg(audio),
            "-map", "0:a:0", "-af", graph, "-f", "null", "-"]
    done = runner.run(argv, verb="measure the loudness of", path=audio, timeout=AUDIO_TIMEOUT)
    return parse_meters(done.stderr, path=audio)[0]


def _chain(gain: float) -> list[str]:
    """The gain, then the limiter (it leaves alone what is under its ceiling)."""
    return [f"volume={gain:.2f}dB", limiter(VOICE_TRUE_PEAK - LIMITER_MARGIN_DB)]


def _encode(wav: Path, mp3: Path, gain: float, sample_rate: int, *, peak: str) -> Level:
    argv = [ffmpeg(), "-hide_banner", "-nostdin", "-nostats", "-v", "error", "-i", media_arg(wav),
            "-map", "0:a:0", "-af", ",".join(_chain(gain)), "-ac", "1", "-ar", str(sample_rate),
            "-c:a", "libmp3lame", "-b:a", VOICE_BITRATE, "-f", "mp3", "-y", media_arg(mp3)]
    runner.run(argv, verb="encode the voice", path=wav, timeout=AUDIO_TIMEOUT)
    return _measure(mp3, [], peak=peak)


def encode_voice(wav: Path, mp3: Path, sample_rate: int) -> Level:
    """`wav` into `mp3` at the voice loudness; what the mp3 measures, true peak included
    (MediaError if ffmpeg fails, NarrationError for a silent voice). The gain is found on
    the WAV (cheap passes: no encoding, no true-peak meter), then the mp3 is encoded, and
    encoded once more if the encoder's low-pass moved it far off the target."""
    level = _measure(wav, [])
    if level.silent:
        raise NarrationError("the engine spoke only silence", path=wav.parent)
    gain = VOICE_LUFS - level.integrated
    for _ in range(ROUNDS):
        shortfall = VOICE_LUFS - _measure(wav, _chain(gain)).integrated
        if abs(shortfall) < TOLERANCE_LU:
            break
        gain += shortfall
    encoded = _encode(wav, mp3, gain, sample_rate, peak="true")
    shortfall = VOICE_LUFS - encoded.integrated
    if abs(shortfall) > ENCODED_TOLERANCE_LU:
        encoded = _encode(wav, mp3, gain + shortfall, sample_rate, peak="true")
    return encoded
