"""metadata.json of a task folder (SPEC §5), with everything a render node needs.

A task folder is self-contained: a node that downloaded its files knows how to
render it from this file alone, without the project's storyreel.toml.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from storyreel import fsops
from storyreel.captions.settings import CaptionSettings
from storyreel.config import MAIN_PROFILE, RenderSettings, validation_problems
from storyreel.errors import TaskMetaError
from storyreel.layout import METADATA_NAME, SPLIT_NAME, name_problem


def _plain_name(value: str) -> str:
    """A file name inside the task folder: no folders, nothing ffmpeg reads as an option."""
    problem = name_problem(value)
    if problem:
        raise ValueError(f"{value!r} is not a plain file name: {problem}")
    return value


class TaskKind(StrEnum):
    """What a task asks of a node: a video rendered, or a chapter's narration synthesized."""

    RENDER = "render"
    NARRATE = "narrate"
    SEGMENT = "segment"  # one part of a long chapter's picture, joined by its render task


def kind_of(metadata: dict[str, object] | None) -> TaskKind:
    """The kind of a task from its raw metadata.json: tasks made before narration existed
    (and anything unreadable) are renders."""
    value = (metadata or {}).get("kind")
    return TaskKind(value) if value in (TaskKind.NARRATE, TaskKind.SEGMENT) else TaskKind.RENDER


class RenderSpec(RenderSettings):
    """SPEC §5's `render` block: the project's render settings, resolved for one task.

    The fields and their bounds are `RenderSettings`' own, so a node renders from this
    block alone. Here `logo` is a file name inside the task folder ("" renders without
    a logo), and keys this version does not know are ignored.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    @field_validator("logo")
    @classmethod
    def _logo_name(cls, value: str) -> str:
        return _plain_name(value) if value else value

    @classmethod
    def from_settings(cls, settings: RenderSettings, logo_name: str) -> RenderSpec:
        return cls.model_validate({**settings.model_dump(), "logo": logo_name})


# A narrated voice's word timings, copied into each task rendered from it.
NARRATION_WORDS_NAME = "narration_words.json"
# A narrate task's copy of the chunk it speaks.
NARRATION_TEXT_NAME = "narration.txt"

# A captioned task's own copy of the chapter's text; its font files are plain names with
# this prefix (a node downloads a task's plain files only), gathered on the node into a
# folder of their own for libass (`fontsdir` reads every file in its folder).
CAPTIONS_TEXT_NAME = "captions.txt"
# The story's whole text (its chunks in order), for finding the span a chapter narrates
# when that is not its own chunk; a story of one chunk names CAPTIONS_TEXT_NAME instead.
CAPTIONS_STORY_NAME = "captions_story.txt"
FONT_PREFIX = "font_"


class CaptionSpec(CaptionSettings):
    """metadata.json's `captions` block: the project's [captions] settings resolved for one
    task, and the story text it was planned from (relative to the project root)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    source: str = ""  # scanned/story/<category>/<story>/chunk_NNNN.txt
    font_files: list[str] = []  # the font's faces in the task folder (FONT_PREFIX names)
    story_file: str = ""  # the story's whole text in the task folder; "": the chunk alone
    # The word timings a synthesized voice came with (NARRATION_WORDS_NAME in the task
    # folder): the captions use them as they are, with no alignment. "": align the voice.
    words_file: str = ""

    @field_validator("font_files")
    @classmethod
    def _font_names(cls, value: list[str]) -> list[str]:
        return [_plain_name(v) for v in value]

    @field_validator("story_file", "words_file")
    @classmethod
    def _story_name(cls, value: str) -> str:
        return _plain_name(value) if value else value


class TaskMeta(BaseModel):
    """The whole metadata.json."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    task_id: str
    category: str
    story_name: str
    voice_file: str
    voice_duration: float = Field(gt=0)
    # The voice's audio channels as ingest read them (0: not recorded, the node probes it).
    voice_channels: int = Field(0, ge=0)
    music_file: str
    video_files: list[str] = Field(min_length=1)  # in play order; a clip may repeat
    render: RenderSpec
    chapter: str = ""  # source chapter, relative to the project root
    # The profile `render` and `captions` were resolved from; a chapter has one task per
    # profile its category renders. Tasks made before profiles existed are "main".
    profile: str = MAIN_PROFILE
    created_at: str = ""
    music_source: str = ""  # scanned music file, relative to the project root
    video_sources: list[str] = []  # scanned clips, relative to the project root, in order
    # Captions: present when the story has the chapter's text and captions are enabled;
    # the text is CAPTIONS_TEXT_NAME and the font is `captions.font_files`, in the task folder.
    captions: CaptionSpec | None = None
    # The story's title as the title card and the thumbnail show it ("" reads the story name).
    title: str = Field("", max_length=200)
    # A frame clip laid over the picture: its name in the task folder ("" for none) and source.
    frame_file: str = ""
    frame_source: str = ""

    @field_validator("voice_file", "music_file")
    @classmethod
    def _names(cls, value: str) -> str:
        return _plain_name(value)

    @field_validator("frame_file")
    @classmethod
    def _frame_name(cls, value: str) -> str:
        return _plain_name(value) if value else value

    @property
    def story_title(self) -> str:
        """The title to show: the recorded one, else the story folder's name as words."""
        return self.title or story_title(self.story_name)

    @field_validator("video_files")
    @classmethod
    def _video_names(cls, value: list[str]) -> list[str]:
        return [_plain_name(v) for v in value]

    def input_names(self) -> list[str]:
        """Every file the render reads from the task folder (besides metadata.json)."""
        names = [self.voice_file, self.music_file, *dict.fromkeys(self.video_files)]
        if self.render.logo:
            names.append(self.render.logo)
        if self.captions is not None:
            names += _caption_names(self.captions)
        if self.frame_file:
            names.append(self.frame_file)
        return names


