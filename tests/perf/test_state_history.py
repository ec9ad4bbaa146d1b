"""The dashboard's history is kept between calls (each event read once) and always equals
a fresh full read of the log: after appends, while a last line is half written, and after
the log was truncated or rotated."""

from __future__ import annotations

import json
import os
from pathlib import Path

from storyreel.history import HistoryFeed, history
from storyreel.logs import EventReader, read_events
from storyreel.metrics import measure

NOW = 10_000.0
LIVE = {"n1"}
RUNNING = [("n1", "t-running", NOW - 40.0)]  # a render going on now, as the coordinator reports it


def _task(task: str, node: str, start: float, *, encoder: str = "libx264", ok: bool = True) -> list[dict]:
    """One task's life in the log: claimed, downloaded, rendered, uploaded, then its end."""
    stage = {"task_id": task, "node": node, "attempt": 1}
    end = {"event": "completed", "media_seconds": 30.0} if ok else {"event": "failed", "reason": "ffmpeg exited 1"}
    return [
        {"ts": start, "event": "task_created", "task_id": task},
        {"ts": start + 1, "event": "claimed", **stage},
        {"ts": start + 5, "event": "downloaded", **stage, "started": start + 1, "ended": start + 5, "bytes": 100},
        {"ts": start + 60, "event": "rendered", **stage, "started": start + 5, "ended": start + 60,
         "media_seconds": 30.0, "encoder": encoder},
        {"ts": start + 70, "event": "uploaded", **stage, "started": start + 60, "ended": start + 70, "bytes": 90},
        {"ts": start + 71, **stage, **end},
    ]


def _lines(records: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def _write(path: Path, text: str, mode: str = "a") -> None:
    with open(path, mode, encoding="utf-8") as fh:
        fh.write(text)


def _both(feed: HistoryFeed, reader: EventReader, path: Path):
    kept = feed.history(reader.events(), NOW, LIVE, RUNNING)
    full = history(read_events(path), NOW, LIVE, RUNNING)
    assert kept == full
    assert measure(kept) == measure(full)
    return kept


def test_the_kept_history_equals_a_full_read_through_appends_torn_lines_truncation_and_rotation(tmp_path):
    log = tmp_path / "events.jsonl"
    start = [{"ts": 100.0, "event": "node_registered", "node": "n1", "host": "a", "encoders": ["libx264"]},
             {"ts": 101.0, "event": "node_registered", "node": "n2", "host": "b", "encoders": ["h264_nvenc"]}]
    _write(log, _lines(start + _task("t1", "n1", 200) + _task("t2", "n2", 210, encoder="h264_nvenc")))
    feed, reader = HistoryFeed(), EventReader(log)
    first = _both(feed, reader, log)
    assert [o.task_id for o in first.completed] == ["t1", "t2"]
    assert first.last_encoder() == {"n1": "libx264", "n2": "h264_nvenc"}
    assert first.renders("n1")[-1] == (NOW - 40.0, NOW)  # the running render counts up to now
    assert _both(feed, reader, log) == first  # asked again with nothing new: the same

    # Appended, with the last record only half written: the torn line waits for its newline.
    more = _task("t3", "n1", 400, encoder="h264_qsv") + [{"ts": 500.0, "event": "node_lost", "node": "n2"}]
    last = json.dumps({"ts": 600.0, "event": "completed", "task_id": "t4", "node": "n1", "attempt": 1})
    _write(log, _lines(more) + last[:25])
    torn = _both(feed, reader, log)
    assert [o.task_id for o in torn.completed] == ["t1", "t2", "t3"]
    assert torn.last_encoder()["n1"] == "h264_qsv" and torn.nodes["n2"].lost
    _write(log, last[25:] + "\n" + _lines(_task("t5", "n2", 700, ok=False)))
    whole = _both(feed, reader, log)
    assert [o.task_id for o in whole.completed] == ["t1", "t2", "t3", "t4"]
    assert [o.task_id for o in whole.failed] == ["t5"] and not whole.nodes["n2"].lost  # n2 came back

    # Truncated and written again, shorter than what was read: the feed starts over.
    _write(log, _lines(start[:1] + _task("t6", "n1", 800)), mode="w")
    assert os.path.getsize(log) < reader._offset
    truncated = _both(feed, reader, log)
    assert [o.task_id for o in truncated.completed] == ["t6"] and "n2" not in truncated.nodes

    # Rotated: a new file under the name, longer than the old one (only its inode tells).
    log.rename(tmp_path / "events.jsonl.1")
    _write(log, _lines(start + _task("t7", "n2", 900) + _task("t8", "n1", 1000) + _task("t9", "n2", 1100)))
    assert os.path.getsize(log) > os.path.getsize(tmp_path / "events.jsonl.1")
    rotated = _both(feed, reader, log)
    assert [o.task_id for o in rotated.completed] == ["t7", "t8", "t9"]
    assert rotated.created == [900.0, 1000.0, 1100.0]


def test_a_history_given_earlier_is_not_changed_by_later_events(tmp_path):
    log = tmp_path / "events.jsonl"
    _write(log, _lines(_task("t1", "n1", 200)))
    feed, reader = HistoryFeed(), EventReader(log)
    earlier = feed.history(reader.events(), NOW, LIVE)
    _write(log, _lines(_task("t2", "n1", 300) + [{"ts": 400.0, "event": "claimed", "task_id": "t3",
                                                  "node": "n1", "attempt": 1}]))
    later = feed.history(reader.events(), NOW, LIVE)
    assert [o.task_id for o in earlier.completed] == ["t1"] and earlier.created == [200.0]
    assert earlier.nodes["n1"].holding == {} and later.nodes["n1"].holding == {"t3": 400.0}
    assert len(earlier.stages) == 3 and len(later.stages) == 6
