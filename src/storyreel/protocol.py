"""The farm's wire protocol: what render nodes and the coordinator say to each other.

The coordinator validates request bodies with these models and answers with them;
the node's client parses every answer into them. One class per message on both
sides of the HTTP boundary, so a field renamed on one side is renamed on the other.

    POST /api/v1/nodes/register          RegisterBody   → FarmSettings
    POST /api/v1/claim                   NodeBody       → ClaimReply (TaskGrant | null)
    GET  /api/v1/tasks/{id}/files/{n}    node, attempt  → bytes (SHA256_HEADER, SIZE_HEADER)
    POST /api/v1/tasks/{id}/heartbeat    HeartbeatBody  → HeartbeatReply
    PUT  /api/v1/tasks/{id}/sidecars/{n} bytes (SHA256_HEADER, SIZE_HEADER) → 204, before the output
    PUT  /api/v1/tasks/{id}/output       bytes (SHA256_HEADER, SIZE_HEADER) → UploadReply
    POST /api/v1/tasks/{id}/failure      FailureReport  → FailureReply
    POST /api/v1/tasks/{id}/release      HeldBody       → 204
    POST /api/v1/events                  EventBody      → 204 (Downloaded | Rendered | Uploaded)

The operator's steering (project token only, never a node token; see coordinator/control.py):

    POST /api/v1/control                 SteerRequest   → SteerReply
    GET  /api/v1/control/board           → SteerBoard (the tasks and nodes that can be steered)

A stage event is fenced like every task-scoped request (node, attempt) and carries only
typed, bounded figures: SPEC §10's metrics are computed from them.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from storyreel.layout import TASK_ID_RE, name_problem

API_PREFIX = "/api/v1"
# The sha256 of a file served to a node or uploaded by one (hex, lowercase).
SHA256_HEADER = "X-Storyreel-Sha256"
# The size in bytes an upload announces (Content-Length may be absent on a chunked body).
SIZE_HEADER = "X-Storyreel-Size"
# The files a render sends before its video, published with it in output/<id>/: a
# captioned render's captions (all of them, or the video is refused) and the thumbnail.
WORDS_NAME = "words.json"
CAPTION_SIDECAR_NAMES = ("captions.srt", "captions.vtt", WORDS_NAME)
THUMBNAIL_NAME = "thumbnail.jpg"
# A narration sends its word timings (WORDS_NAME) and this report before its voice.
NARRATION_REPORT_NAME = "narration.json"
SIDECAR_NAMES = (*CAPTION_SIDECAR_NAMES, THUMBNAIL_NAME, NARRATION_REPORT_NAME)
NARRATION_SIDECAR_NAMES = (WORDS_NAME, NARRATION_REPORT_NAME)
# The largest sidecar taken: a chapter's words.json is well under a megabyte, a thumbnail
# a few hundred kilobytes.
MAX_SIDECAR_BYTES = 32 << 20
# Longest stderr kept from a failure report; ffmpeg's error is at the end.
MAX_STDERR_CHARS = 1_000_000
# The longest one download, render or upload may report (s): a week is far beyond the
# slowest render of the longest chapter; a larger figure is a broken clock or a forgery.
MAX_STAGE_SECONDS = 7 * 24 * 3600.0
# The most bytes one download or upload may report: a task's inputs are tens of GB at most.
MAX_STAGE_BYTES = 1 << 40
# The longest video a render may report (s): no chapter's voice lasts a day.
MAX_MEDIA_SECONDS = 24 * 3600.0
# A stage's `seconds` may differ from ended − started by the rounding of each to the ms (s).
SPAN_TOLERANCE = 0.01
# Upload tries an uploaded event may report: far more than any upload_retries setting.
MAX_UPLOAD_TRIES = 100


class _Reply(BaseModel):
    """An answer: fields a newer coordinator adds are ignored by an older node."""

    model_config = ConfigDict(extra="ignore")


# -- requests -------------------------------------------------------------------------------
class NodeBody(BaseModel):
    node: str = Field(min_length=1, max_length=100)


class RegisterBody(NodeBody):
    host: str = Field("", max_length=255)
    encoders: list[str] = Field(default_factory=list, max_length=32)
    version: str = Field("", max_length=64)
    # The narration engines the node can run (narration.ENGINES names); none: it only renders.
    narrators: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=8)


class NarrationReport(BaseModel):
    """What a node says of a narration it made (narration.json, sent before the voice)."""

    model_config = ConfigDict(extra="ignore")

    engine: str = Field(min_length=1, max_length=64)
    voice: str = Field(max_length=200)
    duration: float = Field(gt=0, le=MAX_MEDIA_SECONDS)
    text_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    cpu_seconds: float = Field(0.0, ge=0, le=MAX_STAGE_SECONDS)


class HeldBody(NodeBody):
    """A request about a task the node holds: (node, attempt) is its fence."""

    attempt: int = Field(ge=1)


class TaskProgress(BaseModel):
    """How far a node is with a task, as its heartbeats report it. Tolerant: a figure that
    is not a number is read as unknown rather than refusing the heartbeat."""

    model_config = ConfigDict(extra="ignore")

    stage: str = ""
    percent: float | None = None
    eta_seconds: float | None = None
    speed: float | None = None

    @field_validator("stage", mode="before")
    @classmethod
    def _stage(cls, value: Any) -> str:
        return str(value or "")

    @field_validator("percent", "eta_seconds", "speed", mode="before")
    @classmethod
    def _number(cls, value: Any) -> float | None:
        return float(value) if isinstance(value, int | float) else None


class HeartbeatBody(HeldBody):
    progress: TaskProgress = Field(default_factory=TaskProgress)


class FailureReport(HeldBody):
    reason: str = Field(min_length=1, max_length=4000)
    stderr: str = Field("", max_length=MAX_STDERR_CHARS)
    stage: str = Field("", max_length=32)
    started: float | None = None
    ended: float | None = None
    seconds: float | None = None
    # The task-folder name of the clip the render could not decode (a clip of metadata.json's
    # video_files): the main worker trashes that clip and plans the chapter again without it.
    bad_input: str | None = Field(None, max_length=255)

    @field_validator("bad_input")
    @classmethod
    def _plain_name(cls, value: str | None) -> str | None:
        if value is not None and (problem := name_problem(value)):
            raise ValueError(f"not a file of the task folder: {problem}")
        return value

    def details(self) -> dict[str, Any]:
        """The stage and timings given (for reason.json and the failed event)."""
        given = {"stage": self.stage, "started": self.started, "ended": self.ended, "seconds": self.seconds}
        return {k: v for k, v in given.items() if v not in (None, "")}


class StageEvent(HeldBody):
    """A download, render or upload one attempt of a task went through, as its node reports
    it for the event log. Every figure is typed, finite, non-negative and bounded, and the
    span is whole (started <= ended, seconds = ended − started); nothing else is accepted."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    event: str
    task_id: str = Field(pattern=TASK_ID_RE.pattern)
    started: float = Field(ge=0)
    ended: float = Field(ge=0)
    seconds: float = Field(ge=0, le=MAX_STAGE_SECONDS)

    @model_validator(mode="after")
    def _whole_span(self) -> StageEvent:
        if self.started > self.ended:
            raise ValueError(f"started ({self.started}) is after ended ({self.ended})")
        if not math.isclose(self.ended - self.started, self.seconds, abs_tol=SPAN_TOLERANCE):
            raise ValueError(f"seconds ({self.seconds}) is not ended − started "
                             f"({self.ended - self.started:.3f})")
        return self

    def fields(self) -> dict[str, Any]:
        """What the event log records besides the event's kind and node."""
        return self.model_dump(exclude={"event", "node"})


