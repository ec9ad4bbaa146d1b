"""The node table: every render node that registered, when it was last heard from, whether
it is lost, and whether the operator paused or is draining it (`storyreel node`), or it was
paused after failing several different tasks in a row. What a node is doing is not kept
here: its rows are derived from the holds (holds.py), so a task that moves on leaves every
row at once. Pauses live in memory: a restarted main worker lets every node claim again."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from storyreel.coordinator.holds import Hold
from storyreel.errors import CoordinatorError, UnknownTask
from storyreel.layout import name_problem
from storyreel.logs import MAIN_WORKER, get_logger

log = get_logger(MAIN_WORKER)

# A node unseen for this many heartbeat periods is reported lost (issue 4).
LOST_AFTER_HEARTBEATS = 3
# Longest node id accepted: it names log lines, events and scratch folders.
MAX_NODE_ID = 100
# The stage whose progress and ETA a node row shows.
RENDERING_STAGE = "rendering"


class Steering(StrEnum):
    """What the operator (or a run of failures) decided about a node's claims."""

    ACTIVE = ""  # claims as usual
    PAUSED = "paused"  # claims nothing; what it held went back to the queue
    DRAINING = "draining"  # finishes what it holds, claims nothing new


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
    steering: Steering = Steering.ACTIVE
    steer_reason: str = ""  # why it is paused or draining, for its claims and its row
    failed_streak: list[str] = field(default_factory=list)  # different tasks failed in a row
    narrators: list[str] = field(default_factory=list)  # narration engines it runs

    def runs(self, engine: str) -> bool:
        """True when the node runs narration `engine` ("auto": any engine at all)."""
        return bool(self.narrators) if engine == "auto" else engine in self.narrators

    def state(self, busy: bool) -> str:
        if self.lost:
            return "lost"
        if self.steering != Steering.ACTIVE:
            return self.steering.value
        return "busy" if busy else "idle"

    def snapshot(self, holds: Iterable[Hold]) -> dict[str, Any]:
        """The node's row, with `holds` (this node's, by task id) as its current tasks."""
        current = [hold.row() for hold in holds]
        rendering = [t for t in current if t["stage"] == RENDERING_STAGE]
        return {
            "node": self.node, "host": self.host, "address": self.address, "encoders": list(self.encoders),
            "narrators": list(self.narrators), "version": self.version, "registered_at": self.registered_at,
            "last_seen": self.last_seen,
            "state": self.state(bool(current)), "steer_reason": self.steer_reason,
            "current_tasks": current,
            "progress": rendering[0]["progress"] if rendering else None,
            "eta": rendering[0]["eta_seconds"] if rendering else None,
        }


