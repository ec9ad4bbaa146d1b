"""The coordinator's in-memory index of tasks/: queued task ids, oldest first.

The main worker is the only writer of the project root, so the index is kept
current by the moves the coordinator makes itself (claims take tasks out,
releases and expiries put them back) and by the planner, which tells it about
each task it creates. An operator may still move a folder into or out of
tasks/ by hand, so the folder is listed again every RESCAN_SECONDS; directory
modification times are not trusted for this (their granularity is too coarse
to notice two changes in the same tick). The index is only a hint: a claim
checks that the folder still exists before it renames it.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from storyreel import taskmeta
from storyreel.layout import Layout, TaskState, list_task_ids
from storyreel.rescans import Rescan

# A folder moved into or out of tasks/ by hand is noticed within this long, or less often
# when one listing costs more than rescans.LISTING_SHARE of a core (10,000 task folders
# take about 50 ms: every 10 s), so an idle coordinator's cost stays flat as the queue grows.
RESCAN_SECONDS = 5.0


class QueueIndex:
    """Queued task ids ordered by (narrate tasks first, metadata created_at, id). Not thread-safe: the
    coordinator calls it under its own lock, except `list_folder`, which only reads the disk."""

    def __init__(self, layout: Layout, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.layout = layout
        self._order: list[tuple[str, str]] = []  # sorted (created_at, task id)
        self._keys: dict[str, tuple[str, str]] = {}  # task id → its entry in _order
        self._created: dict[str, str] = {}  # task id → created_at (never changes)
        self._seq = 0  # counts changes, so a rescan can tell which ones happened while it listed
        self._added_at: dict[str, int] = {}  # task id → change number of its latest addition
        self._removed_at: dict[str, int] = {}  # task id → change number of its latest removal
        self._rescan = Rescan(RESCAN_SECONDS, monotonic=monotonic)
        self._built = False  # a full listing has been merged

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[str]:
        """Oldest first, without copying the index (a claim with 100,000 tasks queued looks
        at the first few): each step finds the entry after the last one yielded, so the
        caller may add and remove while iterating."""
        last: tuple[str, str] | None = None
        while True:
            index = 0 if last is None else bisect.bisect_right(self._order, last)
            if index >= len(self._order):
                return
            last = self._order[index]
            yield last[1]

    @property
    def built(self) -> bool:
        return self._built

    def rescan_due(self) -> bool:
        return self._rescan.due()

    def add(self, task_ids: Iterable[str]) -> None:
        """Tasks that are in tasks/ now (created by the planner, released, expired)."""
        for task_id in task_ids:
            self._seq += 1
            self._added_at[task_id] = self._seq
            if task_id in self._keys:
                continue
            key = (self.created_at(task_id), task_id)
            bisect.insort(self._order, key)
            self._keys[task_id] = key

    def discard(self, task_id: str) -> None:
        """A task that has left tasks/ (claimed, or found missing)."""
        self._seq += 1
        self._removed_at[task_id] = self._seq
        key = self._keys.pop(task_id, None)
        if key is None:
            return
        index = bisect.bisect_left(self._order, key)
        if index < len(self._order) and self._order[index] == key:
            del self._order[index]

    def created_at(self, task_id: str) -> str:
        """The task's metadata created_at ("" when unreadable, which sorts it first)."""
        created = self._created.get(task_id)
        if created is None:
            created = self._created[task_id] = _created_at(self.layout.task_dir(task_id, TaskState.QUEUED))
        return created

    # -- full listings -----------------------------------------------------------
    def begin_rescan(self) -> int:
        """Mark the start of a listing; pass the result to `merge`."""
        self._rescan.begin()
        return self._seq

    def list_folder(self) -> list[str]:
        """The task ids in tasks/ now, reading each new task's created_at. Touches no index
        state other than the created_at cache, so it may run outside the coordinator's lock."""
        ids = list_task_ids(self.layout.state_dir(TaskState.QUEUED))
        for task_id in ids:
            if task_id not in self._created:
                self._created[task_id] = _created_at(self.layout.task_dir(task_id, TaskState.QUEUED))
        return ids

    def merge(self, listed: list[str], since: int) -> tuple[int, int]:
        """Make the index match a listing begun at change `since`, keeping every change
        made after it began (a claim or requeue that happened while the folder was listed).
        Returns how many ids were added and dropped."""
        present = set(listed)
        dropped = [t for t in self._keys if t not in present and self._added_at.get(t, 0) <= since]
        for task_id in dropped:
            self.discard(task_id)
        new = [t for t in listed if t not in self._keys and self._removed_at.get(t, 0) <= since]
        self.add(new)
        self._added_at = {t: n for t, n in self._added_at.items() if n > since and t in self._keys}
        self._removed_at = {t: n for t, n in self._removed_at.items() if n > since}
        self._rescan.done()
        self._built = True
        return len(new), len(dropped)

    def rescan(self) -> tuple[int, int]:
        """List tasks/ and merge in one go (the caller holds the coordinator's lock)."""
        since = self.begin_rescan()
        return self.merge(self.list_folder(), since)


def _created_at(task_dir: Path) -> str:
    """The task's place in the queue: narrate tasks first (each one unblocks a chapter's
    renders), then by metadata created_at ("" when unreadable, which sorts it first)."""
    meta = taskmeta.read_raw(task_dir) or {}
    kind = taskmeta.kind_of(meta)
    rank = NARRATE_RANK if kind == taskmeta.TaskKind.NARRATE else RENDER_RANK
    key = rank + str(meta.get("created_at") or "")
    if kind == taskmeta.TaskKind.SEGMENT:  # right after its render task, which shares its created_at
        part = meta.get("segment")
        index = part.get("index") if isinstance(part, dict) else None
        key += f"/{index:04d}" if isinstance(index, int) else "/"
    return key


# Prefixes of the queue's sort key (see _created_at).
NARRATE_RANK, RENDER_RANK = "0", "1"
