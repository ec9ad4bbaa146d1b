"""Half-written files are never taken; temp names are ignored; events trigger ingest."""

from __future__ import annotations

import os
import threading
import time

from ingest_helpers import files_under

from storyreel.ingest import Ingestor
from storyreel.mainworker import MainWorker
from storyreel.media.probe import probe
from storyreel.project import Project

# Generous bound for the watcher test; the pass itself takes well under a second.
WAIT_LIMIT = 60.0


def _reopen(project: Project, **ingest: float) -> Project:
    cfg = project.layout.config_file
    text = cfg.read_text()
    for key, value in ingest.items():
        text = "\n".join(
            f"{key} = {value!r}" if line.startswith(f"{key} = ") else line for line in text.splitlines()
        ) + "\n"
    cfg.write_text(text)
    return Project.open(project.layout.root)


def test_file_still_being_written_is_not_taken_until_stable(project, media):
    project = _reopen(project, stable_seconds=0.3)
    data = media.clip(seconds=2.0).read_bytes()
    path = project.layout.raw / "video/action/growing.mp4"
    path.parent.mkdir(parents=True)
    chunks = [data[i:i + len(data) // 6 + 1] for i in range(0, len(data), len(data) // 6 + 1)]
    wrote, go_on = threading.Semaphore(0), threading.Semaphore(0)

    def writer() -> None:
        with open(path, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
                wrote.release()
                go_on.acquire()

    ingestor = Ingestor(project)
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in chunks:
            assert wrote.acquire(timeout=30)
            ingestor.run_pass()  # sees a size it has not seen before: too early
            assert path.is_file()
            assert ingestor.pending()
            assert files_under(project.layout.scanned) == []
            assert files_under(project.layout.trash) == []
            go_on.release()
        thread.join()
        while ingestor.pending():
            ingestor.run_pass()
            time.sleep(0.05)
    finally:
        ingestor.close()
    dst = project.layout.scanned / "video/action/mp4_w160_h90/2.0_growing.mp4"
    assert dst.read_bytes() == data
    assert probe(dst).duration > 1.9


def test_hidden_and_temporary_names_are_left_alone(project, media):
    clip = media.clip(seconds=1.0)
    names = ["a.mp4.part", "b.mp4.crdownload", "c.mp4.tmp", ".d.mp4", "e.mp4~"]
    for name in names:
        media.copy(clip, project.layout.raw / "video/action" / name)
    media.copy(clip, project.layout.raw / "video/.sync/f.mp4")
    MainWorker(project).run_once()
    left = sorted(p.name for p in files_under(project.layout.raw))
    assert left == sorted([*names, "f.mp4"])
    assert files_under(project.layout.trash) == []


def test_watcher_reacts_to_an_upload_renamed_into_place(project, media):
    project = _reopen(project, rescan_seconds=3600.0)  # only events can find the file
    worker = MainWorker(project)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(stop,))
    thread.start()
    try:
        time.sleep(0.5)  # let the first walk of the empty raw/ happen
        part = project.layout.raw / "video/action/up.mp4.part"
        media.copy(media.clip(seconds=1.0), part)
        part.rename(part.with_name("up.mp4"))
        dst = project.layout.scanned / "video/action/mp4_w160_h90/1.0_up.mp4"
        deadline = time.monotonic() + WAIT_LIMIT
        while not dst.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join()
    assert dst.is_file()


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_stability_window_restarts_whenever_size_or_mtime_changes(tmp_path):
    from storyreel.ingest.watch import Signature, StabilityTracker

    clock = _Clock()
    tracker = StabilityTracker(3.0, clock)
    path = tmp_path / "a.mp4"
    assert not tracker.is_stable(path, Signature(10, 1))
    clock.now += 2.9
    assert not tracker.is_stable(path, Signature(10, 1))
    clock.now += 0.2
    assert not tracker.is_stable(path, Signature(20, 1))  # grew: the window starts again
    clock.now += 2.0
    assert not tracker.is_stable(path, Signature(20, 2))  # touched: again
    clock.now += 3.0
    assert tracker.is_stable(path, Signature(20, 2))
    assert tracker.waiting() == [path]
    tracker.forget(path)
    assert tracker.waiting() == []
