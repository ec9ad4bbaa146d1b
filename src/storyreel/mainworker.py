"""The main worker: the only writer of the project root. Ingest, plan, coordinate."""

from __future__ import annotations

import threading

from storyreel import fsops, lifecycle
from storyreel.coordinator import Coordinator, CoordinatorServer
from storyreel.diskspace import DiskWatcher
from storyreel.ingest import Ingestor
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.media.tools import ffmpeg, ffprobe
from storyreel.plan import Planner
from storyreel.project import Project

log = get_logger(MAIN_WORKER)


class MainWorker:
    def __init__(self, project: Project, *, listen: str | None = None) -> None:
        """`listen` (HOST:PORT) serves render nodes from this worker; None serves none."""
        self.project = project
        self.listen = listen
        self.farm: CoordinatorServer | None = None
        self.disk = DiskWatcher.for_project(project)  # one watcher, so each crossing is logged once
        self.ingestor = Ingestor(project)
        self.planner = Planner(project, disk=self.disk)

    def start(self) -> None:
        """Finish what a killed predecessor left half-done, then start watching."""
        ffmpeg(), ffprobe()  # a missing tool stops us here with an install hint
        if self.listen is not None:
            self.farm = CoordinatorServer(Coordinator(self.project, disk=self.disk), self.listen)
            self.farm.lock_root()
        fsops.Journal(self.project.layout).recover()
        fsops.sweep(self.project.layout)
        log.info("Main worker started on %s", self.project.layout.root)
        if self.farm is not None:
            lifecycle.tidy(self.project.layout)
            self.farm.start()

    def stop_serving(self) -> None:
        if self.farm is not None:
            self.farm.stop()
            self.farm = None

    def cycle(self) -> bool:
        """One pass of every stage; True when anything moved."""
        self.disk.warn_if_low()
        if self.farm is not None:
            self.farm.coordinator.reap()
        handled = self.ingestor.run_pass()
        created = self.planner.plan_pending()
        if self.farm is not None:
            self.farm.coordinator.note_queued(created)
        return bool(handled or created)

    def run_once(self) -> None:
        """Process what is in raw/ now (waiting for files to become stable), then return."""
        self.start()
        try:
            while True:
                self.cycle()
                if not self.ingestor.pending():
                    break
                threading.Event().wait(0.2)
            self.cycle()
        finally:
            self.ingestor.close()

    def run_forever(self, stop: threading.Event) -> None:
        """Watch and work until `stop` is set."""
        self.start()
        self.ingestor.watch()
        try:
            while not stop.is_set():
                self.cycle()
                stop.wait(0.5)
        finally:
            self.stop_serving()
            self.ingestor.close()
