from __future__ import annotations

import io
import json
import re
from pathlib import Path

from storyreel.logs import (
    MAIN_WORKER,
    RENDER_WORKER,
    Event,
    EventLog,
    EventReader,
    get_logger,
    read_events,
    setup_logging,
)

LINE = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (DEBUG|INFO|WARN|ERROR) [a-z_]+ ".*"$')


def test_lines_follow_spec_section_9(tmp_path: Path):
    stream = io.StringIO()
    setup_logging(tmp_path / "logs" / "storyreel.log", "INFO", stream=stream)
    get_logger(MAIN_WORKER).info("Moved file %s → %s", "raw/video/action/abc.mp4", "scanned/x.mp4")
    get_logger(RENDER_WORKER).warning("Low disk space: %.1fGB remaining", 2.3)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert all(LINE.match(line) for line in lines)
    assert lines[0].endswith('INFO main_worker "Moved file raw/video/action/abc.mp4 → scanned/x.mp4"')
    assert lines[1].endswith('WARN render_worker "Low disk space: 2.3GB remaining"')
    assert (tmp_path / "logs" / "storyreel.log").read_text(encoding="utf-8").splitlines() == lines


def test_hostile_message_cannot_forge_a_line():
    stream = io.StringIO()
    setup_logging(None, "INFO", stream=stream)
    get_logger(MAIN_WORKER).info('Moved file raw/a\n2025-01-01T00:00:00Z ERROR x "forged".mp4')
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert LINE.match(lines[0])


def test_event_log_appends_and_survives_a_torn_line(tmp_path: Path):
    events = EventLog(tmp_path / "events.jsonl")
    events.emit(Event.CLAIMED, task_id="t1", node="n1", attempt=1)
    events.emit(Event.RENDERED, task_id="t1", node="n1", attempt=1, seconds=2.5)
    with open(tmp_path / "events.jsonl", "a") as fh:
        fh.write('{"ts": 1, "event": "upl')  # a writer killed mid-line
    got = list(read_events(tmp_path / "events.jsonl"))
    assert [e["event"] for e in got] == ["claimed", "rendered"]
    assert got[1]["seconds"] == 2.5
    assert json.loads((tmp_path / "events.jsonl").read_text().splitlines()[0])["task_id"] == "t1"
    assert list(read_events(tmp_path / "missing.jsonl")) == []


def test_event_reader_reads_only_appended_whole_lines(tmp_path: Path):
    path = tmp_path / "events.jsonl"
    cache = EventReader(path)
    assert cache.events() == []
    path.write_text('{"ts": 1, "event": "a"}\n{"ts": 2, "ev')  # the writer is mid-line
    assert [e["event"] for e in cache.events()] == ["a"]
    with open(path, "a") as fh:
        fh.write('ent": "b"}\n')
    assert [e["event"] for e in cache.events()] == ["a", "b"]
    path.write_text('{"ts": 3, "event": "c"}\n')  # rotated: read from the start again
    assert [e["event"] for e in cache.events()] == ["c"]
