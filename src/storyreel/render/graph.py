"""The SPEC §6 render as an ffmpeg argv list (pure: no files are touched).

What it fixes in SPEC §6's template:
- each clip is an input of its own, normalised on its own chain (square pixels,
  fitted and padded to the output size, one frame rate, `setsar=1`) and joined
  with the concat filter, so clips of any size, aspect, rate or codec mix and
  clips without audio work (their audio is never read);
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
from storyreel.render.audio import seconds_text as _seconds
from storyreel.render.encoders import EncoderSetup
from storyreel.taskmeta import RenderSpec


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
    sound: Mix = Mix()  # the loudness pass's gains (render/audio.py); the default mixes as is


def _arg(path: Path) -> str:
    return f"file:{path}"


def clip_chain(index: int, spec: RenderSpec, enc: EncoderSetup) -> str:
    """The filters that turn clip input `index` into frames of the output size and rate."""
    width, height = spec.size
    fit = f"{width}:{height}:force_original_aspect_ratio=decrease:force_divisible_by=2"
    steps = ["setpts=PTS-STARTPTS", f"fps={spec.frame_rate}"]
    if enc.gpu_scale:
        steps += [f"scale_cuda={fit}", "hwdownload", "format=nv12"]
    else:
        # Square pixels first, so a clip with a non-square SAR keeps its shape when fitted.
        steps += ["scale=trunc(iw*sar/2)*2:ih", "setsar=1", f"scale={fit}:flags={spec.scale_flags}"]
    steps += [f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2:color=black", "setsar=1", "format=yuv420p"]
    return f"[{index}:v]" + ",".join(steps) + f"[c{index}]"


def filter_graph(inputs: RenderInputs, spec: RenderSpec, enc: EncoderSetup) -> str:
    """The -filter_complex text. Input order: clips, music, voice, then the logo."""
    n = len(inputs.videos)
    music, voice, logo = n, n + 1, n + 2
    parts = video_graph(inputs, spec, enc, logo=logo)
    parts += audio_graph(inputs, spec, music=music, voice=voice)
    return ";".join(parts)


def video_graph(inputs: RenderInputs, spec: RenderSpec, enc: EncoderSetup, *, logo: int) -> list[str]:
    """The picture: clips normalised and joined, the logo, the captions; ends in `[vout]`."""
    n = len(inputs.videos)
    duration = _seconds(inputs.duration)
    parts = [clip_chain(i, spec, enc) for i in range(n)]
    joined = "".join(f"[c{i}]" for i in range(n))
    # The last frame is held in case the clips end a little before the voice.
    parts.append(f"{joined}concat=n={n}:v=1:a=0,tpad=stop_mode=clone:stop=-1[base]")
    video = "[base]"
    if inputs.logo is not None:
        scale = f",scale={spec.logo_width}:-2" if spec.logo_width else ""
        parts.append(f"[{logo}:v]format=rgba{scale}[logo]")
        parts.append(f"[base][logo]overlay={spec.logo_x}:{spec.logo_y}:eof_action=repeat[withlogo]")
        video = "[withlogo]"
    # Captions are drawn over the logo, in the same graph: the video is encoded once.
    captions = f"{inputs.captions}," if inputs.captions else ""
    parts.append(f"{video}{captions}trim=duration={duration},{enc.pix_fmt_filter}[vout]")
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
    argv += ["-filter_complex", filter_graph(inputs, spec, enc)]
    argv += ["-map", "[vout]", "-map", "[aout]"]
    argv += enc.output_args
    argv += ["-c:a", "aac", "-b:a", spec.audio_bitrate, "-ar", str(AUDIO_RATE)]
    argv += inputs.sound.tag_args()
    argv += ["-t", _seconds(inputs.duration), "-movflags", "+faststart+use_metadata_tags",
             "-f", spec.output_format]
    argv += ["-progress", "pipe:1", "-nostats", _arg(output)]
    return argv
