"""raw/ → scanned/: one module per asset kind; `Ingestor` runs them."""

from __future__ import annotations

from storyreel.project import Project


class Ingestor:
    """Files every stable file under raw/ into scanned/ or trash/invalid/."""

    def __init__(self, project: Project) -> None:
        self.project = project

    def run_pass(self) -> int:
        """One look over raw/: ingest what is stable. Returns how many files were handled."""
        return 0

    def pending(self) -> bool:
        """True while raw/ holds files that are not yet stable or are still being processed."""
        return False

    def close(self) -> None:
        """Stop background work (watcher, crawl threads)."""
