"""A node's narration → scanned/story/<category>/<story>/voice/chapter_NNNN.mp3.

The coordinator receives a narrate task's voice like a render (fenced, sized, hashed)
and hands it here: it passes the checks an operator's voice passes (ingest/voice.py),
then is filed under the chapter's name with its record (engine, voice, the text's hash,
the task; voicerecord.py) and the engine's word timings beside it (hidden), so the
chapter's captions need no alignment. An operator's voice filed meanwhile wins: the
narration goes to trash/invalid/ as "superseded".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from storyreel import fsops, taskmeta, voicerecord
from storyreel.errors import BadUpload, TaskMetaError, Unacceptable
from storyreel.ingest.filing import _PLACING, reject, rel
from storyreel.ingest.voice import SUPERSEDED, check_voice
from storyreel.layout import VOICE_NAME, Layout
from storyreel.logs import MAIN_WORKER, Event, get_logger, iso_utc
from storyreel.project import Project
from storyreel.protocol import NARRATION_REPORT_NAME, WORDS_NAME, NarrationReport
from storyreel.taskmeta import NarrateMeta

log = get_logger(MAIN_WORKER)


@dataclass(frozen=True)
class Narration:
    """A narrate task's uploaded voice that passed its checks, and what filing it needs."""

    project: Project
    meta: NarrateMeta
    part: Path
    words: Path
    report: NarrationReport
    duration: float

    def file(self, node: str) -> Path:
        return file_narration(self.project, self.meta, self.part, self.words, self.report, self.duration, node)


def prepare(project: Project, task_id: str, processing: Path, part: Path,
            sidecars: dict[str, Path]) -> Narration | None:
    """A narrate task's uploaded voice checked and ready to file (it is decoded: the caller
    holds no lock); None for a render task. BadUpload when it speaks another text than the
    task's or fails an operator's voice's checks."""
    if taskmeta.kind_of(taskmeta.read_raw(processing)) != taskmeta.TaskKind.NARRATE:
        return None
    try:
        meta = taskmeta.read_narrate(processing)
        report = NarrationReport.model_validate_json(sidecars[NARRATION_REPORT_NAME].read_text(encoding="utf-8"))
    except (TaskMetaError, ValidationError, OSError) as exc:
        raise BadUpload(f"narration of task {task_id} cannot be filed: {exc}") from exc
    if report.text_sha256 != meta.narration.text_sha256:
        raise BadUpload(f"narration of task {task_id} speaks another text than the task's")
    try:
        duration, _speech = check_voice(project, part)
    except Unacceptable as exc:
        raise BadUpload(f"narration of task {task_id} is not a usable voice: {exc.reason}") from exc
    return Narration(project, meta, part, sidecars[WORDS_NAME], report, duration)


def file_narration(project: Project, meta: NarrateMeta, part: Path, words: Path,
                   report: NarrationReport, duration: float, node: str) -> Path:
    """File the checked voice `part` as its chapter with its record and word timings; returns
    where it went (its place in the trash when an operator's voice took the name first)."""
    voice = project.layout.root / meta.chapter
    made = voicerecord.Narration(engine=report.engine, voice=report.voice, text_sha256=report.text_sha256,
                                 task_id=meta.task_id, node=node, source=meta.narration.source,
                                 created_at=iso_utc())
    with _PLACING:
        if voice.exists() or voice.is_symlink():
            return reject(project, part, SUPERSEDED, named_as=voice, task_id=meta.task_id,
                          detail=f"{rel(project, voice)} arrived from an operator while it was narrated")
        voice.parent.mkdir(parents=True, exist_ok=True)
        fsops.copy_into_place(words, Layout.voice_words(voice))
        voicerecord.write(voice, duration, made, measured=part)  # a kill after this leaves no operator-looking voice
        fsops.move(part, voice)
        project.scanned_counts.filed(voice)
    sent = f"{rel(project, part.parent)}/{VOICE_NAME}"  # the node's voice.mp3, as it arrived
    log.info("Moved file %s → %s (narrated by %s with %s, voice %s: %.1f s)", sent,
             rel(project, voice), node, report.engine, report.voice, duration)
    project.events.emit(Event.INGESTED, path=sent, dest=rel(project, voice), kind="narration",
                        duration=round(duration, 3), engine=report.engine, voice=report.voice,
                        task_id=meta.task_id)
    return voice