def _caption_names(captions: CaptionSpec) -> list[str]:
    """The files a captioned task carries for its captions."""
    names = [CAPTIONS_TEXT_NAME, *captions.font_files]
    if captions.story_file not in ("", CAPTIONS_TEXT_NAME):
        names.append(captions.story_file)
    if captions.words_file:
        names.append(captions.words_file)
    return names


class SegmentPart(BaseModel):
    """A segment task's `segment` block: which part of its render task's picture it makes.
    Clip indexes are into `video_files` (the render's play order); the geometry is
    render/segments.Segment's."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    parent: str  # the render task that joins the parts
    index: int = Field(ge=0)
    count: int = Field(ge=2)
    clips: list[int] = Field(min_length=1)
    start: int = Field(ge=0)  # its first frame in the whole picture
    frames: int = Field(gt=0)
    lead: int | None = None  # with fades: the clip whose end fades into clips[0]
    lead_from: float = Field(0.0, ge=0)
    lengths: list[float] | None = None
    fades: list[float] | None = None

    @property
    def reads(self) -> list[int]:
        """The clips it reads, in input order."""
        return ([self.lead] if self.lead is not None else []) + self.clips


class SegmentMeta(TaskMeta):
    """metadata.json of a segment task: its render task's metadata (the same clips, settings
    and captions) and the part it renders. Its folder holds only the files that part reads."""

    kind: Literal[TaskKind.SEGMENT] = TaskKind.SEGMENT
    segment: SegmentPart

    def input_names(self) -> list[str]:
        names = [*dict.fromkeys(self.video_files[k] for k in self.segment.reads)]
        if self.render.logo:
            names.append(self.render.logo)
        if self.captions is not None:  # the whole voice is aligned for the captions drawn here
            names += [self.voice_file, *_caption_names(self.captions)]
        return names


class SplitRecord(BaseModel):
    """split.json in a render task split into segment tasks: their ids in play order and
    each part's frames. Written before the segment tasks exist; each part is filed beside
    it (`Layout.part_name`) when its segment task is done."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    segments: list[str] = Field(min_length=2)
    frames: list[int] = Field(min_length=2)
    encoder: str = Field("", max_length=64)  # every part's, so they join by stream copy


class NarrationSpec(BaseModel):
    """A narrate task's `narration` block: what to speak, and with which engine and voice."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    engine: str = Field("auto", max_length=64)  # "auto": the best engine the node has
    voice: str = Field("", max_length=200)  # "": the engine's own default voice
    text_file: str = NARRATION_TEXT_NAME
    source: str = ""  # scanned/story/<category>/<story>/chunk_NNNN.txt
    text_sha256: str = ""
    words: int = Field(0, ge=0)  # words in the text, for the progress and the estimate

    @field_validator("text_file")
    @classmethod
    def _text_name(cls, value: str) -> str:
        return _plain_name(value)


class NarrateMeta(BaseModel):
    """metadata.json of a narrate task: one chunk of a story, to be spoken into the voice
    chapter of the same number (`chapter`, which does not exist yet)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: Literal[TaskKind.NARRATE] = TaskKind.NARRATE
    task_id: str
    category: str
    story_name: str
    chapter: str  # scanned/story/<category>/<story>/voice/chapter_NNNN.mp3, filed when done
    narration: NarrationSpec
    created_at: str = ""
    title: str = Field("", max_length=200)

    def input_names(self) -> list[str]:
        return [self.narration.text_file]


def read_narrate(task_dir: Path) -> NarrateMeta:
    """Load and check a narrate task's metadata.json."""
    return _load(task_dir, NarrateMeta)


def story_title(story_name: str) -> str:
    """A story folder's name as a title: `dragon_flight` → `Dragon Flight`."""
    words = story_name.replace("_", " ").replace("-", " ").split()
    return " ".join(w[:1].upper() + w[1:] for w in words) or story_name


def read(task_dir: Path) -> TaskMeta:
    """Load and check a task folder's metadata.json."""
    return _load(task_dir, TaskMeta)


_Model = TypeVar("_Model", bound=BaseModel)


def read_segment(task_dir: Path) -> SegmentMeta:
    """Load and check a segment task's metadata.json."""
    return _load(task_dir, SegmentMeta)


def _load(task_dir: Path, model: type[_Model]) -> _Model:
    path = Path(task_dir) / METADATA_NAME
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaskMetaError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return model.model_validate_json(text)
    except ValidationError as exc:
        raise TaskMetaError(f"cannot read {path}: {validation_problems(exc)}") from exc


def read_split(task_dir: Path) -> SplitRecord | None:
    """A render task's split.json, or None when it has none (or it cannot be read)."""
    try:
        return SplitRecord.model_validate_json((Path(task_dir) / SPLIT_NAME).read_text(encoding="utf-8"))
    except (OSError, ValidationError):
        return None


def dump(meta: BaseModel) -> str:
    """metadata.json's text."""
    return meta.model_dump_json(indent=2) + "\n"


def write(task_dir: Path, meta: TaskMeta | NarrateMeta) -> Path:
    """Write metadata.json atomically."""
    return fsops.write_atomic(Path(task_dir) / METADATA_NAME, dump(meta))


def read_raw(task_dir: Path) -> dict[str, object] | None:
    """metadata.json as plain JSON, unchecked; None when it is missing, unreadable or not an
    object. For readers that need one field (created_at, chapter, the forced encoder) and
    must not stop at a task whose metadata `read` would refuse."""
    import json

    try:
        data = json.loads((Path(task_dir) / METADATA_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
