"""scanned/ → tasks/<id>/ for narration: a story chunk whose chapter has no voice gets a
narrate task, when its category's narration mode is `missing` and no operator's voice
came within `[narration] wait_seconds` of the chunk being filed.

chunk_NNNN.txt is spoken into voice/chapter_NNNN.mp3. The task folder holds its
metadata.json (`kind: narrate`, the engine and voice asked for) and a copy of the chunk,
so a node needs nothing else; it is built under a temp name and renamed into place, like
a render task. The node's voice comes back to the coordinator, which files it as the
chapter's voice (ingest/narrated.py); the render planner then plans the chapter as any.

Listing every story's chunks costs one directory listing per story, so it happens when
ingest filed something, when the earliest waiting chunk's time is up, and every
`[plan] rescan_seconds` (rescans.Rescan) — never on an idle pass.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from storyreel import fsops
from storyreel.captions.script import read_script
from storyreel.errors import StoryreelError
from storyreel.ingest.pending import NOTHING_PENDING, Pending
from storyreel.layout import CHUNK_RE, METADATA_NAME, Layout, TaskState
from storyreel.lifecycle import ChapterIndex, narrate_key
from storyreel.logs import MAIN_WORKER, Event, get_logger, iso_utc
from storyreel.project import Project
from storyreel.rescans import Rescan
from storyreel.taskmeta import NARRATION_TEXT_NAME, NarrateMeta, NarrationSpec, dump, story_title
from storyreel.units import duration_text
from storyreel.waiting import Waiting, WaitReason, drop_settling

log = get_logger(MAIN_WORKER)


class NarrationPlanner:
    """Creates narrate tasks for chunks whose chapters have waited long enough for a voice."""

    def __init__(self, project: Project, index: ChapterIndex, *,
                 pending: Callable[[], Pending] = lambda: NOTHING_PENDING,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        """`index`: the render planner's chapter index (narrate tasks are keyed there too);
        `clock`: wall time, compared with the chunks' mtimes."""
        self.project = project
        self.layout = project.layout
        self.index = index
        self.pending = pending
        self.clock = clock
        self.monotonic = monotonic
        self.rescan = Rescan(project.settings.plan.rescan_seconds, monotonic=monotonic)
        self._next_due: float | None = None  # wall time the earliest waiting chunk is due
        self._failed: set[str] = set()  # chapters whose task folder could not be written (logged)
        self.waiting: list[Waiting] = []

    @property
    def enabled(self) -> bool:
        settings = self.project.settings
        return settings.narration.mode == "missing" or any(
            c.narration == "missing" for c in settings.categories.values())

    def scanned_changed(self) -> None:
        """Ingest filed something (a chunk, or a voice that makes a narration needless)."""
        self.rescan.now()

    def plan_pending(self) -> list[str]:
        """Create the narrate tasks that are due; returns their ids. The chunks still given
        time for an operator's voice are in `waiting` afterwards."""
        if not self.enabled:
            return []
        due_by_time = self._next_due is not None and self.clock() >= self._next_due
        if not (self.rescan.due() or due_by_time):
            return []
        self.rescan.begin()
        try:
            return self._plan()
        finally:
            self.rescan.done()

    def _plan(self) -> list[str]:
        self.waiting, self._next_due = [], None
        settings, layout = self.project.settings, self.layout
        known = self.index.tasks()
        settling = self.pending()
        created: list[str] = []
        for story_dir in layout.scanned_stories():
            category, story = Path(story_dir).parent.name, Path(story_dir).name
            if settings.narration_mode(category) != "missing":
                continue
            voices = set(Layout.voices_in(Path(story_dir, "voice")))
            for chunk in layout.scanned_chunks(category, story):
                number = int(CHUNK_RE.match(chunk.name).group(1))  # type: ignore[union-attr]
                voice = layout.scanned_voice(category, story, f"chapter_{number:04d}.mp3")
                chapter = layout.chapter_of(voice)
                if voice in voices or narrate_key(chapter) in known:
                    continue
                planned = self._consider(chunk, voice, category, story, settling)
                if isinstance(planned, Waiting):
                    self.waiting.append(planned)
                elif planned:
                    created.append(planned)
        return created

    def _consider(self, chunk: Path, voice: Path, category: str, story: str,
                  settling: Pending) -> str | Waiting | None:
        """Build the chunk's narrate task if its wait is over: its id, why it waits, or None."""
        chapter = self.layout.chapter_of(voice)
        try:
            filed_at = chunk.stat().st_mtime
        except OSError:
            return None
        left = filed_at + self.project.settings.narration.wait_seconds - self.clock()
        if left > 0:
            self._next_due = min(self._next_due or float("inf"), self.clock() + left)
            return Waiting(chapter, WaitReason.AWAITING_VOICE,
                           f"no voice yet: narrated from {chunk.name} in {duration_text(left)} unless one arrives")
        held = drop_settling(settling, self.layout, voice, self.project.settings.plan.default_category)
        if held is not None:
            return held
        try:
            return self._create(chunk, chapter, category, story)
        except (StoryreelError, OSError) as exc:
            if chapter not in self._failed:
                self._failed.add(chapter)
                log.error("Cannot create the narrate task for %s: %s", chapter, exc)
            return Waiting(chapter, WaitReason.CANNOT_BUILD, f"its narrate task folder cannot be written: {exc}")

    def _create(self, chunk: Path, chapter: str, category: str, story: str) -> str:
        settings = self.project.settings.narration
        text = chunk.read_text(encoding="utf-8", errors="replace")
        task_id = str(uuid.uuid4())
        spec = NarrationSpec(engine=settings.engine, voice=settings.voice, source=self.layout.relative(chunk),
                             text_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                             words=len(read_script(text)))
        meta = NarrateMeta(task_id=task_id, category=category, story_name=story, chapter=chapter,
                           narration=spec, created_at=iso_utc(), title=story_title(story))
        with fsops.NewFolder(self.layout.task_dir(task_id, TaskState.QUEUED)) as folder:
            folder.write(NARRATION_TEXT_NAME, text)
            folder.write(METADATA_NAME, dump(meta))
            folder.publish()
        self._failed.discard(chapter)
        self.index.note_key(task_id, narrate_key(chapter))
        engine = settings.engine if settings.engine != "auto" else "the best engine a node has"
        log.info("Created narrate task %s for %s: %d words of %s, %s%s", task_id, chapter, spec.words,
                 chunk.name, engine, f", voice {settings.voice}" if settings.voice else "")
        self.project.events.emit(Event.TASK_CREATED, task_id=task_id, chapter=chapter, kind="narrate",
                                 words=spec.words)
        return task_id
