"""scanned/ → tasks/<id>/: one task per voice chapter and profile that has none yet
(SPEC §2, §5, §11). A category renders its chapters to the profiles its
[categories.<name>] lists (main alone by default); every profile's task of a chapter
uses the same music and clips.

A task folder is built under a temp name in tasks/ and renamed into place, so it
appears whole; a pass publishes its folders in batches (planbatch.py). It holds metadata.json, relative symlinks voice.mp3, music.mp3 and
video_NNNN.mp4 to the scanned assets, video_list.txt (ffconcat, plain names only,
so ffmpeg's safe mode stays on) and a copy of the logo.
"""

from __future__ import annotations

import os
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from storyreel import fsops, voicerecord
from storyreel.captions.fonts import find_font
from storyreel.config import MAIN_PROFILE, profile_section
from storyreel.diskspace import DiskWatcher
from storyreel.errors import FontMissing, MediaError, StoryreelError
from storyreel.ingest.pending import NOTHING_PENDING, Pending
from storyreel.layout import (
    CHAPTER_RE,
    FRAME_NAME,
    METADATA_NAME,
    MUSIC_NAME,
    VIDEO_LIST_NAME,
    VOICE_NAME,
    AssetKind,
    Layout,
    TaskState,
)
from storyreel.lifecycle import ChapterIndex, TaskKey
from storyreel.logs import MAIN_WORKER, get_logger, iso_utc
from storyreel.media.probe import probe
from storyreel.planbatch import PUBLISH_BATCH, BuiltTask, TaskBatch, kill_switch
from storyreel.project import Project
from storyreel.rescans import Rescan
from storyreel.taskmeta import (
    CAPTIONS_STORY_NAME,
    CAPTIONS_TEXT_NAME,
    FONT_PREFIX,
    NARRATION_WORDS_NAME,
    CaptionSpec,
    RenderSpec,
    TaskMeta,
    dump,
    story_title,
)
from storyreel.units import plural
from storyreel.waiting import Waiting, WaitReason, categories_text, disk_low_text, drop_settling

log = get_logger(MAIN_WORKER)

# Each clip is one ffmpeg input (an open file and a decoder); beyond this many the
# last clip's final frame is held to the end instead of adding more inputs.
MAX_CLIPS_PER_TASK = 400

# A clip whose duration reads as zero still counts this long, so picking always ends (s).
MIN_CLIP_SECONDS = 0.1

LOGO_STEM = "logo"


@dataclass(frozen=True)
class CaptionSource:
    """What a captioned chapter's task copies: its text and its font's faces."""

    text: Path  # scanned/story/<category>/<story>/chunk_NNNN.txt
    faces: list[Path]  # the font files fontconfig found
    chunks: list[Path]  # the story's chunks in order (its whole text)
    words: Path | None = None  # a synthesized voice's word timings (its engine's): no alignment


@dataclass(frozen=True)
class Clip:
    path: Path
    seconds: float


def pick_clips(clips: list[Clip], needed: float, rng: random.Random, overlap: float = 0.0) -> list[Clip]:
    """Random clips without repeats until they cover `needed` seconds, each after the first
    counting `overlap` seconds less (the cross-fade it shares with the one before); the pool
    is reshuffled (never starting with the clip just played) only when it runs out."""
    if not clips:
        return []
    picked: list[Clip] = []
    pool: list[Clip] = []
    total = 0.0
    while total < needed and len(picked) < MAX_CLIPS_PER_TASK:
        if not pool:
            pool = sorted(clips, key=lambda c: c.path)
            rng.shuffle(pool)
            if len(pool) > 1 and picked and pool[0].path == picked[-1].path:
                pool.append(pool.pop(0))
        clip = pool.pop(0)
        shared = overlap if picked else 0.0
        picked.append(clip)
        total += max(clip.seconds - shared, MIN_CLIP_SECONDS)
    return picked


