"""One ffmpeg run of a render: its graph in a script file, progress read, stopped on cancel,
a failure turned into a RenderError naming the clip to blame.

Every filter graph goes to ffmpeg as a file (`-filter_complex_script`), never as one
argument: Linux limits a single argument to 128 KiB, which a graph of some 500 clips passes.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from storyreel import fsops
from storyreel.errors import MediaError, RenderError
from storyreel.logs import RENDER_WORKER, get_logger
from storyreel.media import run as runner
from storyreel.media.checks import check_decodes
from storyreel.media.probe import probe
from storyreel.render.culprit import failing_input, input_urls
from storyreel.render.progress import Progress, ProgressReader

log = get_logger(RENDER_WORKER)

# How often a cancel request is looked at while ffmpeg runs (s).
CANCEL_POLL_SECONDS = 0.2
GRAPH_FLAG, SCRIPT_FLAG = "-filter_complex", "-filter_complex_script"


class Stop(Protocol):
    """What stops a run: a threading.Event, or anything else that can say it is set."""

    def is_set(self) -> bool: ...


def scripted(argv: list[str], folder: Path) -> tuple[list[str], Path | None]:
    """`argv` with its inline graph moved to a script file in `folder` (the caller removes
    the file, returned; None when `argv` has no inline graph)."""
    if GRAPH_FLAG not in argv:
        return argv, None
    at = argv.index(GRAPH_FLAG)
    script = fsops.temp_path(folder, "graph.txt")
    script.write_text(argv[at + 1], encoding="utf-8")
    return [*argv[:at], SCRIPT_FLAG, str(script), *argv[at + 2:]], script


def run_scripted(argv: list[str], folder: Path, task_dir: Path, **kwargs) -> str:
    """`run` with the graph of `argv` given as a script file in `folder`, removed after."""
    argv, script = scripted(argv, folder)
    try:
        return run(argv, task_dir, **kwargs)
    finally:
        if script is not None:
            script.unlink(missing_ok=True)


def run(
    argv: list[str], task_dir: Path, *, seconds: float,
    on_progress: Callable[[Progress], None] | None = None, cancel: Stop | None = None,
    clips: list[Path] | None = None,
) -> str:
    """Run ffmpeg, stopped when `cancel` is set; its stderr. Progress is of `seconds` of
    output. `clips`: the clips that are inputs 0..n-1, so a failure can name the one to
    blame (None: the inputs are no clips, as in the loudness pass)."""
    reader = ProgressReader(seconds)
    job = runner.Streaming(argv, verb="render", path=task_dir)
    finished = threading.Event()
    cancelled = threading.Event()

    def watch() -> None:
        while True:
            if cancel is not None and cancel.is_set():
                cancelled.set()
                job.stop()
                return
            if finished.wait(CANCEL_POLL_SECONDS):
                return

    watcher = threading.Thread(target=watch, name="render-cancel", daemon=True)
    if cancel is not None:
        watcher.start()
    try:
        for line in job.lines():
            progress = reader.feed(line)
            if progress is not None and on_progress is not None:
                on_progress(progress)
    finally:
        finished.set()
        job.stop()
        done = job.wait(check=False)
        if cancel is not None:
            watcher.join()
    if cancelled.is_set() or (cancel is not None and cancel.is_set() and done.returncode != 0):
        raise RenderError(task_dir, "cancelled", stderr=done.stderr, returncode=done.returncode)
    if done.returncode != 0:
        raise RenderError(task_dir, f"ffmpeg exited with code {done.returncode}: {ffmpeg_complaint(done.stderr)}",
                          stderr=done.stderr, returncode=done.returncode,
                          bad_input=bad_clip(done.stderr, argv, clips) if clips is not None else None)
    return done.stderr


def bad_clip(stderr: str, argv: list[str], clips: list[Path]) -> str | None:
    """The task-folder name of the clip ffmpeg blames (clips are inputs 0..n-1), or None when
    it blames one that is not a clip (music, voice, logo). When its stderr names no input
    (ffmpeg 5 stops on a decoder's error without saying whose), each clip is decoded alone
    and the first that does not decode is the one."""
    index = failing_input(stderr, input_urls(argv))
    if index is None:
        return _first_undecodable(clips)
    return clips[index].name if index < len(clips) else None


def _first_undecodable(clips: list[Path]) -> str | None:
    for clip in dict.fromkeys(clips):
        try:
            check_decodes(clip, probe(clip).duration or 0.0)
        except MediaError as exc:
            log.info("Clip %s of %s does not decode: %s", clip.name, clip.parent.name, exc.reason)
            return clip.name
    return None


# ffmpeg's closing words, which say nothing about the cause.
_GENERIC = ("Conversion failed!", "Exiting normally", "received signal")
_CAUSE_RE = re.compile(r"error|invalid|no such|cannot|unable|not found|failed|corrupt", re.IGNORECASE)


def ffmpeg_complaint(stderr: str) -> str:
    """The stderr line that best says why ffmpeg failed."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    causes = [ln for ln in lines if _CAUSE_RE.search(ln) and not ln.startswith(_GENERIC)]
    if causes:
        return causes[-1]
    return lines[-1] if lines else "no error message"
