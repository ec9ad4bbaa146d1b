"""Noticing files in raw/: a walk of the tree, filesystem events, and a stability check.

A file is taken only once its size and mtime have stayed the same for a window of
time (a copy in progress keeps changing both). Events from watchdog make us look
soon after something changes; a periodic full walk catches what events miss
(network shares deliver none).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from storyreel.layout import is_ignored_name
from storyreel.logs import MAIN_WORKER, get_logger

log = get_logger(MAIN_WORKER)

# More changed paths than this between two passes: walk the whole tree instead.
MAX_EVENT_PATHS = 10_000


@dataclass(frozen=True)
class Signature:
    """What must stay unchanged for a file to count as completely written."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Signature:
        return cls(st.st_size, st.st_mtime_ns)


def signature(path: Path) -> Signature | None:
    """The file's current signature, or None when it is gone."""
    try:
        return Signature.of(os.lstat(path))
    except FileNotFoundError:
        return None


def walk_raw(raw: Path) -> Iterator[Path]:
    """Every file under raw/ that is not hidden or temporary (symlinks included, not followed)."""
    for dirpath, dirnames, filenames in os.walk(raw):
        base = Path(dirpath)
        for name in list(dirnames):
            if is_ignored_name(name):
                dirnames.remove(name)
            elif (base / name).is_symlink():
                yield base / name  # a linked folder: reported so it can be rejected
        for name in filenames:
            if not is_ignored_name(name):
                yield base / name


def visible(raw: Path, path: Path) -> bool:
    """True when no component of `path` under raw/ is hidden or temporary."""
    try:
        parts = path.relative_to(raw).parts
    except ValueError:
        return False
    return bool(parts) and not any(is_ignored_name(p) for p in parts)


@dataclass
class _Seen:
    signature: Signature
    since: float


class StabilityTracker:
    """Remembers when each file last changed; says when one has been still long enough."""

    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.clock = clock
        self._seen: dict[Path, _Seen] = {}

    def is_stable(self, path: Path, sig: Signature) -> bool:
        now = self.clock()
        seen = self._seen.get(path)
        if seen is None or seen.signature != sig:
            self._seen[path] = _Seen(sig, now)
            return self.window <= 0
        return now - seen.since >= self.window

    def forget(self, path: Path) -> None:
        self._seen.pop(path, None)

    def next_due(self) -> float | None:
        """When the earliest window ends (clock time), or None when nothing settles."""
        earliest = min((seen.since for seen in self._seen.values()), default=None)
        return None if earliest is None else earliest + self.window

    def due(self) -> list[Path]:
        """Files whose window has ended since they last changed (to be looked at again)."""
        now = self.clock()
        return [path for path, seen in self._seen.items() if now - seen.since >= self.window]

    def waiting(self) -> list[Path]:
        """Files seen but not yet taken."""
        return list(self._seen)

    def keep_only(self, present: set[Path]) -> None:
        for path in [p for p in self._seen if p not in present]:
            del self._seen[path]


class _Collector(FileSystemEventHandler):
    def __init__(self, watcher: RawWatcher) -> None:
        self.watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        for attr in ("src_path", "dest_path"):
            raw_path = getattr(event, attr, "")
            if raw_path:
                self.watcher.note(Path(os.fsdecode(raw_path)))


class RawWatcher:
    """Collects paths under raw/ that filesystem events say changed."""

    def __init__(self, raw: Path, on_change: Callable[[], None] | None = None) -> None:
        self.raw = raw
        self.on_change = on_change  # told of every event, from the watching thread
        self._lock = threading.Lock()
        self._paths: set[Path] = set()
        self._overflow = False
        self._observer: Observer | None = None

    def start(self) -> bool:
        """Start watching; False (and a WARN line) when the system refuses, e.g. watch limits."""
        observer = Observer()
        observer.schedule(_Collector(self), str(self.raw), recursive=True)
        try:
            observer.start()
        except OSError as exc:
            log.warning("Cannot watch %s for changes (%s); rescanning periodically only", self.raw, exc)
            return False
        self._observer = observer
        return True

    def note(self, path: Path) -> None:
        with self._lock:
            if len(self._paths) >= MAX_EVENT_PATHS:
                self._overflow = True
            else:
                self._paths.add(path)
        if self.on_change is not None:
            self.on_change()

    def drain(self) -> tuple[set[Path], bool]:
        """Paths changed since the last call, and whether too many changed to list."""
        with self._lock:
            paths, overflow = self._paths, self._overflow
            self._paths, self._overflow = set(), False
        return paths, overflow

    def stop(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=5)
            self._observer = None