class Planner:
    """Creates tasks for voice chapters that have none, as soon as their assets exist."""

    def __init__(self, project: Project, *, disk: DiskWatcher | None = None,
                 pending: Callable[[], Pending] = lambda: NOTHING_PENDING) -> None:
        """`disk`: the main worker's watcher of free space (a private one when None);
        `pending`: what raw/ still holds by category (the ingestor's view)."""
        self.project = project
        self.pending = pending
        self.disk = disk if disk is not None else DiskWatcher.for_project(project)
        self.layout = project.layout
        rescan = project.settings.plan.rescan_seconds
        self.index = ChapterIndex(project.layout, rescan_seconds=rescan)
        self.voices = VoiceList(project.layout, rescan)
        self._settled: tuple[int, int] | None = None  # (voices, index) generations with nothing to plan
        self._keys: dict[Path, list[TaskKey]] = {}  # voice → its (chapter, profile) keys
        self._warned: set[tuple[str, str]] = set()
        self._durations: dict[tuple[str, int], float | None] = {}
        self._listings: dict[tuple[str, str], list[Path]] = {}  # (kind, category) → files, this pass
        self.publish_batch = PUBLISH_BATCH  # task folders published at once
        self._on_step = kill_switch()  # a fault drill's kill at a step of publishing (planbatch.py)
        # The chapters the last pass left without a task, and why (the one source of
        # "waiting: reason" for every view).
        self.waiting: list[Waiting] = []

    # -- the stage -------------------------------------------------------------
    def plan_pending(self) -> list[str]:
        """Create the tasks voice chapters lack, one per profile of their category; returns
        the new task ids. Every chapter left without a task it needs is in `waiting`
        afterwards, with the reason."""
        self.waiting = []
        voices = self.voices.current()
        if not voices:
            return []
        known = self.index.tasks()
        state = (self.voices.generation, self.index.generation)
        if state == self._settled:
            return []  # no new voice and no task gone since every chapter had its tasks
        unplanned = {v: missing for v in voices if (missing := self._missing_profiles(v, known))}
        if not unplanned:
            self._settled = state
            return []
        disk = self.disk.check()  # below the floor: the watcher has logged it once
        if disk.paused:
            detail = disk_low_text(disk.free_bytes, self.project.settings.disk.floor_gb)
            self.waiting = [Waiting(self.layout.chapter_of(v), WaitReason.DISK_LOW, detail) for v in unplanned]
            return []
        settling, default = self.pending(), self.project.settings.plan.default_category
        self._listings = {}
        with TaskBatch(self.index, self.project.events, chapters=len(unplanned), size=self.publish_batch,
                       on_step=self._on_step) as batch:
            for voice, profiles in unplanned.items():
                planned = drop_settling(settling, self.layout, voice, default) or self.plan_chapter(voice, profiles, batch)
                if isinstance(planned, Waiting):
                    self.waiting.append(planned)
                batch.chapter_planned()
        self.waiting += batch.waiting
        return batch.created

    def scanned_changed(self) -> None:
        """Ingest filed something: list the scanned voices again at the next pass."""
        self.voices.changed()

    def _missing_profiles(self, voice: Path, known: dict[TaskKey, str]) -> list[str]:
        """The profiles of the voice's category that have no task for it yet."""
        keys = self._keys.get(voice)
        if keys is None:
            chapter, (category, _) = self.layout.chapter_of(voice), self.layout.story_of(voice)
            keys = self._keys[voice] = [TaskKey(chapter, p) for p in self.project.settings.profiles_for(category)]
        return [key.profile for key in keys if key not in known]

    def plan_chapter(self, voice: Path, profiles: list[str] | None, batch: TaskBatch) -> list[str] | Waiting:
        """Build the tasks of one scanned voice chapter in `profiles` (main by default), all
        from the same music and clips: their ids, or why the chapter cannot be planned yet
        (logged once per chapter and reason). When only some profiles can be built, those
        are, and the chapter waits for the rest. Their folders are published with the pass's
        `batch`."""
        layout, settings = self.layout, self.project.settings
        chapter = layout.chapter_of(voice)
        category, story = layout.story_of(voice)
        where = categories_text(category, settings.plan.default_category)
        music = self._listed(AssetKind.MUSIC, category)
        clips = self._listed(AssetKind.VIDEO, category)
        if not music or not clips:
            missing = " and ".join(w for w, have in (("music", music), ("video clips", clips)) if not have)
            self._warn_once(chapter, "assets", "Waiting to create a task for %s: no %s yet in category %r or %r",
                            chapter, missing, category, settings.plan.default_category)
            reason = (WaitReason.NO_MUSIC_OR_CLIPS if not music and not clips
                      else WaitReason.NO_MUSIC if not music else WaitReason.NO_CLIPS)
            return Waiting(chapter, reason, f"no {missing} in {where}")
        voice_seconds = self._duration(voice)
        if not voice_seconds:
            self._warn_once(chapter, "voice", "No task yet for %s: its duration cannot be read", chapter)
            return Waiting(chapter, WaitReason.UNREADABLE_VOICE, "the duration of its voice cannot be read")
        rng = self._rng(chapter)
        chosen_music = rng.choice(music)
        known_clips = [Clip(p, s) for p in clips if (s := self._clip_seconds(p))]
        if not known_clips:
            self._warn_once(chapter, "clips", "No task yet for %s: no readable clip", chapter)
            return Waiting(chapter, WaitReason.NO_READABLE_CLIP, f"no readable video clip in {where}")
        # All profiles share the clips: enough of them for the longest fades any profile uses.
        renders = [settings.profile(p).render for p in profiles or [MAIN_PROFILE]]
        overlap = max(r.transition_seconds if r.transition == "fade" else 0.0 for r in renders)
        picked = pick_clips(known_clips, voice_seconds, rng, overlap)
        frames = self._listed(AssetKind.FRAME, category)
        frame = rng.choice(frames) if frames and any(r.frame for r in renders) else None
        if sum(c.seconds for c in picked) - overlap * (len(picked) - 1) < voice_seconds:
            log.warning("Task for %s uses %s, fewer than its voice needs; the last frame is held",
                        chapter, plural(len(picked), "clip"))
        created, waiting = [], None
        for profile in profiles or [MAIN_PROFILE]:
            planned = self._plan_profile(voice, profile, voice_seconds, chosen_music, picked, frame, batch)
            if isinstance(planned, Waiting):
                waiting = waiting or planned
            else:
                created.append(planned)
        if waiting is not None and not created:
            return waiting
        if waiting is None:
            self._warned = {w for w in self._warned if w[0] != chapter}
        else:
            self.waiting.append(waiting)
        return created

    def _plan_profile(self, voice: Path, profile: str, voice_seconds: float, music: Path,
                      picked: list[Clip], frame: Path | None, batch: TaskBatch) -> str | Waiting:
        """Build the task of one chapter in one profile: its id, or why it cannot be built yet."""
        chapter = self.layout.chapter_of(voice)
        category, story = self.layout.story_of(voice)
        logo = self._logo(profile)
        if logo is False:
            setting = f"{profile_section(profile, 'render')}.logo"
            return Waiting(chapter, WaitReason.LOGO_MISSING,
                           f"the logo {self.project.settings.profile(profile).render.logo} ({setting}) does not exist")
        captions = self._captions(chapter, category, story, voice, profile)
        if isinstance(captions, Waiting):
            return captions
        if not self.project.settings.profile(profile).render.frame:
            frame = None
        task_id = str(uuid.uuid4())
        try:
            folder = self._build(task_id, chapter, category, story, voice, voice_seconds, music,
                                 picked, logo, captions, frame, profile=profile)
        except (StoryreelError, OSError) as exc:
            log.error("Cannot create the %s task for %s: %s", profile, chapter, exc)
            return Waiting(chapter, WaitReason.CANNOT_BUILD, f"its {profile} task folder cannot be written: {exc}")
        names = ", ".join(c.path.name for c in picked)
        summary = f"{voice_seconds:.1f} s voice, music {music.name}, {plural(len(picked), 'clip')} ({names})"
        batch.add(BuiltTask(task_id, chapter, profile, voice_seconds, folder, summary))
        return task_id

    # -- building the folder -------------------------------------------------------
    def _build(
        self, task_id: str, chapter: str, category: str, story: str, voice: Path,
        voice_seconds: float, music: Path, picked: list[Clip], logo: Path | None,
        captions: CaptionSource | None = None, frame: Path | None = None, *,
        profile: str = MAIN_PROFILE,
    ) -> fsops.FolderPlan:
        """The task folder's plan (written and published with the pass's batch)."""
        layout = self.layout
        with fsops.FolderPlan(layout.task_dir(task_id, TaskState.QUEUED)) as folder:
            folder.symlink(VOICE_NAME, voice)
            folder.symlink(MUSIC_NAME, music)
            if frame is not None:
                folder.symlink(FRAME_NAME, frame)
            names: dict[Path, str] = {}
            for clip in picked:
                if clip.path not in names:
                    names[clip.path] = Layout.video_part_name(len(names) + 1)
                    folder.symlink(names[clip.path], clip.path)
            order = [names[c.path] for c in picked]
            folder.write(VIDEO_LIST_NAME, video_list_text(order))
            logo_name = ""
            if logo is not None:
                logo_name = LOGO_STEM + logo.suffix.lower()
                folder.copy(logo_name, logo)
            meta = TaskMeta(
                task_id=task_id, category=category, story_name=story, voice_file=VOICE_NAME,
                voice_duration=round(voice_seconds, 6), music_file=MUSIC_NAME,
                voice_channels=voicerecord.channels(voice),  # ingest's count: the node need not probe
                video_files=order,
                render=RenderSpec.from_settings(self.project.settings.profile(profile).render, logo_name),
                chapter=chapter, profile=profile, created_at=iso_utc(),
                music_source=layout.relative(music),
                video_sources=[layout.relative(c.path) for c in picked],
                captions=self._copy_captions(captions, folder, profile),
                title=story_title(story),
                frame_file=FRAME_NAME if frame is not None else "",
                frame_source=layout.relative(frame) if frame is not None else "",
            )
            folder.write(METADATA_NAME, dump(meta))
            return folder

    def _copy_captions(self, captions: CaptionSource | None, folder: fsops.FolderPlan,
                       profile: str = MAIN_PROFILE) -> CaptionSpec | None:
        """Copy the chapter's text and font into the task folder; its metadata block."""
        if captions is None:
            return None
        folder.copy(CAPTIONS_TEXT_NAME, captions.text)
        story_file = CAPTIONS_TEXT_NAME
        if captions.chunks != [captions.text]:
            story_file = CAPTIONS_STORY_NAME
            whole = "\n".join(c.read_text(encoding="utf-8", errors="replace") for c in captions.chunks)
            folder.write(story_file, whole)
        names = []
        for face in captions.faces:
            names.append(FONT_PREFIX + face.name)
            folder.copy(names[-1], face)
        words_file = ""
        if captions.words is not None:
            words_file = NARRATION_WORDS_NAME
            folder.copy(words_file, captions.words)
        resolved = self.project.settings.profile(profile).captions.resolved().model_dump()
        return CaptionSpec.model_validate({**resolved, "source": self.layout.relative(captions.text),
                                           "font_files": names, "story_file": story_file,
                                           "words_file": words_file})

    # -- captions ------------------------------------------------------------------
    def _captions(self, chapter: str, category: str, story: str, voice: Path,
                  profile: str = MAIN_PROFILE) -> CaptionSource | None | Waiting:
        """The text and font a chapter's captions need; None when it gets none (captions
        off, or its story has no text for it), a Waiting when the font is not installed.

        The text is the chapter's own chunk (chapter_NNNN.mp3 narrates chunk_NNNN.txt; a
        chapter numbered past the last chunk gets the last), with the story's whole text
        beside it: the node finds the span the chapter narrates where that is not the chunk."""
        settings = self.project.settings.profile(profile).captions
        found = CHAPTER_RE.match(voice.name)
        if not settings.enabled or found is None:
            return None
        text = self.layout.scanned_chunk(category, story, int(found.group(1)))
        chunks = self.layout.scanned_chunks(category, story)
        if not chunks:
            log.info("No captions for %s: its story has no text %s", chapter, text.name)
            return None
        if not text.is_file():  # more chapters than chunks: the node finds the span it narrates
            text = chunks[-1]
        try:
            faces = {find_font(settings.font)} | ({find_font(settings.font, bold=True)} if settings.bold else set())
        except FontMissing as exc:
            self._warn_once(chapter, f"font {profile}", "Waiting to create a task for %s, profile %s: %s",
                            chapter, profile, exc.reason)
            return Waiting(chapter, WaitReason.FONT_MISSING, f"the caption font {settings.font!r} "
                           f"([{profile_section(profile, 'captions')}] font) is not installed")
        self._warned.discard((chapter, f"font {profile}"))
        made, words = voicerecord.narration(voice), Layout.voice_words(voice)
        if made is not None and made.source == self.layout.relative(text) and words.is_file():
            return CaptionSource(text, sorted(faces), [text], words)  # spoken from this chunk, word by word
        return CaptionSource(text, sorted(faces), chunks)

    # -- helpers -------------------------------------------------------------------
    def _listed(self, kind: AssetKind, category: str) -> list[Path]:
        """A category's scanned music, clips or frames (the default category's when it has
        none), listed once a pass: every chapter of the category picks from the same."""
        key = (str(kind), category)
        if key not in self._listings:
            layout = self.layout
            find = layout.scanned_music_files if kind == AssetKind.MUSIC else (
                lambda c: layout.scanned_clips(kind, c))
            self._listings[key] = self._with_fallback(category, find)
        return self._listings[key]

    def _with_fallback(self, category: str, find: Callable[[str], list[Path]]) -> list[Path]:
        found = find(category)
        default = self.project.settings.plan.default_category
        if not found and default and default != category:
            found = find(default)
        return found

    def _logo(self, profile: str = MAIN_PROFILE) -> Path | None | bool:
        """The profile's logo file, None when none is configured, False when it is missing."""
        setting = self.project.settings.profile(profile).render.logo
        if not setting:
            return None
        path = Path(setting)
        path = path if path.is_absolute() else self.layout.root / path
        if not path.is_file():
            self._warn_once("*", f"logo {profile}", "No %s tasks are created: the logo %s (%s.logo) does not exist",
                            profile, path, profile_section(profile, "render"))
            return False
        self._warned.discard(("*", f"logo {profile}"))
        return path

    def _rng(self, chapter: str) -> random.Random:
        seed = self.project.settings.plan.seed
        return random.Random(f"{seed}:{chapter}") if seed is not None else random.Random()

    def _duration(self, path: Path) -> float | None:
        """A file's duration: a voice chapter's from the record ingest left beside it, any
        other file's (or a voice without a matching record) from ffprobe. Kept per mtime."""
        try:
            st = path.stat()
        except OSError:
            return None
        key = (str(path), st.st_mtime_ns)
        if key not in self._durations:
            self._durations[key] = voicerecord.duration(path, st) or self._probed_duration(path)
        return self._durations[key]

    def _probed_duration(self, path: Path) -> float | None:
        try:
            return probe(path).duration
        except MediaError as exc:
            log.warning("Cannot read the duration of %s: %s", self.layout.relative(path), exc.reason)
            return None

    def _clip_seconds(self, path: Path) -> float | None:
        return Layout.duration_from_scanned_name(path) or self._duration(path)

    def _warn_once(self, chapter: str, what: str, message: str, *args: object) -> None:
        if (chapter, what) not in self._warned:
            self._warned.add((chapter, what))
            log.warning(message, *args)


