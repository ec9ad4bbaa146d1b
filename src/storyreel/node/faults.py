"""Fault switches for tests and drills: never set on a production node.

`STORYREEL_FAULT_UPLOAD_FAILURES=N` (documented in the README): the first N upload
tries of this render node process announce a wrong sha256, so the real coordinator
refuses each of them (422) as it would a render damaged in transit. The farm tests
use it to drive the upload retries against a real main worker.

`STORYREEL_FAULT_RENDER_FAILURES=N`: the first N renders of this render node process fail
as a broken ffmpeg run would (after ffmpeg ran), so the coordinator's soft failures (the task
retried on another node) and the pausing of a node that fails task after task can be driven
against a real farm.
"""

from __future__ import annotations

import os
import threading

from storyreel.logs import RENDER_WORKER, get_logger

log = get_logger(RENDER_WORKER)

FAULT_UPLOADS_ENV = "STORYREEL_FAULT_UPLOAD_FAILURES"
FAULT_RENDERS_ENV = "STORYREEL_FAULT_RENDER_FAILURES"
# What a faulty upload announces instead of the render's digest: no file hashes to it.
WRONG_SHA256 = "0" * 64


class _Countdown:
    """The next `remaining` of some kind of action of this process are faulty."""

    def __init__(self, remaining: int = 0) -> None:
        self._remaining = max(remaining, 0)
        self._lock = threading.Lock()

    def take(self) -> bool:
        """True (and one fewer left) while faults remain."""
        with self._lock:
            if self._remaining <= 0:
                return False
            self._remaining -= 1
            return True


class UploadFaults(_Countdown):
    """How many of this process's next upload tries announce a wrong sha256."""

    @classmethod
    def from_env(cls) -> UploadFaults:
        return cls(int(os.environ.get(FAULT_UPLOADS_ENV, "0") or 0))

    def announced_sha256(self, task_id: str, sha256: str) -> str:
        """The digest one upload try of `task_id` announces: `sha256`, or a wrong one while
        faults remain."""
        if not self.take():
            return sha256
        log.warning("Fault injection (%s): announcing a wrong sha256 for task %s", FAULT_UPLOADS_ENV,
                    task_id)
        return WRONG_SHA256


class RenderFaults(_Countdown):
    """How many of this process's next renders are reported failed."""

    @classmethod
    def from_env(cls) -> RenderFaults:
        return cls(int(os.environ.get(FAULT_RENDERS_ENV, "0") or 0))

    def fails(self, task_id: str) -> bool:
        """True when this render of `task_id` is to be reported failed."""
        if not self.take():
            return False
        log.warning("Fault injection (%s): failing the render of task %s", FAULT_RENDERS_ENV, task_id)
        return True
