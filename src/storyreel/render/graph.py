"""The SPEC §6 render as an ffmpeg argv list (pure: no files are touched).

What it fixes in SPEC §6's template:
- each clip is an input of its own, normalised on its own chain (square pixels,
  filled to the output size by the fill mode, one frame rate, `setsar=1`) and joined
  by cuts or fades (render/picture.py), so clips of any size, aspect, rate or codec
  mix and clips without audio work (their audio is never read);
- the music input loops (`-stream_loop -1`) so it never falls silent;
- the voice is padded with silence and the video holds its last frame, and both
  are trimmed to the voice's duration, so the output lasts exactly that long;
- the sound (render/audio.py): a mono voice copied to both channels, the music ducked
  under it, the mix at the loudness the node's loudness pass found (`inputs.sound`);
- yuv420p, AAC, `-movflags +faststart`;
- `-xerror`: a clip that probes but fails to decode fails the render (ffmpeg would
  otherwise hide the damage and exit 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from storyreel.render.audio import AUDIO_RATE, Mix, audio_graph
from storyreel.render.encoders import EncoderSetup
from storyreel.render.picture import PictureInputs, video_graph
from storyreel.taskmeta import RenderSpec
from storyreel.units import seconds_text as _seconds


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
    sound: Mix = Mix()  # the loudness pass's gains (render/audio.py); the default mixes as is


def _arg(path: Path) -> str:
    return f"file:{path}"


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
    argv += inputs.sound.tag_args()
    argv += ["-t", _seconds(inputs.duration), "-movflags", "+faststart+use_metadata_tags",
             "-f", spec.output_format]
    argv += ["-progress", "pipe:1", "-nostats", _arg(output)]
    return argv
