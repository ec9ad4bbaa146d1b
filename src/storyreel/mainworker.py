"""The main worker: the only writer of the project root. Ingest, plan, coordinate."""

from __future__ import annotations

import threading

from storyreel import fsops
from storyreel.ingest import Ingestor
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.plan import Planner
from storyreel.project import Project

log = get_logger(MAIN_WORKER)


class MainWorker:
    def __init__(self, project: Project) -> None:
        self.project = project
        self.ingestor = Ingestor(project)
        self.planner = Planner(project)

    def start(self) -> None:
        """Finish what a killed predecessor left half-done, then start watching."""
        fsops.Journal(self.project.layout).recover()
        fsops.sweep(self.project.layout)

    def cycle(self) -> bool:
        """One pass of every stage; True when anything moved."""
        handled = self.ingestor.run_pass()
        created = self.planner.plan_pending()
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
        try:
            while not stop.is_set():
                self.cycle()
                stop.wait(0.5)
        finally:
            self.ingestor.close()