class NodeTable:
    """Registered nodes. Its lock is held only for dictionary work, never for I/O."""

    def __init__(self, heartbeat_seconds: float) -> None:
        self.lost_after = LOST_AFTER_HEARTBEATS * heartbeat_seconds
        self._nodes: dict[str, NodeInfo] = {}
        self._lock = threading.Lock()

    def register(self, info: NodeInfo) -> None:
        """Add a node, or renew one registering again (a restart, or the same node telling
        its narration engines once it probed them): its pause and its run of failed tasks stay."""
        check_node_id(info.node)
        with self._lock:
            known = self._nodes.get(info.node)
            if known is not None:
                info.steering, info.steer_reason = known.steering, known.steer_reason
                info.failed_streak = known.failed_streak
            self._nodes[info.node] = info

    def get(self, node: str) -> NodeInfo | None:
        with self._lock:
            return self._nodes.get(node)

    def steer(self, node: str, steering: Steering, reason: str = "") -> NodeInfo:
        """Pause, drain or resume a registered node (UnknownNode when it never registered)."""
        with self._lock:
            info = self._nodes.get(node)
            if info is None:
                known = ", ".join(sorted(self._nodes)) or "none has registered"
                raise UnknownTask(f"no render node {node!r} (known: {known})")
            info.steering, info.steer_reason = steering, reason
            if steering == Steering.ACTIVE:
                info.failed_streak.clear()
            return info

    def claim_refusal(self, node: str) -> str | None:
        """Why `node` may not claim now (paused, draining), or None."""
        info = self._nodes.get(node)
        if info is None or info.steering == Steering.ACTIVE:
            return None
        return f"node {node} is {info.steering.value}" + (f": {info.steer_reason}" if info.steer_reason else "")

    def succeeded(self, node: str) -> None:
        """`node` finished a task: its run of failures is over."""
        with self._lock:
            if (info := self._nodes.get(node)) is not None:
                info.failed_streak.clear()

    def failed(self, node: str, task_id: str, pause_after: int) -> bool:
        """`node` failed `task_id`; True when that makes `pause_after` different tasks in a
        row, and the node is paused for it now."""
        with self._lock:
            info = self._nodes.get(node)
            if info is None or info.steering == Steering.PAUSED:
                return False
            if task_id not in info.failed_streak:
                info.failed_streak.append(task_id)
            if len(info.failed_streak) < pause_after:
                return False
            info.steering = Steering.PAUSED
            info.steer_reason = f"failed {len(info.failed_streak)} different tasks in a row"
            return True

    def may_retry_elsewhere(self, node: str, failed_nodes: list[str]) -> bool:
        """True when a node other than `node` that has not failed the task is known and not
        lost (paused or draining ones count: they may come back), so `node` leaves it to them."""
        with self._lock:
            return any(name != node and name not in failed_nodes and not info.lost
                       for name, info in self._nodes.items())

    def idle_besides(self, node: str, busy: set[str], encoder: str | None = None) -> bool:
        """True when a node other than `node`, active and not lost (and with `encoder`, when
        named), holds no task (`busy`: the nodes that hold one)."""
        with self._lock:
            return any(name != node and name not in busy and not info.lost and info.steering == Steering.ACTIVE
                       and (encoder is None or encoder in info.encoders) for name, info in self._nodes.items())

    def seen(self, node: str, now: float) -> NodeInfo | None:
        """Note that `node` spoke; None when it never registered here."""
        with self._lock:
            info = self._nodes.get(node)
            if info is None:
                return None
            info.last_seen = now
            came_back, info.lost = info.lost, False
        if came_back:
            log.info("Render node %s is back", node)
        return info

    def is_registered(self, node: str) -> bool:
        return node in self._nodes  # one dictionary lookup: needs no lock

    def has_encoder(self, encoder: str) -> bool:
        """True when a node that is not lost advertises `encoder`."""
        with self._lock:
            return any(encoder in n.encoders for n in self._nodes.values() if not n.lost)

    def has_narrator(self, engine: str) -> bool:
        """True when a node that is not lost runs narration `engine` ("auto": any engine)."""
        with self._lock:
            return any(n.runs(engine) for n in self._nodes.values() if not n.lost)

    def settled(self, now: float, seconds: float) -> bool:
        """True when a node that is not lost registered at least `seconds` ago."""
        with self._lock:
            return any(now - n.registered_at >= seconds for n in self._nodes.values() if not n.lost)

    def note_lost(self, now: float) -> list[NodeInfo]:
        """Mark the nodes unheard for too long as lost; returns those newly lost."""
        with self._lock:
            lost = [n for n in self._nodes.values() if not n.lost and now - n.last_seen > self.lost_after]
            for info in lost:
                info.lost = True
        return lost

    def snapshot(self, holds: list[Hold]) -> list[dict[str, Any]]:
        """Every node's row, its current tasks taken from `holds`."""
        with self._lock:
            nodes = sorted(self._nodes.items())
            return [info.snapshot(h for h in holds if h.node == name) for name, info in nodes]


def check_node_id(node: str) -> None:
    problem = name_problem(node)
    if problem or len(node) > MAX_NODE_ID:
        raise CoordinatorError(f"bad node id {node!r}: {problem or f'longer than {MAX_NODE_ID} characters'}")
