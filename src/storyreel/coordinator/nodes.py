"""The node table: every render node that registered, when it was last heard from, and
whether it is lost. What a node is doing is not kept here: its rows are derived from the
holds (holds.py), so a task that moves on leaves every row at once."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from storyreel.coordinator.holds import Hold
from storyreel.errors import CoordinatorError
from storyreel.layout import name_problem
from storyreel.logs import MAIN_WORKER, get_logger

log = get_logger(MAIN_WORKER)

# A node unseen for this many heartbeat periods is reported lost (issue 4).
LOST_AFTER_HEARTBEATS = 3
# Longest node id accepted: it names log lines, events and scratch folders.
MAX_NODE_ID = 100
# The stage whose progress and ETA a node row shows.
RENDERING_STAGE = "rendering"


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

    def snapshot(self, holds: Iterable[Hold]) -> dict[str, Any]:
        """The node's row, with `holds` (this node's, by task id) as its current tasks."""
        current = [hold.row() for hold in holds]
        rendering = [t for t in current if t["stage"] == RENDERING_STAGE]
        return {
            "node": self.node, "host": self.host, "address": self.address, "encoders": list(self.encoders),
            "version": self.version, "registered_at": self.registered_at, "last_seen": self.last_seen,
            "state": "lost" if self.lost else ("busy" if current else "idle"),
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
        check_node_id(info.node)
        with self._lock:
            self._nodes[info.node] = info

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
