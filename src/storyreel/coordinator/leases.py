"""lease.json: who holds a task in processing/, which attempt it is, and until when.

A lease is judged on the main worker's clock (wall time, so a restarted main
worker honours the deadlines its predecessor granted). The file travels with the
task folder: when an expired or released task goes back to tasks/, its last
lease stays inside with `holder` cleared, so the next claim knows the attempt
number to continue from and how many leases have already run out.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from storyreel import fsops
from storyreel.errors import FilesystemError
from storyreel.layout import LEASE_NAME


class LeaseState:
    """Why a lease.json exists: held now, or the record of how the last hold ended."""

    HELD = "held"
    EXPIRED = "expired"
    RELEASED = "released"
    FAILED = "failed"  # its node's render failed: queued again for another node


class Lease(BaseModel):
    """The content of processing/<id>/lease.json."""

    model_config = ConfigDict(extra="ignore")

    task_id: str
    node: str
    attempt: int = Field(ge=1)
    state: str = LeaseState.HELD
    deadline: float  # coordinator wall clock, seconds since the epoch
    claimed_at: float
    renewed_at: float
    expiries: int = Field(0, ge=0)  # earlier holds of this task that ran out
    failed_nodes: list[str] = []  # the node of each earlier hold whose render failed, in order

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.deadline

    def matches(self, node: str, attempt: int) -> bool:
        """True when (node, attempt) is the current holder of this held lease."""
        return self.state == LeaseState.HELD and self.node == node and self.attempt == attempt


def lease_path(task_dir: Path) -> Path:
    return Path(task_dir) / LEASE_NAME


def read_lease(task_dir: Path) -> Lease | None:
    """The task folder's lease.json, or None when it has none or it cannot be read."""
    path = lease_path(task_dir)
    try:
        return Lease.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, ValidationError):
        return None


def write_lease(task_dir: Path, lease: Lease, *, durable: bool = True) -> Path:
    """Replace the task's lease.json atomically. `durable=False` (heartbeat renewals only)
    skips the fsyncs: a crash can then lose a renewal but never leaves a torn file, and a
    lost renewal only brings the deadline back to an earlier one, which a restarted
    coordinator extends anyway (it grants pre-restart leases one more lease period)."""
    path = lease_path(task_dir)
    text = json.dumps(lease.model_dump(), indent=2) + "\n"
    if durable:
        return fsops.write_atomic(path, text)
    tmp = fsops.temp_path(path.parent, path.name)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise FilesystemError("write", path, None, exc.strerror or str(exc)) from exc
    return path


def new_lease(task_id: str, node: str, previous: Lease | None, seconds: float, now: float) -> Lease:
    """The lease a claim grants: one attempt past whatever the task had before."""
    attempt = previous.attempt + 1 if previous else 1
    expiries = previous.expiries if previous else 0
    return Lease(
        task_id=task_id, node=node, attempt=attempt, state=LeaseState.HELD,
        deadline=now + seconds, claimed_at=now, renewed_at=now, expiries=expiries,
        failed_nodes=list(previous.failed_nodes) if previous else [],
    )


def renewed(lease: Lease, seconds: float, now: float) -> Lease:
    return lease.model_copy(update={"deadline": now + seconds, "renewed_at": now})


def ended(lease: Lease, state: str) -> Lease:
    """The record a lease leaves behind when its task goes back to tasks/."""
    expiries = lease.expiries + (1 if state == LeaseState.EXPIRED else 0)
    failed = [*lease.failed_nodes, lease.node] if state == LeaseState.FAILED else list(lease.failed_nodes)
    return lease.model_copy(update={"state": state, "expiries": expiries, "failed_nodes": failed})
