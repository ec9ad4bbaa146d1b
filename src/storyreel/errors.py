"""Domain errors. Each carries the verb, the path and the reason, and reads as a sentence."""

from __future__ import annotations

from pathlib import Path


class StoryreelError(Exception):
    """Base of every error storyreel raises on purpose."""


class ConfigError(StoryreelError):
    """storyreel.toml is missing, unreadable or holds a bad value."""


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
