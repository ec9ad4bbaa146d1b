"""The duration ingest measured for a scanned voice chapter, kept beside it.

Ingest probes every narration before filing it; the planner needs the same duration
for each chapter it plans. The record (layout.voice_record, a hidden name, so counts
and listings of scanned/ skip it) carries the size and mtime of the file it measured:
a voice replaced or touched by hand no longer matches it and is probed again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ValidationError

from storyreel import fsops
from storyreel.layout import Layout


class VoiceRecord(BaseModel):
    duration: float  # seconds, as ingest's ffprobe read it
    size: int  # bytes of the voice file it measured
    mtime_ns: int  # its modification time


def write(voice: Path, duration: float) -> None:
    """Record the duration of a voice chapter just filed; a failure to write only costs
    the planner a probe, so it is not an error."""
    try:
        st = voice.stat()
        record = VoiceRecord(duration=duration, size=st.st_size, mtime_ns=st.st_mtime_ns)
        fsops.write_atomic(Layout.voice_record(voice), record.model_dump_json() + "\n")
    except OSError:
        pass


def duration(voice: Path, st: os.stat_result) -> float | None:
    """The recorded duration of `voice` (whose stat is `st`), or None when there is no
    record or it describes another version of the file."""
    try:
        raw = Layout.voice_record(voice).read_text(encoding="utf-8")
        record = VoiceRecord.model_validate(json.loads(raw))
    except (OSError, ValueError, ValidationError):
        return None
    if (record.size, record.mtime_ns) != (st.st_size, st.st_mtime_ns) or record.duration <= 0:
        return None
    return record.duration
