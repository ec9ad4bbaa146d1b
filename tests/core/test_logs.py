from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from diskkit import SmallDisk, small_disk_at

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


# Small enough to fill in a blink, big enough for a log file and an event log.
SMALL_DISK = "256k"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with small_disk_at(tmp_path / "small", SMALL_DISK) as disk:
        yield disk


def _warnings(text: str) -> list[str]:
    return [line for line in text.splitlines() if " WARN " in line]


def test_log_file_survives_a_full_disk_and_counts_the_lines_it_lost(small_disk: SmallDisk, capfd):
    log_file = small_disk.root / "logs" / "storyreel.log"
    setup_logging(log_file, "INFO")  # the console is stderr
    log = get_logger(MAIN_WORKER)
    log.info("before the disk filled")
    small_disk.fill()
    for number in range(300):
        log.info("line %d while the disk is full", number)
    err = capfd.readouterr().err
    assert "Logging error" not in err and "Traceback" not in err
    (warning,) = _warnings(err)  # one warning when writing starts failing, not one per line
    assert LINE.match(warning) and "No space left on device" in warning and str(log_file) in warning

    small_disk.free()
    log.info("after the disk was freed")
    lines = log_file.read_text(encoding="utf-8").splitlines()
    assert all(LINE.match(line) for line in lines), lines  # no line torn by the full disk
    kept = sum("while the disk is full" in line for line in lines)
    assert kept < 300
    (lost,) = _warnings("\n".join(lines))
    assert lost.endswith(f'WARN main_worker "Log file {log_file} written again: lost {300 - kept} lines '
                         f'while it could not be written (No space left on device)"')
    assert lines[-1].endswith('INFO main_worker "after the disk was freed"') and lines[-2] == lost
    assert "Traceback" not in capfd.readouterr().err


def test_event_log_survives_a_full_disk_and_counts_the_events_it_lost(small_disk: SmallDisk, capfd):
    setup_logging(None, "INFO")  # its warnings go to stderr
    path = small_disk.root / "logs" / "events.jsonl"
    events = EventLog(path)
    events.emit(Event.CLAIMED, task_id="t0", node="n1", attempt=1)
    small_disk.fill()
    for number in range(300):  # never raises into the caller
        events.emit(Event.RENDERED, task_id=f"t{number}", node="n1", attempt=1, seconds=1.5)
    err = capfd.readouterr().err
    assert "Traceback" not in err
    (warning,) = _warnings(err)
    assert LINE.match(warning) and "No space left on device" in warning and str(path) in warning

    small_disk.free()
    events.emit(Event.COMPLETED, task_id="t0", node="n1", attempt=1, media_seconds=3.0)
    lines = path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]  # every line whole
    kept = sum(r["event"] == "rendered" for r in records)
    assert kept < 300 and records[0]["event"] == "claimed" and records[-1]["event"] == "completed"
    (lost,) = _warnings(capfd.readouterr().err)
    assert lost.endswith(f'WARN main_worker "Event log {path} written again: lost {300 - kept} events '
                         f'while it could not be written (No space left on device)"')
