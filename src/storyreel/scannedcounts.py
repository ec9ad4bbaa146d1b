"""How many files scanned/ holds of each kind, as the farm state shows them.

Counting scanned/story/ lists every story and voice folder (20,000 listings at 10,000
chapters), so the main worker keeps the counts instead: ingest tells them of each file it
files or takes out, and they are listed in full again only at the rescan interval
(`[plan] rescan_seconds`, paced by rescans.py) to notice what an operator moved by hand.
That listing runs on a thread of its own, so the dashboard request that finds it due is
answered from the kept counts at once. A process that files nothing (`status`, a
dashboard with no main worker) is told nothing and lists in full every time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from storyreel.layout import AssetKind, Layout, is_ignored_name
from storyreel.queues import count_files
from storyreel.rescans import Rescan


class ScannedCounts:
    """Files per kind under scanned/ ("scanned/story" → n), kept once `keep` was called. What
    an operator moves there by hand shows within `seconds` (`[plan] rescan_seconds`), or
    less often when one full count costs more than rescans.LISTING_SHARE of a core."""

    def __init__(self, layout: Layout, *, seconds: float,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.layout = layout
        self._lock = threading.Lock()
        self._rescan = Rescan(seconds, monotonic=monotonic)
        self._kept = False  # told of every change from now on (the main worker files)
        self._counts: dict[str, int] | None = None  # None: never counted in full
        self._changes = 0  # changes told so far, so a count can tell whether one came in meanwhile
        self._counting = False  # a full count runs on its own thread

    def keep(self) -> None:
        """This process files into scanned/ and tells each change: keep the counts."""
        with self._lock:
            self._kept = True

    def counts(self) -> dict[str, int]:
        """The counts now: the kept ones (a full count begins beside them when one is due),
        else a full count."""
        with self._lock:
            if self._counts is not None and self._kept:
                if self._rescan.due() and not self._counting:
                    self._counting = True
                    threading.Thread(target=self._count, name="scanned-count", daemon=True).start()
                return dict(self._counts)
        return self._count()

    def _count(self) -> dict[str, int]:
        """List scanned/ in full. While kept, a listing that a told change overlapped is not
        taken (it may have missed the change; the kept counts have it)."""
        with self._lock:
            began = self._changes
        self._rescan.begin()
        listed = {_key(kind): count_files(self.layout.scanned / kind) for kind in AssetKind}
        with self._lock:
            self._rescan.done()
            self._counting = False
            if not self._kept or self._counts is None or self._changes == began:
                self._counts = listed
            return dict(listed if not self._kept else self._counts)

    def filed(self, path: Path) -> None:
        """A file now stands at `path` (counted when it is under scanned/)."""
        self._tell(path, 1)

    def taken(self, path: Path) -> None:
        """The file at `path` left it."""
        self._tell(path, -1)

    def _tell(self, path: Path, step: int) -> None:
        key = self._key_of(path)
        if key is None:
            return
        with self._lock:
            self._changes += 1
            if self._counts is not None:
                self._counts[key] = max(0, self._counts.get(key, 0) + step)

    def _key_of(self, path: Path) -> str | None:
        """"scanned/<kind>" for a counted file under scanned/, else None."""
        if is_ignored_name(path.name):
            return None
        try:
            kind = Path(path).relative_to(self.layout.scanned).parts[0]
        except (ValueError, IndexError):
            return None
        return _key(kind) if kind in set(AssetKind) else None


def _key(kind: str) -> str:
    return f"scanned/{kind}"
