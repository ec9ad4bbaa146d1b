"""A cancelled narration kills its engine; an engine dies with the process that ran it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
from speechkit import processes_mentioning

from storyreel.errors import NarrationError
from storyreel.narration import narrate

# A text that takes espeak-ng several seconds: long enough to cancel half way.
LONG_TEXT = "\n\n".join(
    f"Paragraph {n} begins here, and the keeper counts the ships again. "
    "He writes their names in a blue notebook, one line for each of them." for n in range(150)
)
DEADLINE = 20.0


def _wait_for(predicate, timeout: float = DEADLINE) -> bool:  # noqa: ANN001
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_cancel_kills_the_engine_and_raises(tmp_path: Path) -> None:
    cancel = threading.Event()
    progress: list[float] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            narrate(LONG_TEXT, tmp_path, engine="espeak-ng", cancel=cancel, on_progress=progress.append)
        except BaseException as exc:  # noqa: BLE001 (handed to the test)
            failure.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    assert _wait_for(lambda: bool(progress)), "the engine never reported a sentence"
    assert processes_mentioning(str(tmp_path)), "the engine process is not running"
    cancel.set()
    worker.join(DEADLINE)
    assert not worker.is_alive()
    assert len(failure) == 1 and isinstance(failure[0], NarrationError)
    assert "cancelled" in str(failure[0])
    assert progress[-1] < 0.5
    assert not processes_mentioning(str(tmp_path))
    assert not (tmp_path / "voice.mp3").exists() and not (tmp_path / ".narration").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's parent-death signal")
def test_the_engine_dies_with_a_killed_parent(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        from storyreel.narration import narrate
        narrate({LONG_TEXT!r}, {str(tmp_path)!r}, engine="espeak-ng")
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        job = str(tmp_path / ".narration" / "job.json")
        assert _wait_for(lambda: bool(processes_mentioning(job))), "the engine never started"
        engines = processes_mentioning(job)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(DEADLINE)
        assert _wait_for(lambda: not any(pid in processes_mentioning(job) for pid in engines))
    finally:
        if parent.poll() is None:
            parent.kill()
