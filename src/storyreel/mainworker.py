"""The main worker: the only writer of the project root. Ingest, plan, coordinate.

Start-up reads as the rule it keeps: take the root lock, recover what a killed
predecessor left half-done, then work. Constructing a MainWorker touches no file, so a
worker that is refused the lock has read, listed and changed nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from storyreel import fsops, lifecycle
from storyreel.coordinator import Coordinator, CoordinatorServer
from storyreel.diskspace import DiskWatcher
from storyreel.ingest import Ingestor
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.media.tools import ffmpeg, ffprobe
from storyreel.narrateplan import NarrationPlanner
from storyreel.netaddr import Listen
from storyreel.plan import Planner
from storyreel.project import Project
from storyreel.rootlock import RootLock
from storyreel.tls import ServerTLS
from storyreel.waitlist import WaitFile

log = get_logger(MAIN_WORKER)

# Between cycles when nothing is happening (s).
CYCLE_SECONDS = 0.5
# `main --once` looks again this often while files in raw/ settle (s).
ONCE_SECONDS = 0.2


def _recover_links(project: Project) -> None:
    try:
        from storyreel.ingest.story import recover
    except ImportError:
        return  # no crawler installed: it never committed anything (Ingestor says why)
    recover(project)


def recover(project: Project) -> None:
    """The recovery stage, run only under the root lock: the SPEC folders exist, and every
    change a killed main worker left half-done is finished or undone — file moves (the
    journal), temp names, story-link commits, finished tasks still in processing/."""
    layout = project.layout
    for folder in layout.all_dirs():
        folder.mkdir(parents=True, exist_ok=True)
    fsops.Journal(layout).recover()
    fsops.sweep(layout)
    _recover_links(project)
    lifecycle.tidy(layout)


class MainWorker:
    def __init__(self, project: Project, *, listen: Listen | None = None, tls: ServerTLS | None = None) -> None:
        """`listen` serves render nodes from this worker; None serves none. `tls`: over HTTPS."""
        self.project = project
        self.listen = listen
        self.lock = RootLock(project.layout)
        self.disk = DiskWatcher.for_project(project)  # one watcher, so each crossing is logged once
        self.ingestor = Ingestor(project)
        self.planner = Planner(project, disk=self.disk, pending=self.ingestor.pending_files)
        self.narrations = NarrationPlanner(project, self.planner.index, pending=self.ingestor.pending_files)
        self.waitfile = WaitFile(project.layout)  # the planner's waiting chapters, for every view
        self.coordinator: Coordinator | None = None
        self.farm: CoordinatorServer | None = None
        if listen is not None:
            self.coordinator = Coordinator(project, disk=self.disk, on_retry=self.planner.index.forget_reason,
                                           on_filed=self.planner.scanned_changed)
            self.farm = CoordinatorServer(self.coordinator, listen, lock=self.lock, tls=tls)

    @property
    def url(self) -> str:
        """Where render nodes reach this worker ("" while it serves none)."""
        return self.farm.url if self.farm is not None else ""

    # -- start and stop ----------------------------------------------------------
    def start(self) -> None:
        """Take the root lock (RootLocked names the holder), recover, then serve."""
        ffmpeg(), ffprobe()  # a missing tool stops us here with an install hint
        try:
            self.lock.acquire(self.listen)
            recover(self.project)
            self.project.scanned_counts.keep()  # from here on, every file filed is told
            log.info("Main worker started on %s", self.project.layout.root)
            if self.farm is not None:
                self.farm.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop serving, finish the files being checked, then let the root go."""
        try:
            if self.farm is not None:
                self.farm.stop()
            self.ingestor.close()
            if self.lock.held:
                self.waitfile.withdraw()
        finally:
            self.lock.release()

    @contextmanager
    def running(self, *, watch: bool = True) -> Iterator[MainWorker]:
        """Started (and watching raw/ for events) inside the block, stopped after it."""
        self.start()
        try:
            if watch:
                self.ingestor.watch()
            yield self
        finally:
            self.stop()

    # -- the run loop --------------------------------------------------------------
    def cycle(self) -> bool:
        """One pass of every stage; True when anything moved."""
        self.disk.warn_if_low()
        if self.coordinator is not None:
            self.coordinator.reap()
        handled = self.ingestor.run_pass()
        if handled:
            self.planner.scanned_changed()
            self.narrations.scanned_changed()
        for chapter in self.ingestor.take_superseded():
            self._supersede(chapter)
        created = self.planner.plan_pending() + self.narrations.plan_pending()
        self.waitfile.publish(self.planner.waiting + self.narrations.waiting)
        if self.coordinator is not None:
            self.coordinator.note_queued(created)
        return bool(handled or created)

    def _supersede(self, chapter: str) -> None:
        """An operator's voice replaced `chapter`'s synthesized one: its tasks made from the old
        voice give way (queued and held ones to trash/failed/, videos stay in output/) and the
        chapter is planned again."""
        if self.coordinator is not None:
            gone = self.coordinator.control.supersede(chapter)
        else:
            gone = lifecycle.supersede_chapter(self.project.layout, chapter)
        log.info("The voice of %s was replaced by an operator's: %d task(s) made from the narration "
                 "give way and the chapter is planned again", chapter, len(gone))

    def loop(self, stop: threading.Event, *, until: Callable[[bool], bool] | None = None,
             every: float = CYCLE_SECONDS) -> None:
        """Cycle every `every` seconds until `stop` is set or `until(changed)` says done."""
        while not stop.is_set():
            changed = self.cycle()
            if until is not None and until(changed):
                return
            stop.wait(every)

    def run_once(self) -> None:
        """Process what is in raw/ now (waiting for files to become stable), then return."""
        with self.running(watch=False):
            self.loop(threading.Event(), until=lambda _changed: not self.ingestor.pending(), every=ONCE_SECONDS)
            self.cycle()

    def run_forever(self, stop: threading.Event) -> None:
        """Watch and work until `stop` is set."""
        with self.running():
            self.loop(stop)
