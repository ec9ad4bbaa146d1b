"""What the coordinator hands out and keeps: task files, grants, the node table, and the
refusals that become HTTP answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from storyreel.coordinator.leases import Lease


@dataclass(frozen=True)
class TaskFile:
    name: str
    size: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class Grant:
    """What a claim gives a node: the lease, the metadata and the files to fetch."""

    lease: Lease
    metadata: dict[str, Any]
    files: list[TaskFile]

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_id": self.lease.task_id, "attempt": self.lease.attempt, "deadline": self.lease.deadline,
            "metadata": self.metadata, "files": [f.as_dict() for f in self.files],
        }


@dataclass
class NodeInfo:
    node: str
    host: str
    encoders: list[str]
    version: str
    registered_at: float
    last_seen: float
    address: str = ""  # where its requests come from
    lost: bool = False
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # task id → attempt, stage, progress

    def snapshot(self) -> dict[str, Any]:
        current = [{"task_id": task_id, **info} for task_id, info in sorted(self.tasks.items())]
        rendering = [t for t in current if t.get("stage") == "rendering"]
        return {
            "node": self.node, "host": self.host, "address": self.address, "encoders": list(self.encoders), "version": self.version,
            "registered_at": self.registered_at, "last_seen": self.last_seen,
            "state": "lost" if self.lost else ("busy" if current else "idle"),
            "current_tasks": current,
            "progress": rendering[0].get("progress") if rendering else None,
            "eta": rendering[0].get("eta_seconds") if rendering else None,
        }


