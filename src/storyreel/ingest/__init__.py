"""raw/ → scanned/: one module per asset kind; `Ingestor` runs them.

A pass reads like the SPEC: notice files in raw/, wait until each is completely
written, classify it by place and name, validate it by content (in worker
threads), and file it into scanned/ or reject it into trash/invalid/. While raw/ is
watched, a file is also noticed the moment an event names it and taken the moment its
window ends, between passes (ingest.settle).

No error while handling one file stops the pass: an unexpected one sends that file
to trash/invalid/ with the error as its reason, or, when even that fails, leaves it
in raw/ for a pause that grows with each failure (ingest.holds); one ERROR line
names the file either way. Only a missing ffmpeg/ffprobe stops the main worker.
"""

from __future__ import annotations

import functools
import os
import queue
import stat
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from storyreel.errors import SourceChanged, StoryreelError, ToolMissingError, Unacceptable
from storyreel.ingest.filing import reject, rel
from storyreel.ingest.holds import UNSEEN, HeldFile, Holds
from storyreel.ingest.music import ingest_music
from storyreel.ingest.pending import Pending
from storyreel.ingest.settle import Settler
from storyreel.ingest.video import ingest_clip
from storyreel.ingest.voice import ingest_voice
from storyreel.ingest.watch import (
    RawWatcher,
    Signature,
    StabilityTracker,
    signature,
    visible,
    walk_raw,
)
from storyreel.layout import RawAsset, RawRejection, RawRole
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.project import Project

log = get_logger(MAIN_WORKER)

Stage = Callable[[Project, RawAsset, Signature], Path]

STAGES: dict[RawRole, Stage] = {
    RawRole.VIDEO: ingest_clip,
    RawRole.FRAME: ingest_clip,
    RawRole.MUSIC: ingest_music,
    RawRole.VOICE: ingest_voice,
}


class LinkSink(Protocol):
    """The story-link crawler (storyreel.ingest.story.LinkProcessor)."""

    def submit(self, asset: RawAsset) -> None: ...
    def busy(self) -> bool: ...
    def take_finished(self) -> int: ...
    def crawling(self) -> list[Path]: ...
    def close(self) -> None: ...


class Outcome(StrEnum):
    DONE = "done"  # filed into scanned/ or rejected into trash/invalid/
    CHANGED = "changed"  # the file changed while being checked; wait for it to settle again
    HELD = "held"  # an error left it in raw/; retried later (ingest.holds)


@dataclass(frozen=True)
class Checked:
    """How the check of one file ended; `reason` says why a HELD file stays in raw/."""

    outcome: Outcome
    reason: str = ""


def open_link_processor(project: Project) -> LinkSink | None:
    """The crawler when it is installed; otherwise story links simply wait in raw/."""
    try:
        from storyreel.ingest.story import LinkProcessor
    except ImportError as exc:
        if exc.name not in ("storyreel.crawl", "storyreel.ingest.story"):
            log.error("Story links stay in raw/: the crawler cannot load: %s", exc)
        else:
            log.info("Story links stay in raw/: no crawler installed")
        return None
    return LinkProcessor(project)


