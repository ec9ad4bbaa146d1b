"""The root lock: one main worker at a time writes a project root.

The main worker takes it first, in every mode that writes (`main`, `main --once`, `run`),
before it recovers, sweeps, lists or crawls anything; a second one is refused and touches
nothing. The lock is an flock on `.storyreel/coordinator.lock`, so a killed holder frees it
at once. The file names the holder (pid, where it serves render nodes) for the refusal.
Read-only commands (`status`, `dashboard`) never take it.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import TextIO

from storyreel.errors import RootLocked
from storyreel.layout import Layout
from storyreel.netaddr import Listen


def describe_holder(text: str) -> str:
    """The holder recorded in a lock file, as words: "pid 12, serving on 127.0.0.1:8765"."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return f"pid {text.strip() or 'unknown'}"
    listen = data.get("listen")
    serving = f"serving render nodes on {listen}" if listen else "not serving render nodes"
    return f"pid {data.get('pid', 'unknown')}, {serving}"


class RootLock:
    """Held from `acquire` to `release`; `record` updates who holds it and where it serves."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.path: Path = layout.coordinator_lock
        self._handle: TextIO | None = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def acquire(self, listen: Listen | None = None) -> RootLock:
        """Take the lock or raise RootLocked naming the holder. `listen`: where this main
        worker will serve render nodes (None: it serves none)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)  # .storyreel/: the lock's own folder
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held open while working
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = describe_holder(handle.read())
            handle.close()
            raise RootLocked(f"cannot work on {self.layout.root}: another main worker ({holder}) "
                             f"already holds it") from None
        self._handle = handle
        self.record(listen)
        return self

    def record(self, listen: Listen | None) -> None:
        """Say who holds the lock: this pid, serving on `listen` (the bound port once known)."""
        if self._handle is None:
            return
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(json.dumps({"pid": os.getpid(), "listen": str(listen) if listen else None}))
        self._handle.flush()

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file releases the flock
            self._handle = None
