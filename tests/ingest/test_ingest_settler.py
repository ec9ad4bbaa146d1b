"""While raw/ is watched, a file is taken the moment its window ends: no pass of the loop
is needed, and a file still being written is never taken early."""

from __future__ import annotations

import os
import threading
import time

from ingest_helpers import files_under
from test_ingest_stability import _Clock, _reopen

from storyreel.ingest import Ingestor
from storyreel.ingest.settle import Settler
from storyreel.ingest.watch import Signature, StabilityTracker
from storyreel.logs import Event, read_events

# Generous bound for a check on a busy machine; not a speed figure (bench/ingest_bench.py).
WAIT_LIMIT = 60.0


def _wait_for(predicate) -> bool:
    deadline = time.monotonic() + WAIT_LIMIT
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)
    return predicate()


def test_a_watched_file_is_taken_when_its_window_ends_without_any_pass(project, media):
    project = _reopen(project, stable_seconds=0.5, rescan_seconds=3600.0)
    ingestor = Ingestor(project)
    ingestor.run_pass()  # the first walk, of an empty raw/
    ingestor.watch()
    try:
        part = project.layout.raw / "video/action/up.mp4.part"
        media.copy(media.clip(seconds=1.0), part)
        part.rename(part.with_name("up.mp4"))
        dst = project.layout.scanned / "video/action/mp4_w160_h90/1.0_up.mp4"
        assert _wait_for(dst.exists), files_under(project.layout.root)
        handled = ingestor.run_pass()  # the loop learns of it (and plans) at its next pass
        deadline = time.monotonic() + WAIT_LIMIT
        while ingestor.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
            handled += ingestor.run_pass()
        assert handled == 1
    finally:
        ingestor.close()


def test_the_settler_never_takes_a_file_still_being_written(project, media):
    project = _reopen(project, stable_seconds=1.0, rescan_seconds=3600.0)
    data = media.clip(seconds=2.0).read_bytes()
    path = project.layout.raw / "video/action/slow.mp4"
    path.parent.mkdir(parents=True)
    ingestor = Ingestor(project)
    ingestor.run_pass()
    ingestor.watch()
    step = len(data) // 8 + 1
    try:
        with open(path, "wb") as fh:  # eight pieces, each well inside the window
            for at in range(0, len(data), step):
                fh.write(data[at:at + step])
                fh.flush()
                os.fsync(fh.fileno())
                time.sleep(0.1)
                assert files_under(project.layout.scanned) == [] and files_under(project.layout.trash) == []
        dst = project.layout.scanned / "video/action/mp4_w160_h90/2.0_slow.mp4"
        assert _wait_for(dst.exists), files_under(project.layout.root)
    finally:
        ingestor.close()
    assert dst.read_bytes() == data
    events = [e["event"] for e in read_events(project.layout.events_file)]
    assert events == [Event.INGESTED]


def test_the_tracker_says_when_the_earliest_window_ends_and_which_are_due(tmp_path):
    clock = _Clock()
    tracker = StabilityTracker(3.0, clock)
    assert tracker.next_due() is None and tracker.due() == []
    tracker.is_stable(tmp_path / "a", Signature(1, 1))
    clock.now += 1.0
    tracker.is_stable(tmp_path / "b", Signature(1, 1))
    assert tracker.next_due() == 103.0
    clock.now += 2.0
    assert tracker.due() == [tmp_path / "a"]
    tracker.is_stable(tmp_path / "a", Signature(2, 1))  # changed: its window starts again
    assert tracker.next_due() == 104.0 and tracker.due() == []


def test_the_settler_looks_once_the_window_has_ended_not_before():
    taken = []
    woke = threading.Event()
    expected = time.monotonic() + 0.3
    due: list[float | None] = [expected]

    def take() -> None:
        taken.append(time.monotonic())
        due[0] = None
        woke.set()

    settler = Settler(lambda: due[0], take)
    settler.start()
    try:
        assert woke.wait(WAIT_LIMIT)
    finally:
        settler.stop()
    assert taken[0] >= expected and settler.failure is None


def test_an_error_in_the_settler_reaches_the_loop():
    def take() -> None:
        raise RuntimeError("boom")

    settler = Settler(lambda: 0.0, take)
    settler.start()
    try:
        assert _wait_for(lambda: settler.failure is not None)
    finally:
        settler.stop()
    assert str(settler.failure) == "boom"
