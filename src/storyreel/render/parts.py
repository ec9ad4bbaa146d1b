"""A long chapter rendered by several nodes: one segment task's part of the picture, and
the render task that joins the parts.

    render_part(task_dir, output, ...)   a segment task: its clips filled, joined, titled,
                                         captioned and logoed as in the whole picture, cut to
                                         its exact frames, video alone
    join(split, job, tmp)                its render task: the parts joined by stream copy,
                                         the sound mixed once over the whole length

A part is render/segments.py's segment, so every part starts on the frame the one before
ends on and the joined picture is exactly the voice's frames. The part is checked against
its frame count before it leaves the node.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from storyreel import fsops
from storyreel.errors import MediaError, RenderError, StoryreelError
from storyreel.layout import Layout
from storyreel.media.probe import probe
from storyreel.media.tools import ffmpeg
from storyreel.render import captioning, encoders, ffjob, segmented, segments
from storyreel.render.graph import RenderInputs
from storyreel.render.picture_inputs import picture_inputs
from storyreel.render.progress import Progress
from storyreel.render.segments import Segment
from storyreel.taskmeta import SegmentMeta, SplitRecord, read_segment


@dataclasses.dataclass(frozen=True)
class PartResult:
    output: Path
    wall_seconds: float
    media_seconds: float
    encoder: str


def render_part(
    task_dir: Path, output: Path, *, encoder: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None, captions_dir: Path | None = None,
) -> PartResult:
    """Render a segment task's part into `output` (mp4, video alone) and check its frames.
    Captions are aligned over the whole voice (into `captions_dir`) and drawn at the
    part's place in it."""
    task_dir, output = Path(task_dir).absolute(), Path(output).absolute()
    try:
        meta = read_segment(task_dir)
        spec = meta.render
        # The split named the encoder: every part of the chapter is encoded alike, whatever
        # the node would choose, so the parts join by stream copy.
        name = encoders.choose(spec.encoder if spec.encoder != encoders.AUTO else encoder or spec.encoder)
        enc = encoders.setup(name, spec.preset, spec.quality)
        inputs = _inputs(task_dir, meta)
        burn = captioning.caption(task_dir, meta, Path(captions_dir or output.parent / "captions").absolute())
        if burn is not None:
            inputs = dataclasses.replace(inputs, captions=burn.filter)
        tool = ffmpeg()
    except RenderError:
        raise
    except (StoryreelError, OSError) as exc:
        raise RenderError(task_dir, str(exc)) from exc
    part = meta.segment
    segment = Segment(part.clips, part.start, part.frames, part.lead, part.lead_from, part.lengths, part.fades)
    seconds = part.frames / spec.frame_rate
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = fsops.temp_path(output.parent, output.name)
    graph = fsops.temp_path(output.parent, "part-graph.txt")
    started = time.monotonic()
    try:
        graph.write_text(segments.segment_graph(segment, inputs, spec, enc), encoding="utf-8")
        argv = segments.segment_argv(segment, inputs, enc, graph, tmp, ffmpeg=tool)
        ffjob.run(argv, task_dir, seconds=seconds, on_progress=on_progress, cancel=cancel,
                  clips=[inputs.videos[k] for k in segment.inputs])
        _check_part(task_dir, tmp, part.frames)
        fsops.move(tmp, output)
    except RenderError:
        raise
    except (StoryreelError, OSError) as exc:  # ffmpeg cannot start, the disk is full, …
        raise RenderError(task_dir, str(exc)) from exc
    finally:
        tmp.unlink(missing_ok=True)
        graph.unlink(missing_ok=True)
    return PartResult(output, time.monotonic() - started, seconds, name)


def _inputs(task_dir: Path, meta: SegmentMeta) -> RenderInputs:
    """The part's inputs: every clip of the play order by name (only its own are in the
    folder, and only those are read), the logo; no music, and the voice only to caption."""
    missing = [n for n in meta.input_names() if not (task_dir / n).is_file()]
    if missing:
        raise RenderError(task_dir, f"missing input files: {', '.join(missing)}")
    names = list(meta.video_files)
    voice = task_dir / meta.voice_file
    return RenderInputs(videos=[task_dir / n for n in names], music=voice, voice=voice,
                        logo=task_dir / meta.render.logo if meta.render.logo else None,
                        duration=meta.voice_duration, picture=picture_inputs(task_dir, meta, names))


def _check_part(task_dir: Path, path: Path, frames: int) -> None:
    """The part is one picture of exactly its frames, no sound."""
    try:
        info = probe(path)
    except MediaError as exc:
        raise RenderError(task_dir, f"the rendered part cannot be checked: {exc.reason}") from exc
    video = info.first_video
    if video is None or info.audio:
        raise RenderError(task_dir, "the rendered part is not one picture without sound")
    if video.frames is not None and video.frames != frames:
        raise RenderError(task_dir, f"the rendered part has {video.frames} frames, not {frames}")


def join(split: SplitRecord, job: segmented.Job, tmp: Path) -> str:
    """The render task of a split chapter: its parts (beside split.json in the task folder)
    joined by stream copy, the sound mixed once; ffmpeg's stderr."""
    files = [job.task_dir / Layout.part_name(i) for i in range(len(split.segments))]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise RenderError(job.task_dir, f"missing parts: {', '.join(missing)}")
    if segments.layered(job.inputs):
        raise RenderError(job.task_dir, "a render with a frame clip is never split, yet this one has parts")
    work = fsops.temp_path(tmp.parent, "join")
    work.mkdir()
    try:
        listing = work / "parts.ffconcat"
        listing.write_text(segments.concat_list(files, split.frames, job.spec.frame_rate), encoding="utf-8")
        graph = work / "final.txt"
        graph.write_text(segments.final_graph(job.inputs, job.spec, job.enc), encoding="utf-8")
        argv = segments.final_argv(job.inputs, job.spec, job.enc, listing, graph, tmp, ffmpeg=job.tool)
        return ffjob.run(argv, job.task_dir, seconds=job.inputs.duration, on_progress=job.on_progress,
                         cancel=job.cancel)
    finally:
        shutil.rmtree(work, ignore_errors=True)

