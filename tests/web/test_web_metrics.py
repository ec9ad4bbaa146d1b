"""SPEC §10 metrics from a hand-written event log equal the figures worked out by hand.

The farm in the log (times in seconds since 1_000_000_000, now = +1200):

    node A (libx264): registered +1000
        download T1 1000–1010   render T1 1010–1070 (30 s of video)   upload T1 1070–1080
        download T2 1015–1025   render T2 1070–1130 (30 s of video)   upload T2 1130–1145
        completed T1 at 1080, T2 at 1145
    node B (h264_nvenc): registered +1100, lost +1180
        download T3 1100–1110   render T3 1110–1150 (40 s of video)   upload fails at 1160

Worked out by hand:
    A wall 200 s, render 120 s → 60 %;  B wall 80 s, render 40 s → 50 %
    farm 160 / 280 = 57.142857 %;  up time 200 s; 2 completed → 36 per hour
    avg render time (60 + 60) / 2 = 60 s; 120 s of rendering for 1 min of video → 120 s/min
    io per task: T1 10 + 10, T2 10 + 15 → 22.5 s; exposed: T1's download 10 s (nothing
    rendering yet) and T2's upload 15 s (nothing rendering after) → 25 / 2 = 12.5 s
    speed: A 60 s of video in 120 s → 0.5×; B 40 in 40 → 1.0×
    window of the last 100 s (1100–1200): A wall 100, render 30 (1100–1130); B 80 / 40;
    farm 70 / 180 = 38.888889 %; T2 completed in it → 36 per hour
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storyreel.history import history
from storyreel.logs import read_events
from storyreel.metrics import compute, timeline

T0 = 1_000_000_000


def _ev(ts: float, event: str, **fields) -> dict:
    return {"ts": T0 + ts, "event": event, **fields}


def _stage(event: str, task: str, node: str, start: float, end: float, **extra) -> dict:
    return _ev(end, event, task_id=task, node=node, attempt=1, started=T0 + start, ended=T0 + end,
               seconds=end - start, **extra)


EVENTS = [
    _ev(900, "task_created", task_id="T1", chapter="a/b/voice/chapter_0001.mp3", voice_duration=30),
    _ev(901, "task_created", task_id="T2", chapter="a/b/voice/chapter_0002.mp3", voice_duration=30),
    _ev(902, "task_created", task_id="T3", chapter="a/b/voice/chapter_0003.mp3", voice_duration=40),
    _ev(950, "rejected", path="raw/video/x/bad.mp4", dest="trash/invalid/video/x/bad.mp4", reason="corrupt"),
    _ev(1000, "node_registered", node="A", host="alpha", encoders=["libx264"], version="0.1"),
    _ev(1000, "claimed", task_id="T1", node="A", attempt=1),
    _stage("downloaded", "T1", "A", 1000, 1010, bytes=1000),
    _ev(1015, "claimed", task_id="T2", node="A", attempt=1),
    _stage("downloaded", "T2", "A", 1015, 1025, bytes=1000),
    _stage("rendered", "T1", "A", 1010, 1070, media_seconds=30, encoder="libx264"),
    _stage("uploaded", "T1", "A", 1070, 1080, bytes=5000),
    _ev(1080, "completed", task_id="T1", node="A", attempt=1, media_seconds=30),
    _ev(1100, "node_registered", node="B", host="beta", encoders=["h264_nvenc", "libx264"], version="0.1"),
    _ev(1100, "claimed", task_id="T3", node="B", attempt=1),
    _stage("downloaded", "T3", "B", 1100, 1110, bytes=1000),
    _stage("rendered", "T2", "A", 1070, 1130, media_seconds=30, encoder="libx264"),
    _stage("rendered", "T3", "B", 1110, 1150, media_seconds=40, encoder="h264_nvenc"),
    _stage("uploaded", "T2", "A", 1130, 1145, bytes=5000),
    _ev(1145, "completed", task_id="T2", node="A", attempt=1, media_seconds=30),
    _ev(1160, "failed", task_id="T3", node="B", attempt=1, reason="upload failed 3 times: connection reset"),
    _ev(1180, "node_lost", node="B"),
]


@pytest.fixture()
def event_file(tmp_path: Path) -> Path:
    path = tmp_path / "events.jsonl"
    lines = [json.dumps(e) for e in EVENTS]
    lines.insert(3, json.dumps({"ts": T0 + 903, "event": "some_future_event", "x": 1}))
    path.write_text("\n".join(lines) + '\n{"ts": 1000001199, "event": "compl')  # torn last line
    return path


def test_since_start_matches_hand_figures(event_file: Path):
    m = compute(read_events(event_file), now=T0 + 1200, window=100)
    f = m.since_start
    nodes = {n.node: n for n in f.nodes}
    assert nodes["A"].wall_seconds == pytest.approx(200)
    assert nodes["A"].render_seconds == pytest.approx(120)
    assert nodes["A"].render_utilization == pytest.approx(60.0)
    assert nodes["B"].wall_seconds == pytest.approx(80)
    assert nodes["B"].render_utilization == pytest.approx(50.0)
    assert f.render_utilization == pytest.approx(160 / 280 * 100)
    assert f.up_seconds == pytest.approx(200)
    assert f.tasks_completed == 2
    assert f.task_throughput == pytest.approx(36.0)
    assert f.avg_render_time == pytest.approx(60.0)
    assert f.render_seconds_per_output_minute == pytest.approx(120.0)
    assert f.io_overhead == pytest.approx(22.5)
    assert f.io_exposed == pytest.approx(12.5)
    assert nodes["A"].exposed_io_seconds == pytest.approx(25.0)
    assert nodes["B"].exposed_io_seconds == pytest.approx(10.0)  # T3's download, before its render
    assert (f.tasks_failed, f.files_rejected, f.tasks_created) == (1, 1, 3)
    speeds = {(s.node, s.encoder): s.speed for s in f.speeds}
    assert speeds == {("A", "libx264"): pytest.approx(0.5), ("B", "h264_nvenc"): pytest.approx(1.0)}


def test_window_matches_hand_figures(event_file: Path):
    w = compute(read_events(event_file), now=T0 + 1200, window=100).window
    nodes = {n.node: n for n in w.nodes}
    assert nodes["A"].wall_seconds == pytest.approx(100)
    assert nodes["A"].render_utilization == pytest.approx(30.0)
    assert nodes["B"].render_utilization == pytest.approx(50.0)
    assert w.render_utilization == pytest.approx(70 / 180 * 100)
    assert w.tasks_completed == 1
    assert w.task_throughput == pytest.approx(36.0)
    assert w.avg_render_time == pytest.approx(60.0)
    assert w.tasks_failed == 1 and w.files_rejected == 0


def test_a_node_not_live_stops_at_its_last_activity():
    """After a restart nobody reported A lost; if A is not live its stretch ends at 1145."""
    h = history(EVENTS, now=T0 + 1200, live={"B"})
    assert h.alive["A"] == [(T0 + 1000, T0 + 1145)]


def test_each_event_kind_has_one_handler_and_odd_records_are_skipped():
    """The history reads every kind the farm writes except `ingested` and `split` (no figure needs them);
    records of unknown, missing or non-text kinds and records without a time change nothing."""
    from storyreel.history import HANDLERS
    from storyreel.logs import Event

    assert set(Event) - set(HANDLERS) == {Event.INGESTED, Event.SPLIT}  # neither feeds a metric
    odd = [{"ts": T0 + 1, "event": ["claimed"], "node": "A", "task_id": "T1"},
           {"ts": T0 + 2, "event": None, "node": "A"},
           {"event": "node_registered", "node": "C"},
           {"ts": "not a time", "event": "node_registered", "node": "D"}]
    plain = history(EVENTS, now=T0 + 1200)
    mixed = history(EVENTS + odd, now=T0 + 1200)
    assert mixed.nodes == plain.nodes and mixed.alive == plain.alive and mixed.stages == plain.stages
    assert mixed.first_ts == T0 + 1


def test_a_claim_holds_a_task_until_it_ends():
    """What the log says a node still holds: claimed and not yet completed, failed,
    requeued or released."""
    events = [_ev(0, "node_registered", node="A"),
              *(_ev(i, "claimed", task_id=t, node="A", attempt=1) for i, t in enumerate("WXYZ", 1)),
              _ev(10, "completed", task_id="W", node="A", attempt=1),
              _ev(11, "failed", task_id="X", node="A", attempt=1, reason="r"),
              _ev(12, "requeued", task_id="Y", node="A", attempt=2, reason="lease expired")]
    assert set(history(events, now=T0 + 20).nodes["A"].holding) == {"Z"}
    released = events + [_ev(13, "released", task_id="Z", node="A", attempt=1)]
    assert history(released, now=T0 + 20).nodes["A"].holding == {}


def test_empty_log_gives_no_figures_rather_than_zero_division():
    m = compute([], now=T0)
    assert m.since_start.render_utilization is None
    assert m.since_start.task_throughput is None
    assert m.since_start.avg_render_time is None
    assert m.since_start.tasks_completed == 0


def test_timeline_counts_each_completion_once():
    h = history(EVENTS, now=T0 + 1200)
    points = timeline(h, points=20, bucket=60)
    assert sum(p.completed for p in points) == 2
    assert all(p.end - p.start == 60 for p in points)
    assert points[-1].end >= T0 + 1200


def test_the_attempt_that_produced_the_output_is_the_one_measured():
    """T9's first attempt on A rendered 100 s and its lease ran out; attempt 2 on B rendered
    40 s and completed. avg_render_time is 40 s; A's wasted render still counts as A's busy
    time. Times are ISO strings here, as a node may send them."""

    def iso(t: float) -> str:
        from datetime import UTC, datetime

        return datetime.fromtimestamp(T0 + t, tz=UTC).isoformat().replace("+00:00", "Z")

    events = [
        _ev(0, "node_registered", node="A", host="a"),
        _ev(0, "node_registered", node="B", host="b"),
        {"ts": T0 + 100, "event": "rendered", "task_id": "T9", "node": "A", "attempt": 1,
         "started": iso(0), "ended": iso(100), "seconds": 100, "media_seconds": 20, "encoder": "libx264"},
        _ev(160, "requeued", task_id="T9", node="A", attempt=2, reason="lease expired"),
        {"ts": T0 + 200, "event": "rendered", "task_id": "T9", "node": "B", "attempt": 2,
         "started": iso(160), "ended": iso(200), "seconds": 40, "media_seconds": 20, "encoder": "h264_nvenc"},
        _ev(200, "completed", task_id="T9", node="B", attempt=2, media_seconds=20),
        _ev(300, "node_registered", node="A", host="a"),  # A restarted: its stretch goes on
    ]
    f = compute(events, now=T0 + 400).since_start
    assert f.avg_render_time == pytest.approx(40)
    assert f.render_seconds_per_output_minute == pytest.approx(120)  # 40 s for 20 s of video
    assert f.tasks_requeued == 1 and f.tasks_completed == 1
    nodes = {n.node: n for n in f.nodes}
    assert nodes["A"].wall_seconds == pytest.approx(400)
    assert nodes["A"].render_utilization == pytest.approx(25)
    assert nodes["B"].render_utilization == pytest.approx(10)
    assert nodes["B"].tasks_completed == 1


def test_overlapping_reports_of_one_node_are_not_counted_twice():
    """A node that reports two renders at once (two leases) is busy once, not twice."""
    events = [
        _ev(0, "node_registered", node="A"),
        _stage("rendered", "T1", "A", 0, 60, media_seconds=30, encoder="libx264"),
        _stage("rendered", "T2", "A", 30, 90, media_seconds=30, encoder="libx264"),
    ]
    f = compute(events, now=T0 + 100).since_start
    assert f.render_seconds == pytest.approx(90)
    assert f.render_utilization == pytest.approx(90)


def test_interval_arithmetic():
    from storyreel.intervals import clip_sorted, intersect, merge, subtract, total

    busy = merge([(5, 10), (0, 2), (9, 12), (20, 30)])
    assert busy == [(0, 2), (5, 12), (20, 30)]
    assert total(busy) == 19
    assert subtract([(1, 25)], busy) == [(2, 5), (12, 20)]
    assert subtract([(13, 14)], busy) == [(13, 14)]
    assert intersect(busy, [(1, 6), (11, 21)]) == [(1, 2), (5, 6), (11, 12), (20, 21)]
    assert clip_sorted(busy, 1, 22) == [(1, 2), (5, 12), (20, 22)]
    assert clip_sorted(busy, 12, 20) == []


def test_a_narration_counts_as_a_completed_task_but_not_as_an_output_video(event_file: Path):
    narrated = [_ev(1150, "task_created", task_id="N1", chapter="a/b/voice/chapter_0004.mp3", kind="narrate"),
                _ev(1150, "claimed", task_id="N1", node="A", attempt=1),
                _stage("rendered", "N1", "A", 1150, 1190, media_seconds=20, encoder="piper"),
                _ev(1195, "completed", task_id="N1", node="A", attempt=1, media_seconds=20, kind="narrate")]
    f = compute(iter([*EVENTS, *narrated]), now=T0 + 1200, window=100).since_start
    assert f.tasks_completed == 3
    assert f.avg_render_time == pytest.approx(60.0)  # the two videos' renders only
    assert f.render_seconds_per_output_minute == pytest.approx(120.0)