class Downloaded(StageEvent):
    event: Literal["downloaded"] = "downloaded"
    bytes: int = Field(ge=0, le=MAX_STAGE_BYTES)
    in_place: bool = False  # read from the project root instead of fetched


class Rendered(StageEvent):
    event: Literal["rendered"] = "rendered"
    media_seconds: float = Field(ge=0, le=MAX_MEDIA_SECONDS)
    encoder: str = Field(min_length=1, max_length=64)


class Uploaded(StageEvent):
    event: Literal["uploaded"] = "uploaded"
    bytes: int = Field(ge=0, le=MAX_STAGE_BYTES)
    tries: int = Field(ge=1, le=MAX_UPLOAD_TRIES)


# The body of POST /events: one of the three stage events, told apart by `event`.
EventBody = Annotated[Downloaded | Rendered | Uploaded, Field(discriminator="event")]
EVENT_BODY: TypeAdapter[Downloaded | Rendered | Uploaded] = TypeAdapter(EventBody)


# -- replies --------------------------------------------------------------------------------
class FarmSettings(_Reply):
    """The register reply: the farm's settings a node works by."""

    root: str = ""  # the project root as the main worker sees it (nodes that see it read in place)
    lease_seconds: float
    heartbeat_seconds: float
    upload_retries: int = 3
    retry_backoff_seconds: float = 2.0
    poll_seconds: float = 2.0


