"""The commands benchmark 1 compares, as argv lists: the SPEC §6 template as written,
decode-only, decode + our fit filter, the pre-decode for encode-only, and encode-only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness import run_measured
from media import FFMPEG

FPS = 30  # SPEC §5's frame rate, used by every variant


@dataclass(frozen=True)
class Case:
    """One output size: how long the narration is and which x264 preset is used."""

    label: str
    width: int
    height: int
    voice_seconds: float
    preset: str
    # Which clips (indexes into the clip list), in play order; like the planner, the task
    # takes them until their total covers the narration.
    order: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)


def template_argv(case: Case, voice_duration: float, out: Path) -> list[str]:
    """SPEC §6's command as written; only the encoder (no QSV here), preset and size differ."""
    w, h = case.width, case.height
    graph = (
        "[3:v]scale=iw:-1[logo];"
        f"[0:v]scale={w}:{h}:flags=fast_bilinear:force_original_aspect_ratio=decrease,"
        f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,format=yuv420p[base];"
        "[base][logo]overlay=20:20[vout];"
        "[1:a]volume=0.25[bg];"
        "[2:a]volume=1.0[vc];"
        "[bg][vc]amix=inputs=2:duration=longest[aout]"
    )
    return [
        FFMPEG,
        "-y",
        "-hide_banner",
        "-nostdin",
        "-f",
        "concat",
        "-safe",
        "0",
        "-i",
        "video_list.txt",
        "-i",
        "music.mp3",
        "-i",
        "voice.mp3",
        "-i",
        "logo.png",
        "-filter_complex",
        graph,
        "-map",
        "[vout]",
        "-map",
        "[aout]",
        "-c:v",
        "libx264",
        "-preset",
        case.preset,
        "-r",
        str(FPS),
        "-t",
        f"{voice_duration}",
        str(out),
    ]


def _fit(case: Case) -> str:
    w, h = case.width, case.height
    return (
        f"fps={FPS},scale={w}:{h}:flags=fast_bilinear:force_original_aspect_ratio=decrease,"
        f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1,format=yuv420p"
    )


def decode_argv(voice_duration: float) -> list[str]:
    """Decode every input the render reads, and nothing else."""
    return [
        FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-f",
        "concat",
        "-i",
        "video_list.txt",
        "-stream_loop",
        "-1",
        "-i",
        "music.mp3",
        "-i",
        "voice.mp3",
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-map",
        "2:a",
        "-t",
        f"{voice_duration}",
        "-f",
        "null",
        "-",
    ]


def filter_argv(case: Case, voice_duration: float) -> list[str]:
    return [
        FFMPEG,
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-f",
        "concat",
        "-i",
        "video_list.txt",
        "-vf",
        _fit(case),
        "-t",
        f"{voice_duration}",
        "-f",
        "null",
        "-",
    ]


def predecode(task: Path, case: Case, voice_duration: float, frames: Path, audio: Path) -> None:
    """Frames at the output size (y4m) and the mixed audio (wav) that encode-only reads."""
    _, _ = run_measured(
        [
            FFMPEG,
            "-y",
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-f",
            "concat",
            "-i",
            "video_list.txt",
            "-vf",
            _fit(case),
            "-t",
            f"{voice_duration}",
            "-f",
            "yuv4mpegpipe",
            str(frames),
        ],
        cwd=task,
    )
    _, _ = run_measured(
        [
            FFMPEG,
            "-y",
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-stream_loop",
            "-1",
            "-i",
            "music.mp3",
            "-i",
            "voice.mp3",
            "-filter_complex",
            "[0:a]volume=0.25[bg];[1:a]volume=1.0[vc];[bg][vc]amix=inputs=2:duration=longest",
            "-t",
            f"{voice_duration}",
            "-ac",
            "2",
            "-ar",
            "44100",
            str(audio),
        ],
        cwd=task,
    )


def encode_argv(case: Case, frames: Path, audio: Path, out: Path) -> list[str]:
    return [
        FFMPEG,
        "-y",
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-f",
        "yuv4mpegpipe",
        "-i",
        str(frames),
        "-i",
        str(audio),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c:v",
        "libx264",
        "-preset",
        case.preset,
        "-crf",
        "23",
        "-c:a",
        "aac",
        "-b:a",
        "192k",
        str(out),
    ]
