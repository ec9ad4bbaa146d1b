"""A render in segments (render/segments.py), run: the segments two at a time, then the last
pass that joins them and mixes the sound.

Every part lives in a work folder beside the output (a hidden temp name, swept at start
if a killed node leaves it), removed when the render ends, however it ends. A cancel, or
a segment that fails, stops every encode still running; the error is the first real one.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from storyreel import fsops
from storyreel.errors import RenderError
from storyreel.render import ffjob, segments
from storyreel.render.encoders import EncoderSetup
from storyreel.render.graph import RenderInputs
from storyreel.render.progress import Progress
from storyreel.render.segments import Segment
from storyreel.taskmeta import RenderSpec

# Segments encoded at once: two keep two cores busy through each encode's serial start
# and end, and hold the memory of two segments only.
PARALLEL = 2
# The share of the render's progress the last pass stands for: it copies the picture and
# encodes the sound, or (layered) encodes the picture again.
FINAL_SHARE = 0.05
FINAL_SHARE_LAYERED = 0.5
CANCELLED = "cancelled"


@dataclass(frozen=True)
class Job:
    """One render's fixed parts, as the render passes them."""

    task_dir: Path
    inputs: RenderInputs
    spec: RenderSpec
    enc: EncoderSetup
    tool: str  # the ffmpeg binary
    on_progress: Callable[[Progress], None] | None
    cancel: threading.Event | None


class _Either:
    """Set when the render is cancelled or another segment has failed."""

    def __init__(self, cancel: threading.Event | None, failed: threading.Event) -> None:
        self.cancel, self.failed = cancel, failed

    def is_set(self) -> bool:
        return self.failed.is_set() or (self.cancel is not None and self.cancel.is_set())


class _Tally:
    """The progress of the whole render from its parts' own: the segments' seconds summed
    into the first share, the last pass's into the rest."""

    def __init__(self, job: Job, final_share: float) -> None:
        self.report, self.total = job.on_progress, job.inputs.duration
        self.final_share = final_share
        self.started = time.monotonic()
        self.lock = threading.Lock()
        self.done: dict[int, float] = {}
        self.parts_total = 0.0

    def segment(self, index: int, seconds: float) -> Callable[[Progress], None]:
        self.parts_total += seconds

        def seen(progress: Progress) -> None:
            with self.lock:
                self.done[index] = progress.out_seconds
                share = sum(self.done.values()) / max(self.parts_total, 1e-9)
            self._send(share * (1 - self.final_share))
        return seen

    def final(self, progress: Progress) -> None:
        share = progress.out_seconds / progress.total_seconds if progress.total_seconds > 0 else 0.0
        self._send(1 - self.final_share + share * self.final_share)

    def _send(self, share: float) -> None:
        if self.report is None:
            return
        out = min(self.total, share * self.total)
        elapsed = time.monotonic() - self.started
        self.report(Progress(out, self.total, out / elapsed if elapsed > 0 and out > 0 else None))


def render(parts: list[Segment], job: Job, output: Path) -> str:
    """Render `job` in `parts` into `output`; the stderr of every ffmpeg run, in order."""
    work = fsops.temp_path(output.parent, "segments")
    work.mkdir()
    try:
        tally = _Tally(job, FINAL_SHARE_LAYERED if segments.layered(job.inputs) else FINAL_SHARE)
        logs, files = _encode_all(parts, job, work, tally)
        listing = work / "segments.ffconcat"
        listing.write_text(segments.concat_list(files, [p.frames for p in parts], job.spec.frame_rate), encoding="utf-8")
        graph = work / "final.txt"
        graph.write_text(segments.final_graph(job.inputs, job.spec, job.enc), encoding="utf-8")
        argv = segments.final_argv(job.inputs, job.spec, job.enc, listing, graph, output, ffmpeg=job.tool)
        logs.append(ffjob.run(argv, job.task_dir, seconds=job.inputs.duration,
                              on_progress=tally.final, cancel=job.cancel))
        return "\n".join(logs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def thread_share() -> int:
    """The threads each of the PARALLEL encodes may run: its share of the cores this process
    may use. Each thread of a decoder or of x264 holds frames of its own, so encodes side by
    side that each run a thread per core hold twice the memory for no more speed."""
    return max(1, len(os.sched_getaffinity(0)) // PARALLEL)


def _encode_all(parts: list[Segment], job: Job, work: Path, tally: _Tally) -> tuple[list[str], list[Path]]:
    """Every segment encoded into `work`, PARALLEL at a time; their stderr and files."""
    failed = threading.Event()
    stop = _Either(job.cancel, failed)
    files = [work / f"segment_{i:04d}.mp4" for i in range(len(parts))]
    reports = [tally.segment(i, p.frames / job.spec.frame_rate) for i, p in enumerate(parts)]
    threads = thread_share()

    def one(i: int) -> str:
        if stop.is_set():
            raise RenderError(job.task_dir, CANCELLED)
        part = parts[i]
        graph = work / f"segment_{i:04d}.txt"
        graph.write_text(segments.segment_graph(part, job.inputs, job.spec, job.enc), encoding="utf-8")
        argv = segments.segment_argv(part, job.inputs, job.enc, graph, files[i], ffmpeg=job.tool,
                                     threads=threads)
        try:
            return ffjob.run(argv, job.task_dir, seconds=part.frames / job.spec.frame_rate,
                             on_progress=reports[i], cancel=stop,
                             clips=[job.inputs.videos[k] for k in part.inputs])
        except BaseException:
            failed.set()
            raise

    with ThreadPoolExecutor(PARALLEL, thread_name_prefix="segment") as pool:
        futures = [pool.submit(one, i) for i in range(len(parts))]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if job.cancel is not None and job.cancel.is_set():
        raise RenderError(job.task_dir, CANCELLED)
    real = [e for e in errors if not (isinstance(e, RenderError) and e.reason == CANCELLED)]
    if real or errors:
        raise (real or errors)[0]  # type: ignore[misc]
    return [f.result() for f in futures], files
