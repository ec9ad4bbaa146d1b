"""The duration ingest measured for a scanned voice chapter, kept beside it; for a
synthesized chapter also how it was made (engine, voice, the hash of its text, the task).

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


class Narration(BaseModel):
    """How a synthesized voice chapter was made."""

    engine: str
    voice: str
    text_sha256: str
    task_id: str
    node: str = ""
    source: str = ""  # the chunk it speaks, relative to the project root
    created_at: str = ""


class VoiceRecord(BaseModel):
    duration: float  # seconds, as ingest's ffprobe read it
    size: int  # bytes of the voice file it measured
    mtime_ns: int  # its modification time
    channels: int = 0  # its audio channels as ingest's ffprobe read them; 0: not recorded
    narration: Narration | None = None  # None: an operator's recording


def write(voice: Path, duration: float, narration: Narration | None = None, *,
          measured: Path | None = None, channels: int = 0) -> None:
    """Record the duration of a voice chapter just filed; a failure to write only costs
    the planner a probe, so it is not an error. A synthesized chapter's record (`narration`)
    is written with fsops.write_atomic's errors raised: it is what marks it synthesized, so
    it is written before the voice takes its name, from the file about to be renamed there
    (`measured`: a rename keeps size and mtime). `channels`: the voice's audio channels,
    which the planner copies into each task so the node need not probe them."""
    try:
        st = (measured or voice).stat()
        record = VoiceRecord(duration=duration, size=st.st_size, mtime_ns=st.st_mtime_ns,
                             channels=channels, narration=narration)
        fsops.write_atomic(Layout.voice_record(voice), record.model_dump_json() + "\n")
    except OSError:
        if narration is not None:
            raise


def read(voice: Path) -> VoiceRecord | None:
    """The record beside `voice`, whatever version of the file it describes; None without one."""
    try:
        return VoiceRecord.model_validate(json.loads(Layout.voice_record(voice).read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError):
        return None


def narration(voice: Path) -> Narration | None:
    """How `voice` was synthesized; None for an operator's recording (or no record)."""
    record = read(voice)
    return record.narration if record is not None else None


def duration(voice: Path, st: os.stat_result) -> float | None:
    """The recorded duration of `voice` (whose stat is `st`), or None when there is no
    record or it describes another version of the file."""
    record = _current(voice, st)
    return record.duration if record is not None and record.duration > 0 else None


def channels(voice: Path) -> int:
    """The recorded audio channels of `voice` as it is now; 0 when there is no record, it
    describes another version of the file, or it predates the channel count."""
    try:
        st = voice.stat()
    except OSError:
        return 0
    record = _current(voice, st)
    return record.channels if record is not None else 0


def _current(voice: Path, st: os.stat_result) -> VoiceRecord | None:
    """The record beside `voice` when it describes the version whose stat is `st`."""
    record = read(voice)
    if record is None or (record.size, record.mtime_ns) != (st.st_size, st.st_mtime_ns):
        return None
    return record
