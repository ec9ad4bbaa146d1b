"""The SPEC §6 render as an ffmpeg argv list (pure: no files are touched).

What it fixes in SPEC §6's template:
- each clip is an input of its own, normalised on its own chain (square pixels,
  filled to the output size by the fill mode, one frame rate, `setsar=1`) and joined
  by cuts or fades (render/picture.py), so clips of any size, aspect, rate or codec
  mix and clips without audio work (their audio is never read);
- the music input loops (`-stream_loop -1`) so it never falls silent;
- the voice is padded with silence and the video holds its last frame, and both
  are trimmed to the voice's duration, so the output lasts exactly that long;
- amix runs with `normalize=0` and a mono voice is copied to both channels, so the
  voice plays at its own volume (1.0), not halved or 3 dB down;
- yuv420p, AAC, `-movflags +faststart`;
- `-xerror`: a clip that probes but fails to decode fails the render (ffmpeg would
  otherwise hide the damage and exit 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from storyreel.render.encoders import EncoderSetup
from storyreel.render.picture import PictureInputs, video_graph
from storyreel.render.picture import seconds_text as _seconds
from storyreel.taskmeta import RenderSpec

# The mix runs at one rate and layout whatever the voice and music files use.
AUDIO_RATE = 48000
AUDIO_LAYOUT = "stereo"


@dataclass(frozen=True)
class RenderInputs:
    """Absolute paths of one render's files, in the task folder."""

    videos: list[Path]  # in play order; a clip may appear more than once
    music: Path
    voice: Path
    logo: Path | None
    duration: float  # the voice's duration: the output's length (s)
    voice_channels: int = 1  # a mono track is copied to both sides at full level
    music_channels: int = 2
    captions: str = ""  # the `ass` filter drawing the task's captions, after the logo; "" for none
    picture: PictureInputs = PictureInputs()  # clip shapes, the frame clip, the title


def _arg(path: Path) -> str:
    return f"file:{path}"


def _to_stereo(channels: int) -> str:
    """Resample to the mix format. ffmpeg's own mono→stereo upmix lowers the level by
    3 dB; a mono track is instead copied to both channels unchanged."""
    fmt = f"aformat=sample_fmts=fltp:sample_rates={AUDIO_RATE}:channel_layouts={AUDIO_LAYOUT}"
    return f"pan=stereo|c0=c0|c1=c0,{fmt}" if channels == 1 else fmt


def filter_graph(inputs: RenderInputs, spec: RenderSpec, enc: EncoderSetup) -> str:
    """The -filter_complex text. Input order: clips, music, voice, the logo, the frame clip."""
    n = len(inputs.videos)
    music, voice = n, n + 1
    logo = n + 2 if inputs.logo is not None else None
    frame = n + 2 + (logo is not None) if inputs.picture.frame is not None else None
    parts = video_graph(n, spec, enc, inputs.picture, logo=logo, frame=frame,
                        captions=inputs.captions, duration=_seconds(inputs.duration))
    parts += audio_graph(inputs, spec, music=music, voice=voice)
    return ";".join(parts)


def audio_graph(inputs: RenderInputs, spec: RenderSpec, *, music: int, voice: int) -> list[str]:
    """The sound: music under the voice, both at the mix format; ends in `[aout]`."""
    duration = _seconds(inputs.duration)
    parts = []
    parts.append(f"[{music}:a]{_to_stereo(inputs.music_channels)},volume={spec.music_volume:g}[bg]")
    parts.append(f"[{voice}:a]{_to_stereo(inputs.voice_channels)},volume={spec.voice_volume:g},apad[vc]")
    parts.append(
        "[vc][bg]amix=inputs=2:duration=first:dropout_transition=0:normalize=0,"
        f"atrim=duration={duration}[aout]"
    )
    return parts


def build_argv(
    inputs: RenderInputs, spec: RenderSpec, enc: EncoderSetup, output: Path, *,
    ffmpeg: str = "ffmpeg",
) -> list[str]:
    """The whole ffmpeg command; progress goes to stdout as `-progress pipe:1` lines."""
    if not inputs.videos:
        raise ValueError("a render needs at least one clip")
    # -xerror: a clip that decodes with errors fails the render instead of being concealed.
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-y", "-xerror", *enc.global_args]
    for clip in inputs.videos:
        argv += [*enc.clip_input_args, "-i", _arg(clip)]
    argv += ["-stream_loop", "-1", "-i", _arg(inputs.music)]
    argv += ["-i", _arg(inputs.voice)]
    if inputs.logo is not None:
        argv += ["-i", _arg(inputs.logo)]
    if inputs.picture.frame is not None:
        # The frame clip loops under the whole video; it is decoded on the CPU.
        argv += ["-stream_loop", "-1", "-i", _arg(inputs.picture.frame)]
    argv += ["-filter_complex", filter_graph(inputs, spec, enc)]
    argv += ["-map", "[vout]", "-map", "[aout]"]
    argv += enc.output_args
    argv += ["-c:a", "aac", "-b:a", spec.audio_bitrate, "-ar", str(AUDIO_RATE)]
    argv += ["-t", _seconds(inputs.duration), "-movflags", "+faststart", "-f", spec.output_format]
    argv += ["-progress", "pipe:1", "-nostats", _arg(output)]
    return argv
