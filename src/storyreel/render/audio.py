"""The sound of a render: the voice and the music balanced, the music ducked under speech,
the mix brought to the target loudness.

The levels come from a loudness pass on the node, audio only, before the render:

1. `sources_argv`: one ffmpeg pass meters the voice and the music as they are heard (the
   music looped to the voice's length). The voice is then raised or lowered to the target
   loudness and the music set `music_under_voice_lu` under it, so every chapter sounds
   the same whatever the narration's own level; ducking is keyed by that levelled voice,
   so it behaves the same too.
2. `mix_argv`: a second pass meters the exact mix (ducking included) with its true peak,
   and the same mix through the limiter. The render applies the last gain to the target,
   after the limiter only when the peak would pass `loudness_true_peak`: the mix is
   already within a fraction of a LU of the target, so the limiter works on the level the
   pass metered and the output lands on the target either way.

`audio_graph` is the render's own chain for the sound (`[aout]`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from storyreel.media.loudness import Level, meter, parse_meters
from storyreel.units import seconds_text

if TYPE_CHECKING:
    from storyreel.render.graph import RenderInputs
    from storyreel.taskmeta import RenderSpec

# The mix runs at one rate and layout whatever the voice and music files use.
AUDIO_RATE = 48000
AUDIO_LAYOUT = "stereo"
# The limiter works on samples; it aims this far under the true-peak ceiling so peaks
# between samples and the AAC encoder's overshoot stay under it.
LIMITER_MARGIN_DB = 1.0
# sidechaincompress takes no threshold under this (about -60 dBFS).
MIN_THRESHOLD = 0.000976563


@dataclass(frozen=True)
class Mix:
    """The gains of one render's sound (dB), found by the loudness pass. The default is
    the plain mix: voice and music at their own levels."""

    voice_db: float = 0.0  # brings the narration to the target loudness
    music_db: float = 0.0  # sets the music under the levelled narration
    final_db: float = 0.0  # brings the whole mix to the target
    limit_db: float | None = None  # the limiter's ceiling (dBFS) when the peak needs one
    expected: Level | None = None  # the output's loudness and true peak after these gains

    def tag_args(self) -> list[str]:
        """The mp4 tags recording the output's loudness (LUFS) and true peak (dBTP)."""
        if self.expected is None or self.expected.true_peak is None:
            return []
        return ["-metadata", f"loudness_integrated={self.expected.integrated:.1f}",
                "-metadata", f"loudness_true_peak={self.expected.true_peak:.1f}"]


def _db(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")




def to_stereo(channels: int) -> str:
    """Resample to the mix format. ffmpeg's own mono→stereo upmix lowers the level by
    3 dB; a mono track is instead copied to both channels unchanged."""
    fmt = f"aformat=sample_fmts=fltp:sample_rates={AUDIO_RATE}:channel_layouts={AUDIO_LAYOUT}"
    return f"pan=stereo|c0=c0|c1=c0,{fmt}" if channels == 1 else fmt


def _ducker(spec: RenderSpec) -> str:
    """sidechaincompress keyed by the levelled voice: its threshold is `duck_threshold` dB
    under the voice's loudness (the target), whatever the narration's own level."""
    threshold = max(MIN_THRESHOLD, 10 ** ((spec.loudness_lufs + spec.duck_threshold) / 20))
    return (f"sidechaincompress=threshold={threshold:.6f}:ratio={spec.duck_ratio:g}"
            f":attack={spec.duck_attack_ms:g}:release={spec.duck_release_ms:g}")


def mix_chain(inputs: RenderInputs, spec: RenderSpec, mix: Mix, *, music: int, voice: int) -> list[str]:
    """The voice and the ducked music summed, cut to the voice's length; ends in `[mixed]`."""
    duration = seconds_text(inputs.duration)
    parts = [f"[{music}:a]{to_stereo(inputs.music_channels)},volume={_db(mix.music_db)}dB[bg]"]
    voice_chain = f"[{voice}:a]{to_stereo(inputs.voice_channels)},volume={_db(mix.voice_db)}dB,apad"
    if spec.ducking:
        parts.append(f"{voice_chain},asplit=2[vc][key]")
        parts.append(f"[bg][key]{_ducker(spec)}[under]")
        music_out = "[under]"
    else:
        parts.append(f"{voice_chain}[vc]")
        music_out = "[bg]"
    parts.append(
        f"[vc]{music_out}amix=inputs=2:duration=first:dropout_transition=0:normalize=0,"
        f"atrim=duration={duration}[mixed]"
    )
    return parts


def limiter(limit_db: float) -> str:
    """A sample-peak limiter at `limit_db` dBFS. level=0: no automatic gain; latency=1: its
    look-ahead delay is taken out, so the sound stays in sync with the picture."""
    return f"alimiter=limit={10 ** (limit_db / 20):.6f}:level=0:latency=1"


def audio_graph(inputs: RenderInputs, spec: RenderSpec, *, music: int, voice: int) -> list[str]:
    """The sound: the mix, the limiter if the peak needs it, the last gain; ends in `[aout]`.
    The gains are `inputs.sound` (the loudness pass's)."""
    mix = inputs.sound
    tail = f"volume={_db(mix.final_db)}dB"
    if mix.limit_db is not None:
        tail = f"{limiter(mix.limit_db)},{tail}"
    return [*mix_chain(inputs, spec, mix, music=music, voice=voice), f"[mixed]{tail}[aout]"]


def _pass_argv(inputs: RenderInputs, graph: list[str], outputs: list[str], ffmpeg: str) -> list[str]:
    """An audio-only pass over the music (input 0, looped) and the voice (input 1)."""
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-stream_loop", "-1", "-i", f"file:{inputs.music}",
            "-i", f"file:{inputs.voice}", "-filter_complex", ";".join(graph)]
    for label in outputs:
        argv += ["-map", label]
    return argv + ["-t", seconds_text(inputs.duration), "-f", "null", "-progress", "pipe:1", "-nostats", "-"]


