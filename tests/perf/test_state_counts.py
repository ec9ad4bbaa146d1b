"""The farm state a running main worker serves counts scanned/ from what it filed and tasks/
from its coordinator's queue, with the same content as a state built from the folders; a
file an operator moves into scanned/ by hand shows at the next full count."""

from __future__ import annotations

import shutil
import threading
import time

import httpx

from storyreel.farmstate import FarmState, build_state
from storyreel.layout import AssetKind
from storyreel.mainworker import MainWorker
from storyreel.netaddr import Listen
from storyreel.project import Project
from storyreel.scannedcounts import ScannedCounts


def _clock(now: list[float]):
    """A monotonic clock the test moves on: `now[0]`."""
    return lambda: now[0]


def _drop(project: Project, media) -> None:
    """Three chapters, a clip and a music file in raw/, as an operator drops them."""
    raw = project.layout.raw
    for story in ("dragon", "wyvern", "griffin"):
        media.copy(media.speech(), raw / "story" / "fantasy" / story / "voice" / "chapter_0001.mp3")
    media.copy(media.clip(seconds=1.0), raw / "video" / "fantasy" / "c1.mp4")
    media.copy(media.tone(seconds=6.0), raw / "music" / "fantasy" / "m1.mp3")


def _served(worker: MainWorker, window: float) -> FarmState:
    """The state the dashboard shows, over HTTP (each `window` is its own cache entry)."""
    response = httpx.get(f"{worker.url}/dashboard/api/state", params={"window": window},
                         headers={"Authorization": f"Bearer {worker.project.token}"}, timeout=30)
    assert response.status_code == 200
    return FarmState.model_validate_json(response.content)


def _same_content(served: FarmState, built: FarmState) -> None:
    assert served.queues == built.queues
    assert served.tasks == built.tasks
    assert served.names == built.names
    assert served.waiting == built.waiting


def test_the_served_state_keeps_its_counts_and_recounts_at_the_interval(project: Project, media) -> None:
    project.settings.ingest.stable_seconds = 0.0
    now = [1000.0]
    project.__dict__["scanned_counts"] = ScannedCounts(project.layout, seconds=30.0, monotonic=_clock(now))
    _drop(project, media)
    worker = MainWorker(project, listen=Listen("127.0.0.1", 0))
    with worker.running(watch=False):
        worker.loop(threading.Event(), until=lambda _changed: not worker.ingestor.pending(), every=0.2)
        worker.cycle()
        served = _served(worker, 100.0)
        fresh = Project.open(project.layout.root)  # a process beside the worker: it lists the folders
        _same_content(served, build_state(fresh))
        assert (served.queues.scanned_story, served.queues.scanned_video, served.queues.scanned_music) == (3, 1, 1)
        assert served.queues.tasks == 3 and [t.name.story for t in served.tasks] != []

        # An operator files a clip by hand: the kept count has not seen it yet, a listing has.
        clip = next((project.layout.scanned / AssetKind.VIDEO).rglob("*.mp4"))
        shutil.copyfile(clip, clip.with_name("9.000_byhand.mp4"))
        assert _served(worker, 101.0).queues.scanned_video == 1
        assert build_state(fresh).queues.scanned_video == 2

        now[0] += 31.0  # the full count is due: it runs beside the request that finds it due
        deadline = time.monotonic() + 20
        window = 102.0
        while _served(worker, window).queues.scanned_video != 2:
            assert time.monotonic() < deadline, "the full count never came in"
            window += 1.0
            time.sleep(0.05)
        _same_content(_served(worker, window + 1.0), build_state(fresh))


def test_counts_follow_what_they_are_told_and_ignore_what_is_not_counted(project: Project, media) -> None:
    layout = project.layout
    counts = ScannedCounts(layout, seconds=30.0, monotonic=_clock([1000.0]))
    counts.keep()
    assert counts.counts()["scanned/story"] == 0
    voice = media.copy(media.speech(), layout.scanned_voice("fantasy", "dragon", "chapter_0001.mp3"))
    counts.filed(voice)
    hidden = media.copy(media.speech(), voice.with_name(".chapter_0001.mp3.json"))
    counts.filed(hidden)  # a hidden record beside it: a listing does not count it either
    counts.filed(layout.raw / "story" / "fantasy" / "dragon" / "voice" / "chapter_0002.mp3")  # not in scanned/
    assert counts.counts() == {f"scanned/{kind}": n for kind, n in
                               (("story", 1), ("video", 0), ("frame", 0), ("music", 0))}
    assert counts.counts() == ScannedCounts(layout, seconds=30.0).counts()  # what a full count finds
    voice.unlink()
    counts.taken(voice)
    assert counts.counts()["scanned/story"] == 0 == ScannedCounts(layout, seconds=30.0).counts()["scanned/story"]


def test_a_process_that_files_nothing_counts_in_full_every_time(project: Project, media) -> None:
    counts = ScannedCounts(project.layout, seconds=30.0, monotonic=_clock([1000.0]))
    assert counts.counts()["scanned/music"] == 0
    media.copy(media.tone(seconds=6.0), project.layout.scanned_music("fantasy", 6.0, "m1"))
    assert counts.counts()["scanned/music"] == 1  # not kept: nobody tells it, so it lists
