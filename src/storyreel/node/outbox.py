"""The stage events a render node owes the coordinator's event log, delivered in order.

An event is sent at once when nothing is waiting. While the coordinator cannot be
reached, or earlier events still wait, it queues behind them; the node flushes the
queue on every heartbeat and once more on close. A 409 means the task moved on (its
lease went to another attempt): that event is dropped, the rest go on. Any other
refusal drops the event too: sending it again would not help.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Protocol

from storyreel.errors import LeaseLost, NodeError, Refused
from storyreel.logs import RENDER_WORKER, get_logger
from storyreel.protocol import StageEvent
from storyreel.units import plural

log = get_logger(RENDER_WORKER)

# Stage events kept while the coordinator cannot be reached: hours of work for one node.
OUTBOX_LIMIT = 1000


class Sender(Protocol):
    """What the outbox needs of the coordinator client."""

    def event(self, event: StageEvent) -> None: ...


class Outbox:
    """Undelivered stage events, oldest first; past `limit`, the oldest is dropped."""

    def __init__(self, sender: Sender, limit: int = OUTBOX_LIMIT) -> None:
        self._sender = sender
        self._waiting: deque[StageEvent] = deque()
        self._limit = limit
        self._lock = threading.Lock()  # guards the queue
        self._sending = threading.Lock()  # one sender at a time keeps the order

    def __len__(self) -> int:
        with self._lock:
            return len(self._waiting)

    def send(self, event: StageEvent) -> None:
        """Send `event` now, or queue it behind the events that still wait."""
        with self._lock:
            if len(self._waiting) >= self._limit:
                old = self._waiting.popleft()
                log.warning("Too many undelivered events; dropping the %s event of task %s", old.event,
                            old.task_id)
            self._waiting.append(event)
        self.flush()

    def flush(self) -> None:
        """Send waiting events in order; stop at the first the coordinator cannot take now."""
        with self._sending:
            while True:
                with self._lock:
                    if not self._waiting:
                        return
                    head = self._waiting[0]
                if not self._deliver(head):
                    return
                with self._lock:
                    if self._waiting and self._waiting[0] is head:  # not pushed out meanwhile
                        self._waiting.popleft()

    def close(self) -> None:
        """A last flush; what still waits is lost with the process."""
        self.flush()
        if waiting := len(self):
            log.warning("%s could not be delivered", plural(waiting, "stage event"))

    def _deliver(self, event: StageEvent) -> bool:
        """Try one event: True when it is done with (delivered or dropped), False to wait."""
        try:
            self._sender.event(event)
        except LeaseLost as exc:
            log.info("Dropped the %s event of task %s: the task moved on (%s)", event.event,
                     event.task_id, exc)
        except Refused as exc:
            log.warning("The coordinator refused the %s event of task %s: %s", event.event,
                        event.task_id, exc)
        except NodeError as exc:
            log.debug("The %s event of task %s waits: %s", event.event, event.task_id, exc)
            return False
        return True
