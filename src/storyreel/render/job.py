"""Render one task folder to a verified video: THE entry point render nodes call.

    result = render_task(task_dir, output, on_progress=..., cancel=...)

The task folder holds metadata.json, voice.mp3, music.mp3, video_NNNN.mp4 (symlinks
or plain copies), video_list.txt and the logo. The video is written under a temp name
beside `output`, checked with ffprobe, then renamed to `output`; on any failure
nothing is left at `output` and RenderError carries ffmpeg's full stderr.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from storyreel import fsops
from storyreel.captions import AlignmentQuality
from storyreel.errors import MediaError, RenderError, StoryreelError
from storyreel.layout import SPLIT_NAME, VIDEO_LIST_NAME
from storyreel.logs import RENDER_WORKER, get_logger
from storyreel.media.loudness import SILENT_LUFS, Level
from storyreel.media.probe import probe
from storyreel.media.tools import ffmpeg
from storyreel.render import audio as sound
from storyreel.render import captioning, encoders, ffjob, segmented, segments, verify
from storyreel.render import parts as farmparts
from storyreel.render.audio import Mix
from storyreel.render.ffjob import ffmpeg_complaint
from storyreel.render.graph import RenderInputs, build_argv
from storyreel.render.picture_inputs import picture_inputs
from storyreel.render.progress import Progress
from storyreel.taskmeta import RenderSpec, TaskMeta, read, read_split

__all__ = ["Progress", "RenderError", "RenderResult", "check_output", "ffmpeg_complaint", "read_video_list",
           "render_task"]

log = get_logger(RENDER_WORKER)

# Channel counts kept per node process (file versions); far more than its tasks share.
CHANNELS_KEPT = 4096
_CHANNELS: dict[tuple[str, int, int], int] = {}  # (real path, size, mtime) → channels


@dataclass(frozen=True)
class RenderResult:
    output: Path
    wall_seconds: float
    media_seconds: float
    encoder: str
    stderr: str
    captions: AlignmentQuality | None = None  # how well the captions' text matched the voice
    loudness: Level | None = None  # the output's integrated loudness and true peak, measured


def read_video_list(task_dir: Path) -> list[str]:
    """The clip names of video_list.txt (ffconcat), each a plain name in the task folder."""
    path = Path(task_dir) / VIDEO_LIST_NAME
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RenderError(task_dir, f"cannot read {VIDEO_LIST_NAME}: {exc.strerror or exc}") from exc
    names = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or line.startswith("ffconcat "):
            continue
        keyword, _, value = line.partition(" ")
        if keyword != "file":
            continue
        name = value.strip().strip("'")
        if "/" in name or name.startswith((".", "-")) or not name:
            raise RenderError(task_dir, f"{VIDEO_LIST_NAME} names {name!r}, which is not a file in the task folder")
        names.append(name)
    return names


def _inputs(task_dir: Path, meta: TaskMeta) -> RenderInputs:
    has_list = (task_dir / VIDEO_LIST_NAME).exists()
    names = (read_video_list(task_dir) if has_list else []) or list(meta.video_files)
    unknown = [n for n in names if n not in meta.video_files]
    if unknown:
        raise RenderError(task_dir, f"{VIDEO_LIST_NAME} names clips metadata.json does not: {', '.join(unknown)}")
    split = (task_dir / SPLIT_NAME).is_file()  # its parts are rendered: the clips are not read
    missing = [n for n in meta.input_names() if not (task_dir / n).is_file() and not (split and n in names)]
    if missing:
        # A clip gone from scanned/ since planning (trashed after another render) is to blame.
        clip = next((n for n in missing if n in names), None)
        raise RenderError(task_dir, f"missing input files: {', '.join(missing)}", bad_input=clip)
    voice, music = task_dir / meta.voice_file, task_dir / meta.music_file
    if meta.voice_channels:  # ingest's count, from the record of this very file version
        voice_channels, music_channels = meta.voice_channels, _channels(music)
    else:
        with ThreadPoolExecutor(2, thread_name_prefix="probe") as pool:  # two ffprobes side by side
            voice_channels, music_channels = pool.map(_channels, (voice, music))
    return RenderInputs(
        videos=[task_dir / n for n in names],
        music=music,
        voice=voice,
        logo=task_dir / meta.render.logo if meta.render.logo else None,
        duration=meta.voice_duration,
        voice_channels=voice_channels,
        music_channels=music_channels,
        picture=picture_inputs(task_dir, meta, names),
    )


def _channels(path: Path) -> int:
    """The channel count of a task's voice or music, probed once per file version: a node
    renders many tasks from the same scanned music, and a retry from the same voice."""
    try:
        st = path.stat()
    except OSError as exc:
        raise RenderError(path.parent, f"cannot read {path.name}: {exc.strerror or exc}") from exc
    key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    if key not in _CHANNELS:
        audio = probe(path).first_audio
        if audio is None:
            raise RenderError(path.parent, f"{path.name} has no audio stream")
        if len(_CHANNELS) >= CHANNELS_KEPT:
            _CHANNELS.clear()
        _CHANNELS[key] = audio.channels
    return _CHANNELS[key]


def render_task(
    task_dir: Path, output: Path, *, encoder: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None, captions_dir: Path | None = None,
) -> RenderResult:
    """Render `task_dir` to `output` and verify it. `encoder=None` uses metadata's
    encoder ("auto" = the best one this machine has); `cancel` set → ffmpeg is
    stopped and RenderError raised. A captioned task is aligned first and its captions
    (words.json, captions.srt/.vtt/.ass) written to `captions_dir` (default: beside
    `output`), where a retry finds its words.json."""
    task_dir, output = Path(task_dir).absolute(), Path(output).absolute()
    try:
        meta = read(task_dir)
        spec = meta.render
        name = encoders.choose(encoder or spec.encoder)
        enc = encoders.setup(name, spec.preset, spec.quality)
        captioning.check(task_dir, meta)
        inputs = _inputs(task_dir, meta)
        tool = ffmpeg()
        output.parent.mkdir(parents=True, exist_ok=True)
        burn = captioning.caption(task_dir, meta, Path(captions_dir or output.parent).absolute())
        if burn is not None:
            inputs = dataclasses.replace(inputs, captions=burn.filter)
    except RenderError:
        raise
    except (StoryreelError, OSError) as exc:
        raise _as_render_error(task_dir, exc) from exc
    if output.exists():
        raise RenderError(task_dir, f"{output} already exists")
    tmp = fsops.temp_path(output.parent, output.name)
    started = time.monotonic()
    try:
        inputs = dataclasses.replace(inputs, sound=_plan_sound(task_dir, inputs, spec, tool, cancel, tmp.parent))
        stderr = _encode(task_dir, inputs, spec, name, enc, tmp, tool, on_progress, cancel)
        loudness = check_output(tmp, task_dir, meta, stderr)
        fsops.move(tmp, output)
    except RenderError:
        tmp.unlink(missing_ok=True)
        raise
    except (StoryreelError, OSError) as exc:  # ffmpeg cannot start, the disk is full, …
        tmp.unlink(missing_ok=True)
        raise _as_render_error(task_dir, exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    wall = time.monotonic() - started
    log.debug("Rendered %s → %s: %.1f s of video in %.1f s with %s",
             task_dir.name, output, meta.voice_duration, wall, name)
    return RenderResult(output, wall, meta.voice_duration, name, stderr,
                        captions=burn.quality if burn is not None else None, loudness=loudness)


def _as_render_error(task_dir: Path, exc: StoryreelError | OSError) -> RenderError:
    """A failure around the render (settings, inputs, ffmpeg not starting, a full disk) as
    the render's own error, keeping ffmpeg's stderr and exit code when it has them."""
    return RenderError(task_dir, str(exc), stderr=getattr(exc, "stderr", ""),
                       returncode=getattr(exc, "returncode", None))


def _encode(task_dir: Path, inputs: RenderInputs, spec: RenderSpec, name: str,
            enc: encoders.EncoderSetup, tmp: Path, tool: str,
            on_progress: Callable[[Progress], None] | None, cancel: threading.Event | None) -> str:
    """Run the render's ffmpeg into `tmp`; its stderr. A GPU decode that fails is tried
    once more with CPU decoding."""
    job = segmented.Job(task_dir, inputs, spec, enc, tool, on_progress, cancel)
    try:
        return _picture(job, tmp)
    except RenderError as exc:
        if not enc.gpu_scale or (cancel is not None and cancel.is_set()):
            raise
        # Some clips (4:4:4, 10-bit, odd codecs) cannot be decoded by the GPU.
        log.warning("GPU decoding failed for %s (%s); rendering again with CPU decoding",
                    task_dir.name, exc.reason)
        enc = encoders.setup(name, spec.preset, spec.quality, hw_decode=False)
        return _picture(dataclasses.replace(job, enc=enc), tmp)


def _picture(job: segmented.Job, tmp: Path) -> str:
    """One pass over every clip, or (many clips) the render in segments."""
    split = read_split(job.task_dir)
    if split is not None:  # its picture was rendered in parts by segment tasks
        return farmparts.join(split, job, tmp)
    parts = segments.plan(job.inputs, job.spec)
    if parts is not None:
        return segmented.render(parts, job, tmp)
    argv = build_argv(job.inputs, job.spec, job.enc, tmp, ffmpeg=job.tool)
    return ffjob.run_scripted(argv, tmp.parent, job.task_dir, seconds=job.inputs.duration,
                              on_progress=job.on_progress, cancel=job.cancel, clips=job.inputs.videos)


def _plan_sound(task_dir: Path, inputs: RenderInputs, spec: RenderSpec, tool: str,
                cancel: threading.Event | None, work: Path) -> Mix:
    """The loudness pass: two audio-only ffmpeg runs (about a second of CPU per minute of
    audio), cancelled like the render; progress is reported by the render that follows."""
    started = time.monotonic()

    def run(argv: list[str]) -> str:
        return ffjob.run_scripted(argv, work, task_dir, seconds=inputs.duration, cancel=cancel)

    try:
        mix = sound.plan_mix(inputs, spec, run, tool)
    except RenderError as exc:
        if exc.reason == "cancelled":
            raise
        raise RenderError(task_dir, f"the loudness pass failed: {exc.reason}", stderr=exc.stderr,
                          returncode=exc.returncode) from exc
    except MediaError as exc:
        raise RenderError(task_dir, f"the loudness pass failed: {exc.reason}", stderr=exc.stderr) from exc
    log.debug("Loudness pass of %s in %.2f s: voice %+.1f dB, music %+.1f dB, mix %+.1f dB%s",
              task_dir.name, time.monotonic() - started, mix.voice_db, mix.music_db, mix.final_db,
              ", limited" if mix.limit_db is not None else "")
    return mix


def _bad_clip(stderr: str, argv: list[str], inputs: RenderInputs) -> str | None:
    """The clip a one-pass render's ffmpeg blames (ffjob.bad_clip over its clips)."""
    return ffjob.bad_clip(stderr, argv, inputs.videos)


def check_output(path: Path, task_dir: Path, meta: TaskMeta, stderr: str = "") -> Level:
    """The output's own check (streams, size, rate, length, loudness); RenderError naming
    every problem, else the loudness it measured."""
    try:
        info, metered = verify.inspect(path)
        found = verify.problems(info, meta.render, meta.voice_duration)
        level = metered or Level(SILENT_LUFS)
    except MediaError as exc:
        raise RenderError(task_dir, f"the rendered file cannot be checked: {exc.reason}",
                          stderr=stderr + "\n" + exc.stderr) from exc
    found += verify.loudness_problems(level, meta.render) if info.audio else []
    if found:
        raise RenderError(task_dir, "the rendered file failed verification: " + "; ".join(found),
                          stderr=stderr)
    return level
