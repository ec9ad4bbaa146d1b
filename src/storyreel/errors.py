"""Every error storyreel raises on purpose. Each carries the verb, the path and the reason,
and reads as a sentence: "cannot move raw/video/a.mp4 → trash/invalid: disk full".

    StoryreelError
    ├── ConfigError            storyreel.toml, the token or a command-line value is unusable
    │   ├── BadSetting         one setting's value is not allowed (file, setting, value, what is)
    │   └── RootLocked         another main worker holds the project root
    ├── ToolMissingError       ffmpeg or ffprobe cannot be found
    ├── FilesystemError        a move, copy or write failed
    ├── MediaError             ffmpeg or ffprobe failed on a file
    │   └── RenderError        a render failed (its whole stderr kept)
    ├── TaskMetaError          metadata.json is missing, unreadable or names outside files
    ├── Unacceptable           a raw file failed validation: it goes to trash/invalid/
    ├── SourceChanged          a raw file changed while it was checked: look again later
    ├── LinkFileError          a link file holds no usable list of URLs
    ├── UnsafeURLError         a story URL must not be fetched (scheme, address, port)
    ├── FetchError             a story URL could not be fetched
    ├── ExtractError           a fetched page held no story text
    ├── CoordinatorError       the coordinator refuses a node's request (.status: HTTP)
    │   ├── UnknownTask        404
    │   ├── StaleLease         409: the attempt no longer holds the task
    │   ├── BadUpload          422: the upload is not the render it claims to be
    │   ├── UploadTooLarge     413: the upload is longer than announced or than the cap
    │   ├── DiskFull           507: the main worker's disk is full; send again later
    │   ├── BadEvent           422: a stage event that is not one (kind, figures, bounds)
    │   ├── DuplicateEvent     409: that attempt's stage event is already recorded
    │   ├── Revoked            410: the operator took the task back (cancelled, node paused)
    │   ├── SteerRefused       409: an operator's action does not apply (held, ambiguous name)
    │   └── UnregisteredNode   428: the node must register (again)
    ├── NodeError              a render node's request to the coordinator failed
    │   ├── Unauthorized       401: the token was refused
    │   ├── Unreachable        no answer, or 5xx: try again later
    │   │   └── CoordinatorFull  507: its disk is full; try again after .retry_after seconds
    │   ├── Untrusted          the coordinator's TLS certificate did not verify (--ca-file)
    │   ├── LeaseLost          409: our attempt no longer holds the task
    │   │   └── TaskRevoked    410: the operator cancelled the task or paused this node
    │   └── Refused            any other refusal; retrying will not help (.status)
    │       └── NotRegistered  428: register again
    ├── NodeProcessError       a local render node process could not start or died
    ├── SteerError             an operator's command could not reach or was refused by the main worker
    ├── CaptionError           captions cannot be made for a narration
    │   ├── FontMissing        the caption font family is not installed (fontconfig)
    │   └── AlignmentError     the narration could not be aligned to its text at all
    └── NarrationError         a text cannot be narrated (engine or voice unavailable, engine failed, cancelled)
"""

from __future__ import annotations

from pathlib import Path


class StoryreelError(Exception):
    """Base of every error storyreel raises on purpose."""


class ConfigError(StoryreelError):
    """storyreel.toml is missing, unreadable or holds a bad value."""


class BadSetting(ConfigError):
    """A setting whose value is not allowed: "bad setting in ROOT/storyreel.toml: [render]
    encoder = 'h265': expected auto or one of libx264, h264_nvenc"."""

    def __init__(self, where: str, setting: str, value: object, allowed: str) -> None:
        self.where = where
        self.setting = setting
        self.value = value
        self.allowed = allowed
        super().__init__(f"{where}: {setting} = {value!r}: {allowed}")


class ToolMissingError(StoryreelError):
    """ffmpeg or ffprobe cannot be found."""


class FilesystemError(StoryreelError):
    """A move, copy or write failed: "cannot move A → B: disk full"."""

    def __init__(self, verb: str, src: Path | str, dst: Path | str | None, reason: str) -> None:
        self.verb = verb
        self.src = Path(src)
        self.dst = Path(dst) if dst is not None else None
        self.reason = reason
        target = f" → {self.dst}" if self.dst is not None else ""
        super().__init__(f"cannot {verb} {self.src}{target}: {reason}")


class MediaError(StoryreelError):
    """ffmpeg or ffprobe failed on a file; keeps the return code and stderr's last lines."""

    def __init__(
        self, verb: str, path: Path | str, reason: str, *, returncode: int | None = None,
        stderr: str = "",
    ) -> None:
        self.verb = verb
        self.path = Path(path)
        self.reason = reason
        self.returncode = returncode
        self.stderr = stderr
        super().__init__(f"cannot {verb} {self.path}: {reason}")

    @property
    def stderr_tail(self) -> str:
        return "\n".join(self.stderr.strip().splitlines()[-10:])


class RenderError(MediaError):
    """A render failed: `.reason` says why in a sentence, `.stderr` is ffmpeg's whole stderr,
    `.bad_input` the task-folder name of the clip that could not be decoded (or is missing)."""

    def __init__(self, path: Path | str, reason: str, *, stderr: str = "",
                 returncode: int | None = None, bad_input: str | None = None) -> None:
        super().__init__("render", path, reason, returncode=returncode, stderr=stderr)
        self.bad_input = bad_input