# A folder's mtime this close to the listing that read it may hide a change made in the
# same tick of the filesystem's clock (s).
RACY_SECONDS = 2.0


class VoiceList:
    """The scanned voice chapters, listed again only when ingest filed something or every
    `rescan_seconds` (for voices moved in or out by hand; less often when one listing costs
    more than rescans.LISTING_SHARE of a core). A full listing lists a story's voice/ folder
    only when its mtime changed since the last listing: one stat per story instead of two
    directory listings. An mtime within RACY_SECONDS of the listing that read it is not
    trusted (a change in the same clock tick leaves it as it was): that folder is listed
    again next time."""

    def __init__(self, layout: Layout, rescan_seconds: float, *,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.layout = layout
        self.rescan = Rescan(rescan_seconds, monotonic=monotonic)
        self._voices: list[Path] = []
        self._folders: dict[str, tuple[int, list[Path]]] = {}  # voice/ folder → (mtime, chapters)
        self.generation = 0  # counts changes of the list

    def changed(self) -> None:
        self.rescan.now()

    def current(self) -> list[Path]:
        if self.rescan.due():
            self.rescan.begin()
            found = self._list()
            if found != self._voices:
                self._voices = found
                self.generation += 1
            self.rescan.done()
        return self._voices

    def _list(self) -> list[Path]:
        trusted_before = time.time_ns() - int(RACY_SECONDS * 1e9)
        folders: dict[str, tuple[int, list[Path]]] = {}
        found: list[Path] = []
        for story in self.layout.scanned_stories():
            voice = f"{story}{os.sep}voice"
            try:
                mtime = os.stat(voice).st_mtime_ns
            except OSError:
                continue
            known = self._folders.get(voice)
            if known is None or known[0] != mtime or mtime >= trusted_before:
                known = (mtime, self.layout.voices_in(Path(voice)))
            folders[voice] = known
            found += known[1]
        self._folders = folders
        return sorted(found)


def video_list_text(names: list[str]) -> str:
    """ffconcat text naming plain files of the task folder (safe mode accepts them)."""
    return "ffconcat version 1.0\n" + "".join(f"file {name}\n" for name in names)
