"""Which stage events a node may still add to the event log, and which it already added.

A node reports its download and render while it holds the task, and its upload just
after: the upload's own answer ends the hold (node/stages.py sends `uploaded` once the
render is in output/). Its outbox may also deliver events that waited behind an
unreachable coordinator after the hold ended. So an event of (node, attempt) for a task
is accepted while that attempt holds the task, or after its hold ended by the node's
own word (uploaded, reported failed, handed back), and each kind once per attempt.
Everything else is refused with 409: another node's task, a task it never held, an
attempt whose lease ran out or went to another attempt, an event already recorded.

What ended holds and recorded kinds are remembered lives in memory, bounded: a node
sends its events within moments of a hold's end, so a coordinator restart between the
two (which forgets the end) is the one case where a true late event is refused.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from storyreel.coordinator.holds import Hold, HoldStore, Outcome
from storyreel.errors import DuplicateEvent, StaleLease, UnknownTask
from storyreel.protocol import StageEvent

# Ends of holds a node itself brings about: events of that attempt may still arrive.
NODE_ENDS = frozenset({Outcome.COMPLETED, Outcome.FAILED, Outcome.RELEASED, Outcome.RETRIED})
# Ended holds and recorded attempts remembered: many times the holds that end while one
# node's late events are on their way (seconds), so none is forgotten too soon.
MEMORY = 4096


class StageFence:
    """The fence of POST /events: `admit` raises for an event that must not be recorded."""

    def __init__(self, holds: HoldStore, memory: int = MEMORY) -> None:
        self._holds = holds
        self._memory = memory
        self._lock = threading.Lock()
        self._ended: OrderedDict[str, tuple[str, int]] = OrderedDict()  # task → (node, attempt)
        self._recorded: OrderedDict[tuple[str, int], set[str]] = OrderedDict()  # (task, attempt) → kinds

    def ended(self, hold: Hold | None, outcome: Outcome) -> None:
        """A hold ended (None: there was none); its node may still report it if it ended it."""
        if hold is None or outcome not in NODE_ENDS:
            return
        with self._lock:
            self._ended[hold.task_id] = (hold.node, hold.attempt)
            self._ended.move_to_end(hold.task_id)
            _trim(self._ended, self._memory)

    def admit(self, event: StageEvent) -> None:
        """Note `event` as recorded, or raise StaleLease / DuplicateEvent (409) when its node's
        attempt does not hold the task and did not end its hold itself, or sent it before."""
        try:
            self._holds.held(event.task_id, event.node, event.attempt)
        except (StaleLease, UnknownTask) as exc:
            with self._lock:
                if self._ended.get(event.task_id) != (event.node, event.attempt):
                    raise StaleLease(f"task {event.task_id} is not held by {event.node} attempt "
                                     f"{event.attempt}, nor was its hold ended by it: {exc}") from exc
        key = (event.task_id, event.attempt)
        with self._lock:
            kinds = self._recorded.setdefault(key, set())
            if event.event in kinds:
                raise DuplicateEvent(f"the {event.event} event of task {event.task_id} attempt "
                                     f"{event.attempt} is already recorded")
            kinds.add(event.event)
            self._recorded.move_to_end(key)
            _trim(self._recorded, self._memory)


def _trim(table: OrderedDict[Any, Any], size: int) -> None:
    while len(table) > size:
        table.popitem(last=False)