class TaskMetaError(StoryreelError):
    """metadata.json is missing, unreadable or names files outside its task folder."""


# -- ingest ----------------------------------------------------------------------------
class Unacceptable(StoryreelError):
    """A raw file failed validation; it belongs in trash/invalid/ with this reason."""

    def __init__(self, reason: str, detail: str | None = None) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(reason)


class SourceChanged(StoryreelError):
    """The raw file changed while it was being checked; it is looked at again once still."""


# -- story links -------------------------------------------------------------------------
class LinkFileError(StoryreelError):
    """A link file that does not hold a usable list of URLs."""


class UnsafeURLError(StoryreelError):
    """A story URL that must not be fetched: "cannot fetch URL: blocked address …"."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot fetch {url}: {reason}")


class FetchError(StoryreelError):
    """A URL could not be fetched: "cannot fetch URL: HTTP 404"."""

    def __init__(self, url: str, reason: str, *, transient: bool = False) -> None:
        self.url = url
        self.reason = reason
        self.transient = transient
        super().__init__(f"cannot fetch {url}: {reason}")


class ExtractError(StoryreelError):
    """A page held no story text: "cannot extract URL: no text found"."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot extract {url}: {reason}")


# -- the coordinator's refusals (the HTTP status travels with them) ----------------------
class CoordinatorError(StoryreelError):
    """A node's request cannot be honoured; `status` is the HTTP answer. `logged` is set
    once the coordinator has logged the refusal its own way, so the API adds no line."""

    status = 400
    logged = False


class UnknownTask(CoordinatorError):
    status = 404


class StaleLease(CoordinatorError):
    """The request names an attempt that no longer holds the task."""

    status = 409


class BadUpload(CoordinatorError):
    """The uploaded file is not the render it claims to be (size, sha256 or content)."""

    status = 422


class UploadTooLarge(CoordinatorError):
    """An upload longer than its announced size, or announced over `[coordinator] max_upload_gb`."""

    status = 413


class DiskFull(CoordinatorError):
    """The main worker cannot store what the request brings (ENOSPC, EDQUOT, or an upload
    larger than the free space above `[disk] floor_gb`); the same request may go through
    once space returns, so nothing is lost or moved because of it."""

    status = 507
class BadEvent(CoordinatorError):
    """A node's stage event is not one: an unknown kind, a figure of the wrong type, out of
    its bounds, or a span that is not whole."""

    status = 422


class DuplicateEvent(CoordinatorError):
    """The stage event of that kind for that attempt is already in the event log."""

    status = 409


class Revoked(CoordinatorError):
    """The operator took the task back from this attempt: cancelled it, or paused its node.
    The node stops working on it and uploads nothing."""

    status = 410


class SteerRefused(CoordinatorError):
    """An operator's action does not apply: a held task cannot be replanned, a name matches
    several tasks, a finished task cannot be cancelled."""

    status = 409


class UnregisteredNode(CoordinatorError):
    status = 428


# -- a render node's view of the coordinator ---------------------------------------------
class NodeError(StoryreelError):
    """A request to the coordinator failed."""


class Unauthorized(NodeError):
    """The coordinator refused our token (401): nothing will work until it is fixed."""


class Unreachable(NodeError):
    """The coordinator did not answer (down, restarting, network trouble, 5xx)."""


class CoordinatorFull(Unreachable):
    """507: the coordinator's disk is full; the same request may go through after
    `retry_after` seconds, so it is waited out like an unreachable coordinator."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Untrusted(NodeError):
    """The coordinator's TLS certificate did not verify against the trusted CAs: asking
    again will not help until the node is given the right CA file."""


class LeaseLost(NodeError):
    """409: our attempt no longer holds the task (it expired and went to another node)."""


class TaskRevoked(LeaseLost):
    """410: the operator cancelled the task or paused this node; drop it, upload nothing."""


class Refused(NodeError):
    """The coordinator answered with an error that retrying the same request will not fix."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class NotRegistered(Refused):
    """428: the coordinator does not know us (it restarted); register again."""


class NodeProcessError(StoryreelError):
    """A local render node process could not be started or died."""


class SteerError(StoryreelError):
    """`storyreel cancel`, `retry`, `replan` or `node`: no main worker answers for the project
    (`status` 503), or it refused the action (the reason and `status` are its own)."""

    def __init__(self, message: str, status: int = 503) -> None:
        super().__init__(message)
        self.status = status


class RootLocked(ConfigError):
    """Another main worker holds the project root's lock."""


class CaptionError(StoryreelError):
    """Captions cannot be made: "cannot align tasks/x/voice.mp3: the text has no words"."""

    def __init__(self, verb: str, path: Path | str, reason: str) -> None:
        self.verb = verb
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot {verb} {self.path}: {reason}")


class FontMissing(CaptionError):
    """The caption font family is not installed: fontconfig offers only another family."""


class AlignmentError(CaptionError):
    """The narration could not be aligned to its text at all (no usable speech)."""


class NarrationError(StoryreelError):
    """A text cannot be narrated: "cannot narrate into tasks/x: engine 'piper' is not
    installed here (pip install 'storyreel[narration]')"."""

    def __init__(self, reason: str, *, path: Path | str | None = None) -> None:
        self.reason = reason
        self.path = Path(path) if path is not None else None
        where = f" into {self.path}" if self.path is not None else ""
        super().__init__(f"cannot narrate{where}: {reason}")