class Ingestor:
    """Files every stable file under raw/ into scanned/ or trash/invalid/."""

    def __init__(self, project: Project, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.project = project
        self.raw = project.layout.raw
        self.settings = project.settings.ingest
        self.clock = clock
        self.tracker = StabilityTracker(self.settings.stable_seconds, clock)
        self.pool = ThreadPoolExecutor(max_workers=self.settings.workers, thread_name_prefix="ingest")
        self.in_flight: dict[Path, Future[Checked]] = {}
        self.holds = Holds(clock)
        # The crawler (and trafilatura with it) is loaded when the first story link shows up.
        self.links: LinkSink | None = None
        self._crawler_opened = False
        self.links_seen: dict[Path, Signature] = {}  # handed to the crawler, or parked without one
        self.watcher: RawWatcher | None = None
        self.settler: Settler | None = None  # takes files between passes while raw/ is watched
        self._lock = threading.RLock()  # the state above, shared by the loop and the settler
        self._between = 0  # files the settler handled since the last pass
        self._walk_every_pass = True  # until events are watched, every pass walks raw/
        # Chapters whose synthesized voice an operator's just replaced, for the main worker
        # to plan again (filled by the checking threads).
        self._superseded: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.stages: dict[RawRole, Stage] = {
            **STAGES, RawRole.VOICE: functools.partial(ingest_voice, superseded=self._superseded.put)}
        self._next_walk = 0.0

    # -- the pass ----------------------------------------------------------
    def watch(self) -> None:
        """React to filesystem events between the periodic walks of raw/, and take each file
        the moment its window ends."""
        self._walk_every_pass = False
        self.settler = Settler(self._next_due, self._take_due, self.clock)
        watcher = RawWatcher(self.raw, on_change=self.settler.poke)
        if watcher.start():
            self.watcher = watcher
        self.settler.start()

    def run_pass(self) -> int:
        """One look over raw/: ingest what is stable. Returns how many files were handled
        (with those the settler took since the last pass)."""
        if self.settler is not None and self.settler.failure is not None:
            raise self.settler.failure
        with self._lock:
            handled = self._collect_finished() + self._between
            self._between = 0
            if self.links is not None:
                handled += self.links.take_finished()  # crawled links filed their chunks
            for path in self._candidates():
                handled += self._guarded(path)
        return handled

    def take_superseded(self) -> list[str]:
        """The chapters whose synthesized voice an operator's replaced since the last call."""
        found = []
        while not self._superseded.empty():
            found.append(self._superseded.get_nowait())
        return found

    def pending(self) -> bool:
        """True while raw/ holds files that are not yet stable or are still being processed."""
        with self._lock:
            settling = bool(self.in_flight or self.tracker.waiting())
        return settling or (self.links is not None and self.links.busy())

    def pending_files(self) -> Pending:
        """The files `pending` is about, by category: settling, being checked, being crawled."""
        with self._lock:
            paths = [*self.tracker.waiting(), *self.in_flight]
        if self.links is not None:
            paths += self.links.crawling()
        return Pending.of(self.raw, paths)

    def held(self) -> list[HeldFile]:
        """Files that stay in raw/ without new input: those in the pause after an error, and
        story links the crawler left there (or that wait for a crawler to be installed)."""
        with self._lock:
            held = self.holds.held()
            seen = sorted(self.links_seen)
        if self.links is None:
            parked = "the story-link crawler is not available (see the log)"
        elif self.links.busy():
            return held  # a link is still being crawled: none is known to be left over yet
        else:
            parked = "its crawl filed nothing (see the log); it is crawled again once it changes"
        held += [HeldFile(path, parked, None) for path in seen if os.path.lexists(path)]
        return held

    def walk_next_pass(self) -> None:
        """Make the next pass walk all of raw/, so it also sees files no event named."""
        self._next_walk = float("-inf")

    def close(self) -> None:
        """Finish the files being checked, drop queued ones, stop watching and crawling."""
        if self.settler is not None:
            self.settler.stop()
            self.settler = None
        if self.watcher is not None:
            self.watcher.stop()
            self.watcher = None
        self.pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._collect_finished()
        if self.links is not None:
            self.links.close()

    # -- between passes (the settler's thread) ---------------------------------
    def _next_due(self) -> float | None:
        with self._lock:
            return self.tracker.next_due()

    def _take_due(self) -> None:
        """Look at what events named and at every file whose window has ended."""
        with self._lock:
            changed: set[Path] = set()
            if self.watcher is not None:
                changed, overflow = self.watcher.drain()
                if overflow:
                    self.walk_next_pass()  # too many to list: the next pass walks raw/
            for path in sorted({*self.tracker.due(), *self._named(changed)}):
                self._between += self._guarded(path)

    # -- stages ------------------------------------------------------------
    def _named(self, changed: set[Path]) -> set[Path]:
        """The files under the paths events named (a folder stands for what it holds)."""
        paths: set[Path] = set()
        for path in changed:
            if os.path.isdir(path) and not os.path.islink(path) and visible(self.raw, path):
                paths.update(walk_raw(path))
            elif visible(self.raw, path):
                paths.add(path)
        return paths

    def _candidates(self) -> list[Path]:
        """Paths worth a look: everything on a walk, else what events named and what is settling."""
        now = self.clock()
        changed: set[Path] = set()
        overflow = self._walk_every_pass
        if self.watcher is not None:
            changed, overflow = self.watcher.drain()
        if overflow or now >= self._next_walk:
            self._next_walk = now + self.settings.rescan_seconds
            found = list(walk_raw(self.raw))
            present = set(found)
            self.tracker.keep_only(present)
            self.holds.keep_only(present)
            for path in [p for p in self.links_seen if p not in present]:
                del self.links_seen[path]
            return found
        return sorted({*self.tracker.waiting(), *self._named(changed)})

    def _guarded(self, path: Path) -> int:
        """The per-file fault barrier around `_consider`: whatever goes wrong, the pass goes on."""
        if self.holds.waiting(path, UNSEEN):
            return 0
        try:
            return self._consider(path)
        except ToolMissingError:
            raise
        except Exception as exc:
            self.tracker.forget(path)
            if self._rescue(path, exc):
                return 1
            self._hold(path, f"{type(exc).__name__}: {exc}")
            return 0

    def _rescue(self, path: Path, exc: Exception) -> bool:
        """After an unexpected error, move the file to trash/invalid/ with the error as its
        reason. One ERROR line names the file either way; False when it stays in raw/."""
        name, what = rel(self.project, path), f"{type(exc).__name__}: {exc}"
        try:
            reject(self.project, path, f"storyreel could not handle this file ({what})")
        except Exception as again:
            log.error("Left %s in raw/ after an unexpected error (%s); moving it to trash/invalid/ "
                      "failed too: %s", name, what, again)
            return False
        log.error("Moved %s to trash/invalid/ after an unexpected error: %s", name, what)
        return True

    def _hold(self, path: Path, reason: str) -> None:
        """Leave a file that could not be handled in raw/ for a growing pause."""
        try:
            sig = Signature.of(os.lstat(path))
        except FileNotFoundError:
            return
        except OSError:
            sig = UNSEEN
        self.holds.hold(path, sig, reason)

    def _consider(self, path: Path) -> int:
        """Take one file if it is completely written; returns 1 if it was handled right here."""
        if path in self.in_flight:
            return 0
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            self.tracker.forget(path)
            return 0
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
            self.tracker.forget(path)
            what = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
            return self._reject_now(path, Signature.of(st), f"{what}: only regular files are accepted")
        sig = Signature.of(st)
        if self.holds.waiting(path, sig):
            return 0
        if self.links_seen.get(path) == sig:
            return 0
        if not self.tracker.is_stable(path, sig):
            return 0
        self.tracker.forget(path)
        found = self.project.layout.classify_raw(path)
        if isinstance(found, RawRejection):
            return self._reject_now(path, sig, found.reason)
        if found.role is RawRole.LINK:
            self.links_seen[path] = sig
            if not self._crawler_opened:
                self._crawler_opened = True
                self.links = open_link_processor(self.project)
            if self.links is not None:
                self.links.submit(found)
            return 0
        self.in_flight[path] = self.pool.submit(self._ingest, found, sig)
        return 0

    def _reject_now(self, path: Path, sig: Signature, reason: str) -> int:
        """Reject a file judged by its place or name alone; 1 when it went to the trash."""
        try:
            reject(self.project, path, reason)
        except StoryreelError as exc:
            log.error("Left %s in raw/: %s", rel(self.project, path), exc)
            self.holds.hold(path, sig, str(exc))
            return 0
        self.holds.release(path)
        return 1

    def _ingest(self, asset: RawAsset, sig: Signature) -> Checked:
        """Validate and file one asset (runs in a worker thread)."""
        try:
            try:
                self.stages[asset.role](self.project, asset, sig)
            except Unacceptable as exc:
                if signature(asset.path) != sig:
                    raise SourceChanged(f"{rel(self.project, asset.path)} changed while being checked") from exc
                extra: dict[str, Any] = {"detail": exc.detail} if exc.detail else {}
                reject(self.project, asset.path, exc.reason, **extra)
        except SourceChanged:
            return Checked(Outcome.CHANGED)
        except ToolMissingError:
            raise
        except StoryreelError as exc:
            log.error("Left %s in raw/: %s", rel(self.project, asset.path), exc)
            return Checked(Outcome.HELD, str(exc))
        except Exception as exc:
            if self._rescue(asset.path, exc):
                return Checked(Outcome.DONE)
            return Checked(Outcome.HELD, f"{type(exc).__name__}: {exc}")
        return Checked(Outcome.DONE)

    def _collect_finished(self) -> int:
        """Count finished files; remember held ones; a missing ffmpeg stops the worker."""
        done = 0
        for path, future in list(self.in_flight.items()):
            if not future.done():
                continue
            del self.in_flight[path]
            if future.cancelled():
                continue
            checked = future.result()  # re-raises ToolMissingError in the main thread
            outcome = checked.outcome
            if outcome is Outcome.DONE:
                done += 1
                self.holds.release(path)
            elif outcome is Outcome.CHANGED and (sig := signature(path)) is not None:
                self.tracker.is_stable(path, sig)  # wait for it to settle again
            elif outcome is Outcome.HELD:
                self._hold(path, checked.reason)
        return done
