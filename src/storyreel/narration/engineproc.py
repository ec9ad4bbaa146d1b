"""One run of an engine process over a job: its events read as they come, and cancel.

The process dies with the thread that starts it (`media.run.Streaming`); setting `cancel`
kills it, and the run ends in NarrationError either way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from storyreel.errors import MediaError, NarrationError
from storyreel.media.run import Streaming
from storyreel.narration.engines import engine_command
from storyreel.narration.protocol import Done, Failed, Job, Ready, Spoken, parse_event

# How often the watcher looks at the cancel flag, and how long a killed engine gets.
CANCEL_POLL_SECONDS = 0.1
KILL_GRACE_SECONDS = 1.0


@dataclass
class EngineRun:
    """What an engine process reported: every token's samples in the WAV, in order."""

    sample_rate: int = 0
    spans: list[tuple[int, int]] = field(default_factory=list)
    samples: int = 0
    cpu_seconds: float = 0.0
    failure: str = ""


def _watch(stream: Streaming, cancel: threading.Event, finished: threading.Event) -> None:
    while not finished.is_set():
        if cancel.wait(CANCEL_POLL_SECONDS):
            stream.stop(grace=KILL_GRACE_SECONDS)
            return


def _read(stream: Streaming, job: Job, on_sentence: Callable[[int], None]) -> EngineRun:
    run = EngineRun()
    for line in stream.lines():
        try:
            event = parse_event(line)
        except ValidationError:
            continue  # a library's own chatter on stdout
        if isinstance(event, Ready):
            run.sample_rate = event.sample_rate
        elif isinstance(event, Spoken):
            run.spans += event.tokens
            run.samples = event.samples
            on_sentence(len(job.sentences[event.sentence].tokens))
        elif isinstance(event, Done):
            run.cpu_seconds = event.cpu_seconds
        elif isinstance(event, Failed):
            run.failure = event.reason
    return run


def run_engine(engine: str, job: Job, job_path: Path, *, cancel: threading.Event | None,
               on_sentence: Callable[[int], None]) -> EngineRun:
    """Speak `job` (written to `job_path`) with `engine`; `on_sentence(tokens)` after each
    sentence. NarrationError when the engine fails or `cancel` is set."""
    job_path.write_text(job.model_dump_json(), encoding="utf-8")
    where = Path(job.wav).parent
    try:
        stream = Streaming(engine_command(engine, str(job_path)), verb=f"narrate with {engine}",
                           path=where)
    except MediaError as exc:
        raise NarrationError(f"the {engine} engine cannot start: {exc}", path=where) from exc
    cancel = cancel or threading.Event()
    finished = threading.Event()
    watcher = threading.Thread(target=_watch, args=(stream, cancel, finished), daemon=True)
    watcher.start()
    try:
        run = _read(stream, job, on_sentence)
        done = stream.wait(check=False)
    finally:
        finished.set()
        stream.stop(grace=KILL_GRACE_SECONDS)
        watcher.join()
    if cancel.is_set():
        raise NarrationError(f"cancelled: the {engine} engine was stopped", path=where)
    if run.failure or done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        reason = run.failure or (lines[-1] if lines else f"exit code {done.returncode}")
        raise NarrationError(f"the {engine} engine failed: {reason}", path=where)
    return run