def sources_argv(inputs: RenderInputs, ffmpeg: str = "ffmpeg") -> list[str]:
    """Pass 1: meters on the voice and on the music as heard (looped, cut to the voice), at
    the files' own rates (a mono file metered as the mix plays it, on both channels)."""
    duration = seconds_text(inputs.duration)
    graph = [f"[1:a]{meter(dualmono=True)}[lv]",
             f"[0:a]atrim=duration={duration},{meter(dualmono=True)}[lm]"]
    return _pass_argv(inputs, graph, ["[lv]", "[lm]"], ffmpeg)


def limit_db(spec: RenderSpec) -> float:
    """Where the limiter holds the samples: under the true-peak ceiling by a margin."""
    return spec.loudness_true_peak - LIMITER_MARGIN_DB


def mix_argv(inputs: RenderInputs, spec: RenderSpec, mix: Mix, ffmpeg: str = "ffmpeg") -> list[str]:
    """Pass 2: meters on the exact mix the render will make, as it is (with its sample
    peak) and through the limiter (with its true peak, which is the plain mix's own when
    the limiter never acts)."""
    graph = mix_chain(inputs, spec, mix, music=0, voice=1)
    graph.append("[mixed]asplit=2[plain][limited]")
    graph.append(f"[plain]{meter(peak='sample')}[lx]")
    graph.append(f"[limited]{limiter(limit_db(spec))},{meter(peak='true')}[ly]")
    return _pass_argv(inputs, graph, ["[lx]", "[ly]"], ffmpeg)


def balance(voice: Level, music: Level, spec: RenderSpec) -> Mix:
    """The voice at the target, the music `music_under_voice_lu` under it (silence: as is)."""
    voice_db = 0.0 if voice.silent else spec.loudness_lufs - voice.integrated
    target_music = spec.loudness_lufs - spec.music_under_voice_lu
    music_db = 0.0 if music.silent else target_music - music.integrated
    return Mix(voice_db=voice_db, music_db=music_db)


def finish(mix: Mix, plain: Level, limited: Level, spec: RenderSpec) -> Mix:
    """The last gain to the target; the limiter first only when the mix's samples reach it
    and the true peak would otherwise pass the ceiling. `plain` and `limited` are pass 2's
    meters of the mix without and with the limiter."""
    if plain.silent:
        return Mix(mix.voice_db, mix.music_db, expected=plain)
    final_db = spec.loudness_lufs - plain.integrated
    # Samples under the limiter's level: it changed nothing, its true peak is the mix's.
    idle = _peak(plain.sample_peak) <= limit_db(spec)
    if idle and _peak(limited.true_peak) + final_db <= spec.loudness_true_peak:
        expected = Level(spec.loudness_lufs, _peak(limited.true_peak) + final_db)
        return Mix(mix.voice_db, mix.music_db, final_db, None, expected)
    final_db = spec.loudness_lufs - limited.integrated
    expected = Level(spec.loudness_lufs, _peak(limited.true_peak) + final_db)
    return Mix(mix.voice_db, mix.music_db, final_db, limit_db(spec), expected)


def _peak(value: float | None) -> float:
    """A meter's peak (pass 2's meters always report theirs; full scale if not)."""
    return value if value is not None else 0.0


def plan_mix(inputs: RenderInputs, spec: RenderSpec, run: Callable[[list[str]], str],
             ffmpeg: str = "ffmpeg") -> Mix:
    """The loudness pass: `run` runs an ffmpeg argv and returns its stderr."""
    path: Path = inputs.voice
    voice, music = parse_meters(run(sources_argv(inputs, ffmpeg)), path=path, count=2)
    mix = balance(voice, music, spec)
    plain, limited = parse_meters(run(mix_argv(inputs, spec, mix, ffmpeg)), path=path, count=2)
    return finish(mix, plain, limited, spec)
