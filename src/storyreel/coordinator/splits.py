"""Long chapters rendered on several nodes at once: a render task split into segment tasks,
their parts filed back into it, and the render task claimable again only to join them.

A render task whose settings ask for it (`[render] segment_seconds`, render/farmsplit.py)
is split the first time a claim reaches it: split.json (the segment tasks' ids and each
part's frames) is written into its folder first, then one segment task per part in
tasks/, each holding only the files its part reads. Every segment task is leased, fenced,
retried on another node and reaped like any task. A finished part is checked, then moved
into the render task's folder as `part_NNNN.mp4`, and the segment task's folder is
removed. Once every part is in, the render task is handed out like any other: its node
mixes the sound once over the whole length and joins the parts by stream copy, and the
video is verified and published as output/<id>/final.mp4, once.

A kill between split.json and the last segment task leaves ids no folder holds: the next
claim makes them. A segment task that fails for good (or that the operator cancels) fails
its render task, and the segment tasks still queued are cancelled; a segment task whose
render task is no longer queued is cancelled when a claim reaches it. Called by the claims
and the facade, under the coordinator's lock.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

from storyreel import fsops, lifecycle, taskmeta
from storyreel.coordinator.taskqueue import QueueIndex
from storyreel.errors import BadUpload, FilesystemError, StoryreelError
from storyreel.layout import METADATA_NAME, SPLIT_NAME, Layout, TaskState
from storyreel.logs import MAIN_WORKER, Event, EventLog, get_logger
from storyreel.media.probe import MediaInfo
from storyreel.protocol import TaskFile
from storyreel.render import farmsplit
from storyreel.render.encoders import AUTO, ENCODER_ORDER
from storyreel.render.picture_inputs import clip_shapes
from storyreel.render.segments import Segment
from storyreel.taskmeta import SegmentMeta, SegmentPart, SplitRecord, TaskKind, TaskMeta
from storyreel.units import plural

log = get_logger(MAIN_WORKER)

# A part may differ from its frames' length by this much (s): mp4 rounds each timestamp.
PART_TOLERANCE_FRAMES = 1.5


class Splits:
    """Splits render tasks into segment tasks and files their parts."""

    def __init__(self, layout: Layout, queue: QueueIndex, events: EventLog) -> None:
        self.layout = layout
        self.queue = queue
        self.events = events

    # -- claims -----------------------------------------------------------------
    def ready(self, task_id: str, task_dir: Path, metadata: dict[str, Any], encoders: list[str]) -> bool:
        """True when the queued render task may be handed out: it is not to be split, or
        every part is in. Otherwise it is split now (its parts encoded with the best of
        `encoders`, the claiming node's, unless the task names one), or its missing segment
        tasks are made again, or (a segment failed) it fails; then False."""
        render = metadata.get("render")
        if not isinstance(render, dict) or not render.get("segment_seconds"):
            return True
        record = taskmeta.read_split(task_dir)
        if record is None:
            return not self._split(task_id, task_dir, encoders)
        missing = [i for i in range(len(record.segments)) if not (task_dir / Layout.part_name(i)).is_file()]
        if not missing:
            return True
        self._mend(task_id, task_dir, record, missing)
        return False

    def wanted(self, task_id: str, metadata: dict[str, Any]) -> bool:
        """True when a queued segment task's render task still waits for its part; else the
        segment task is cancelled."""
        part = metadata.get("segment")
        parent = part.get("parent") if isinstance(part, dict) else None
        found = self.layout.find_task(parent) if isinstance(parent, str) else None
        if found is not None and found[0] == TaskState.QUEUED:
            record = taskmeta.read_split(found[1])
            if record is not None and task_id in record.segments:
                return True
        lifecycle.cancel(self.layout, task_id, segment_of=parent or "")
        self.queue.discard(task_id)
        log.info("Segment task %s cancelled: its render task %s no longer waits for it", task_id, parent)
        return False

    def live_parts(self, task_dir: Path) -> list[tuple[str, TaskState]]:
        """The segment tasks of a split render task that are still queued or held."""
        record = taskmeta.read_split(task_dir)
        found = [(seg_id, self.layout.find_task(seg_id)) for seg_id in (record.segments if record else [])]
        return [(seg_id, where[0]) for seg_id, where in found
                if where is not None and where[0] in (TaskState.QUEUED, TaskState.PROCESSING)]

    def grant_files(self, task_dir: Path, metadata: dict[str, Any], files: list[TaskFile]) -> list[TaskFile]:
        """The files a node fetches: a split render task's node joins the parts, so it is
        not sent the clips."""
        if taskmeta.kind_of(metadata) != TaskKind.RENDER or not (task_dir / SPLIT_NAME).is_file():
            return files
        clips = set(metadata.get("video_files") or [])
        return [f for f in files if f.name not in clips]

    # -- splitting ------------------------------------------------------------------
    def _split(self, task_id: str, task_dir: Path, encoders: list[str]) -> bool:
        """Split the task if its picture can be split; True when it was. Every part is
        encoded alike, so they join by stream copy: an "auto" encoder becomes the best one
        the node that asked has, and its parts go only to nodes that have it too."""
        try:
            meta = taskmeta.read(task_dir)
            best = next((e for e in ENCODER_ORDER if e in encoders), "libx264")
            meta = _encoded_with(meta, best if meta.render.encoder == AUTO else meta.render.encoder)
            found = farmsplit.parts(meta, clip_shapes(task_dir, meta, meta.video_files)) \
                if farmsplit.wanted(meta) else None
        except StoryreelError:
            return False  # its node says what is wrong with it
        if found is None:
            return False
        record = SplitRecord(segments=[str(uuid.uuid4()) for _ in found], frames=[p.frames for p in found],
                             encoder=meta.render.encoder)
        try:
            fsops.write_atomic(task_dir / SPLIT_NAME, taskmeta.dump(record))  # the ids first
            for index, part in enumerate(found):
                self._make(task_dir, meta, record, index, part)
        except (StoryreelError, OSError) as exc:
            log.error("Cannot split task %s into segment tasks: %s; it waits to be split again", task_id, exc)
            return True
        self.queue.add(record.segments)
        rate = meta.render.frame_rate
        log.info("Split task %s (%s, %.1f s) into %s of %s s for the render nodes", task_id, meta.chapter,
                 meta.voice_duration, plural(len(found), "segment"),
                 "/".join(f"{f / rate:.1f}" for f in record.frames))
        self.events.emit(Event.SPLIT, task_id=task_id, segments=record.segments)
        return True

    def _make(self, task_dir: Path, meta: TaskMeta, record: SplitRecord, index: int, part: Segment) -> None:
        """Segment task `index` in tasks/, holding only the files its part reads."""
        seg_id = record.segments[index]
        spec = SegmentPart(parent=meta.task_id, index=index, count=len(record.segments), clips=part.clips,
                           start=part.start, frames=part.frames, lead=part.lead, lead_from=part.lead_from,
                           lengths=part.lengths, fades=part.fades)
        seg = SegmentMeta.model_validate({**meta.model_dump(), "task_id": seg_id, "segment": spec.model_dump()})
        with fsops.NewFolder(self.layout.task_dir(seg_id, TaskState.QUEUED)) as folder:
            for name in seg.input_names():
                source = task_dir / name
                if source.is_symlink():
                    folder.symlink(name, source.resolve())
                else:
                    folder.copy(name, source)
            folder.write(METADATA_NAME, taskmeta.dump(seg))
            folder.publish()

    def _mend(self, task_id: str, task_dir: Path, record: SplitRecord, missing: list[int]) -> None:
        """Make the segment tasks of missing parts that no folder holds (a kill while
        splitting); fail the render task when one of them failed."""
        made = []
        for index in missing:
            seg_id = record.segments[index]
            found = self.layout.find_task(seg_id)
            if found is None:
                try:
                    meta = _encoded_with(taskmeta.read(task_dir), record.encoder)
                    self._make(task_dir, meta, record, index, _part_of(task_dir, record, index))
                except (StoryreelError, OSError) as exc:
                    log.error("Cannot make segment %d of task %s again: %s", index + 1, task_id, exc)
                    continue
                made.append(seg_id)
            elif found[0] in (TaskState.FAILED, TaskState.DONE):
                self._fail(task_id, record, index)
                return
        if made:
            self.queue.add(made)
            log.warning("Task %s: made %s again that a stop left unmade", task_id, plural(len(made), "segment task"))

    def _fail(self, task_id: str, record: SplitRecord, index: int) -> None:
        """A segment task failed for good: its render task fails, its queued siblings are cancelled."""
        failed = lifecycle.failure_reason(self.layout, record.segments[index]) or {}
        reason = f"segment {index + 1} of {len(record.segments)} failed: {failed.get('reason', 'it failed')}"
        # A part that failed on a clip it set aside plans the chapter again without that clip.
        replan = failed.get(lifecycle.REPLAN_KEY) is True
        lifecycle.fail(self.layout, task_id, reason, replan=replan, segment=record.segments[index])
        self.queue.discard(task_id)
        log.error("Task %s failed: %s; moved to trash/failed/%s", task_id, reason,
                  "; its chapter is planned again" if replan else "")
        self.events.emit(Event.FAILED, task_id=task_id, reason=reason)
        for seg_id in record.segments:
            found = self.layout.find_task(seg_id)
            if found is not None and found[0] == TaskState.QUEUED:
                lifecycle.cancel(self.layout, seg_id, segment_of=task_id)
                self.queue.discard(seg_id)

    # -- parts ----------------------------------------------------------------------
    def check_part(self, task_id: str, task_dir: Path, info: MediaInfo) -> None:
        """An uploaded part is video alone and lasts its frames (BadUpload otherwise)."""
        seg = taskmeta.read_segment(task_dir)
        if not info.video or info.audio:
            raise BadUpload(f"part of segment task {task_id} is not video alone")
        expected = seg.segment.frames / seg.render.frame_rate
        if info.duration is None or abs(info.duration - expected) > PART_TOLERANCE_FRAMES / seg.render.frame_rate:
            lasts = f"{info.duration:.3f} s" if info.duration is not None else "an unknown time"
            raise BadUpload(f"part of segment task {task_id} lasts {lasts}, its frames {expected:.3f} s")

    def file_part(self, task_id: str, part: Path) -> Path | None:
        """Move a checked part into its render task's folder and remove the segment task's
        folder; the part's new path, or None when its render task no longer waits for it
        (cancelled, failed): the part is then dropped."""
        processing = self.layout.task_dir(task_id, TaskState.PROCESSING)
        parent = taskmeta.read_segment(processing).segment.parent
        found = self.layout.find_task(parent)
        parent_dir = found[1] if found is not None and found[0] == TaskState.QUEUED else None
        record = taskmeta.read_split(parent_dir) if parent_dir is not None else None
        if parent_dir is None or record is None or task_id not in record.segments:
            shutil.rmtree(processing, ignore_errors=True)
            log.info("Segment task %s done, but its render task %s no longer waits for it: part dropped",
                     task_id, parent)
            return None
        filed = parent_dir / Layout.part_name(record.segments.index(task_id))
        fsops.move(part, filed)
        shutil.rmtree(processing, ignore_errors=True)
        count = len(record.segments)
        if all((parent_dir / Layout.part_name(i)).is_file() for i in range(count)):
            log.info("All %d parts of task %s are in: it is queued to be joined", count, parent)
        return filed

def _encoded_with(meta: TaskMeta, encoder: str) -> TaskMeta:
    """The task's metadata with its parts' encoder named ("" or "auto": as it is)."""
    if encoder in ("", AUTO):
        return meta
    return meta.model_copy(update={"render": meta.render.model_copy(update={"encoder": encoder})})


def _part_of(task_dir: Path, record: SplitRecord, index: int) -> Segment:
    """Part `index` of a split task, planned again from its metadata (the plan is pure)."""
    meta = taskmeta.read(task_dir)
    found = farmsplit.parts(meta, clip_shapes(task_dir, meta, meta.video_files))
    if found is None or len(found) != len(record.segments) or found[index].frames != record.frames[index]:
        raise FilesystemError("split", task_dir, task_dir, "its parts no longer match split.json")
    return found[index]
