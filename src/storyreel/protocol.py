"""The farm's wire protocol: what render nodes and the coordinator say to each other.

The coordinator validates request bodies with these models and answers with them;
the node's client parses every answer into them. One class per message on both
sides of the HTTP boundary, so a field renamed on one side is renamed on the other.

    POST /api/v1/nodes/register          RegisterBody   → FarmSettings
    POST /api/v1/claim                   NodeBody       → ClaimReply (TaskGrant | null)
    GET  /api/v1/tasks/{id}/files/{n}    node, attempt  → bytes (SHA256_HEADER, SIZE_HEADER)
    POST /api/v1/tasks/{id}/heartbeat    HeartbeatBody  → HeartbeatReply
    PUT  /api/v1/tasks/{id}/output       bytes (SHA256_HEADER, SIZE_HEADER) → UploadReply
    POST /api/v1/tasks/{id}/failure      FailureReport  → FailureReply
    POST /api/v1/tasks/{id}/release      HeldBody       → 204
    POST /api/v1/events                  EventBody      → 204
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

API_PREFIX = "/api/v1"
# The sha256 of a file served to a node or uploaded by one (hex, lowercase).
SHA256_HEADER = "X-Storyreel-Sha256"
# The size in bytes an upload announces (Content-Length may be absent on a chunked body).
SIZE_HEADER = "X-Storyreel-Size"
# Longest stderr kept from a failure report; ffmpeg's error is at the end.
MAX_STDERR_CHARS = 1_000_000


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

    def details(self) -> dict[str, Any]:
        """The stage and timings given (for reason.json and the failed event)."""
        given = {"stage": self.stage, "started": self.started, "ended": self.ended, "seconds": self.seconds}
        return {k: v for k, v in given.items() if v not in (None, "")}


class EventBody(NodeBody):
    event: str = Field(min_length=1, max_length=32)
    fields: dict[str, Any] = Field(default_factory=dict)


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


class HeartbeatReply(_Reply):
    deadline: float
    attempt: int
    registered: bool = True  # False: the coordinator restarted and forgot us; register again


class UploadReply(_Reply):
    output: str  # output/<id>/final.mp4, relative to the project root
    bytes: int


class FailureReply(_Reply):
    moved_to: str  # trash/failed/<id>, relative to the project root
