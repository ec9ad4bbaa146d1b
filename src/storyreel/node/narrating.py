"""A narrate task on a render node: the chunk's text spoken into voice.mp3, with its word
timings (words.json) and a report of how it was made (narration.json), all in the
attempt's work folder, ready for the upload stage.

The engines themselves (storyreel.narration) run in processes of their own; a cancel
stops them. Any failure is a RenderError of the task, so the node's stages treat a
narration like a render: failed, handed back on a stop, or lost.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from storyreel import fsops
from storyreel.errors import RenderError, StoryreelError
from storyreel.protocol import NARRATION_REPORT_NAME, NarrationReport
from storyreel.render.progress import Progress
from storyreel.taskmeta import read_narrate


@dataclass(frozen=True)
class Narrated:
    """A narration made in the work folder (voice.mp3, words.json, narration.json)."""

    seconds: float  # of speech
    engine: str
    voice_name: str


def engines() -> list[str]:
    """The narration engines this machine runs (none when the narration package cannot load)."""
    try:
        from storyreel.narration import available_engines
    except ImportError:
        return []
    return list(available_engines())


def narrate_task(task_dir: Path, work: Path, *, cancel: threading.Event | None = None,
                 on_progress: Callable[[Progress], None] | None = None) -> Narrated:
    """Speak the task's text into `work`; RenderError when it cannot."""
    from storyreel.narration import narrate

    try:
        meta = read_narrate(task_dir)
        text = (task_dir / meta.narration.text_file).read_text(encoding="utf-8")
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if meta.narration.text_sha256 and digest != meta.narration.text_sha256:
            raise RenderError(task_dir, f"{meta.narration.text_file} is not the text the task was planned with")
        work.mkdir(parents=True, exist_ok=True)

        started = time.monotonic()

        def progress(fraction: float) -> None:
            # In percent of the text: its rate gives the ETA (the bar shows no × realtime).
            if on_progress is not None:
                elapsed = time.monotonic() - started
                rate = 100.0 * fraction / elapsed if fraction > 0 and elapsed > 0 else None
                on_progress(Progress(out_seconds=100.0 * fraction, total_seconds=100.0, speed=rate))

        result = narrate(text, work, engine=meta.narration.engine, voice=meta.narration.voice,
                         cancel=cancel, on_progress=progress)
        report = NarrationReport(engine=result.engine, voice=result.voice, duration=result.duration,
                                 text_sha256=digest, cpu_seconds=round(result.cpu_seconds, 3))
        fsops.write_atomic(work / NARRATION_REPORT_NAME, report.model_dump_json() + "\n")
    except RenderError:
        raise
    except (StoryreelError, OSError, UnicodeDecodeError) as exc:
        raise RenderError(task_dir, f"narration failed: {exc}", stderr=getattr(exc, "stderr", "")) from exc
    return Narrated(result.duration, result.engine, result.voice)