class TaskFile(_Reply):
    """One input file of a granted task."""

    name: str
    size: int
    sha256: str


class TaskGrant(_Reply):
    """A claimed task: its lease (task id, attempt, deadline), metadata.json and files."""

    task_id: str
    attempt: int
    deadline: float
    metadata: dict[str, Any]
    files: list[TaskFile]


class ClaimReply(_Reply):
    task: TaskGrant | None = None
    reason: str | None = None  # why no task was given when the node may not claim (paused, draining)


class HeartbeatReply(_Reply):
    deadline: float
    attempt: int
    registered: bool = True  # False: the coordinator restarted and forgot us; register again
    # Set when the operator took the task back (cancelled, or this node paused): the node
    # stops its render at once, uploads nothing and forgets the task.
    revoked: str | None = None


class UploadReply(_Reply):
    output: str  # output/<id>/final.mp4, relative to the project root
    bytes: int


class FailureReply(_Reply):
    moved_to: str = ""  # trash/failed/<id>, relative to the project root ("" when queued again)
    requeued: bool = False  # queued again for another node (a soft failure)


# -- the operator's steering ----------------------------------------------------------------
class SteerAction(StrEnum):
    """What an operator can do to a task or a node."""

    CANCEL = "cancel"  # a queued or held task → trash/failed/ as cancelled
    RETRY = "retry"  # a failed task's chapter planned again (the failed folder stays)
    RETRY_FAILED = "retry-failed"  # every failed task's chapter planned again
    REPLAN = "replan"  # a queued task rebuilt with today's settings
    PAUSE = "pause"  # a node claims nothing; the tasks it holds go back to the queue
    RESUME = "resume"  # a paused or draining node claims again
    DRAIN = "drain"  # a node finishes what it holds and claims nothing new


NODE_ACTIONS = frozenset({SteerAction.PAUSE, SteerAction.RESUME, SteerAction.DRAIN})


class SteerRequest(BaseModel):
    """One action; `target` is a task (its id, an unambiguous id prefix, or
    category/story/chapter_NNNN) or, for the node actions, a node id."""

    model_config = ConfigDict(extra="forbid")

    action: SteerAction
    target: str = Field("", max_length=1000)

    @model_validator(mode="after")
    def _needs_target(self) -> SteerRequest:
        if self.action != SteerAction.RETRY_FAILED and not self.target.strip():
            raise ValueError(f"{self.action} needs a task or node to act on")
        return self


class SteerReply(_Reply):
    """What the action did, as one sentence per task or node it touched."""

    action: str
    task_ids: list[str] = []
    message: str


class SteerTask(_Reply):
    """A task the operator may act on, with the actions that apply to it now."""

    task_id: str
    state: str  # queued, processing, failed
    category: str = ""
    story: str = ""
    chapter: str = ""  # chapter_NNNN
    node: str = ""  # who holds it (processing)
    reason: str = ""  # why it failed (failed)
    actions: list[str] = []


class SteerNode(_Reply):
    node: str
    state: str  # idle, busy, lost, paused, draining
    reason: str = ""  # why it is paused (by the operator, or after failing tasks in a row)
    actions: list[str] = []


class SteerBoard(_Reply):
    tasks: list[SteerTask] = []
    nodes: list[SteerNode] = []
