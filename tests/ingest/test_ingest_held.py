"""What stays in raw/ without new input, as the ingestor reports it: files in their pause
after an error (with that error and the time to their next try), and story links."""

from __future__ import annotations

from ingest_helpers import drop

from storyreel.ingest import Ingestor
from storyreel.ingest.holds import RETRY_SECONDS, HeldFile


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_held_file_is_reported_with_its_error_until_its_pause_ends(project, media):
    (project.layout.scanned / "video/action").write_text("not a folder\n")
    raw = drop(project, "video/action/a.mp4", media.clip(seconds=1.0))
    clock = _Clock()
    ingestor = Ingestor(project, clock=clock)
    try:
        ingestor.run_pass()
        while ingestor.pending():
            ingestor.run_pass()
        (held,) = ingestor.held()
        assert held.path == raw and held.retry_in == RETRY_SECONDS
        assert held.reason.startswith("cannot move ") and held.reason.endswith("Not a directory")
        clock.now += RETRY_SECONDS
        assert ingestor.held() == []  # its pause is over: the next look tries it again
    finally:
        ingestor.close()


def test_a_story_link_left_in_raw_is_reported_once_nothing_crawls(project, monkeypatch):
    import storyreel.ingest as ingest

    monkeypatch.setattr(ingest, "open_link_processor", lambda _project: None)
    link = project.layout.raw / "story/fantasy/dragon/link/source.txt"
    link.parent.mkdir(parents=True)
    link.write_text("https://example.org/story\n")
    ingestor = Ingestor(project)
    try:
        ingestor.run_pass()
        assert not ingestor.pending()
        assert ingestor.held() == [HeldFile(link, "the story-link crawler is not available (see the log)", None)]
    finally:
        ingestor.close()
