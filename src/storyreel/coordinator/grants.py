"""What a claim hands a node: the lease, the task's metadata and the files it may fetch,
each with its size and sha256 (computed once per file version)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storyreel import fsops
from storyreel.coordinator.leases import Lease
from storyreel.layout import (
    FAILURE_REASON_NAME,
    LEASE_NAME,
    STDERR_NAME,
    is_ignored_name,
    name_problem,
)
from storyreel.protocol import TaskFile, TaskGrant

# Files of a task folder that are the coordinator's own bookkeeping, never sent to nodes.
PRIVATE_NAMES = frozenset({LEASE_NAME, STDERR_NAME, FAILURE_REASON_NAME})


@dataclass(frozen=True)
class Grant:
    """A claim's result inside the main worker; `wire()` is what the node receives."""

    lease: Lease
    metadata: dict[str, Any]
    files: list[TaskFile]

    def wire(self) -> TaskGrant:
        return TaskGrant(task_id=self.lease.task_id, attempt=self.lease.attempt, deadline=self.lease.deadline,
                         metadata=self.metadata, files=self.files)


def _listed(name: str) -> bool:
    """True for a task folder entry a grant lists: not the coordinator's bookkeeping."""
    return name not in PRIVATE_NAMES and not is_ignored_name(name)


def servable(name: str) -> bool:
    """True for a name a node may ask for: a plain file name that is not bookkeeping."""
    return not name_problem(name) and _listed(name)


class TaskFiles:
    """The servable files of task folders, their sha256 cached by (path, size, mtime).
    Hashing runs outside the cache's lock: two requests may hash one file twice, never
    block each other."""

    def __init__(self) -> None:
        self._hashes: dict[tuple[str, int, int], str] = {}
        self._lock = threading.Lock()

    def list(self, task_dir: Path) -> list[TaskFile]:
        files = []
        for entry in sorted(task_dir.iterdir()):
            if not _listed(entry.name) or not entry.is_file():
                continue
            stat = entry.stat()
            key = (str(entry.resolve()), stat.st_size, stat.st_mtime_ns)
            with self._lock:
                digest = self._hashes.get(key)
            if digest is None:
                digest = fsops.sha256_file(entry)
                with self._lock:
                    self._hashes[key] = digest
            files.append(TaskFile(name=entry.name, size=stat.st_size, sha256=digest))
        return files

    def find(self, task_dir: Path, name: str) -> TaskFile | None:
        """The listed file `name` of the folder, or None."""
        return next((entry for entry in self.list(task_dir) if entry.name == name), None)
