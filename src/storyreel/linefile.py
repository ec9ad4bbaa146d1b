"""Appending whole lines to a file that a full disk cannot break.

The log file and the event log are written a line at a time. When the disk fills up, a
write fails or is cut short. The cut-short part is taken back (or, when another writer
appended after it, ended with a newline before the next line), so every line in the file
stays whole; the caller counts the lines it could not write instead of raising.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
_NEWLINE = 0x0A


class LineFile:
    """Appends lines to one file. It is opened for each write, so a file rotated away or
    removed is simply started again."""

    def __init__(self, path: Path, *, sync: bool = False) -> None:
        self.path = path
        self.sync = sync
        self._torn = False  # the file ends in a fragment that another writer's line followed

    def append(self, lines: list[str]) -> None:
        """Write `lines` (each without its newline) at the end; OSError when the disk refuses."""
        torn = self._torn
        text = ("\n" if torn else "") + "".join(line + "\n" for line in lines)
        payload = text.encode("utf-8", errors="backslashreplace")  # undecodable names stay escaped
        fd = os.open(self.path, _APPEND, 0o644)
        try:
            self._write_all(fd, memoryview(payload), torn)
            if self.sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        self._torn = False

    def _write_all(self, fd: int, payload: memoryview, torn: bool) -> None:
        written = 0
        try:
            while written < len(payload):
                written += os.write(fd, payload[written:])
        except OSError:
            if written:
                self._take_back(fd, written, ends_line=payload[written - 1] == _NEWLINE, torn=torn)
            raise

    def _take_back(self, fd: int, written: int, *, ends_line: bool, torn: bool) -> None:
        """Remove the start of a write the disk cut short, so no torn line stays behind."""
        end = os.lseek(fd, 0, os.SEEK_CUR)  # just after what this write appended
        self._torn = not ends_line
        if os.fstat(fd).st_size == end:  # nothing appended after it: cut it off again
            os.ftruncate(fd, end - written)
            self._torn = torn


@dataclass
class Losses:
    """The lines a writer could not write since writing last failed, and why it failed."""

    error: OSError | None = None
    count: int = 0

    @property
    def reason(self) -> str:
        return (self.error.strerror or str(self.error)) if self.error else ""

    def add(self, error: OSError, lines: int = 1) -> bool:
        """Count lost lines; True when writing has just started failing (warn once, then)."""
        starting = self.error is None
        if starting:
            self.error = error
        self.count += lines
        return starting

    def settle(self) -> tuple[int, str]:
        """Writing works again: how many lines were lost meanwhile and why; starts over."""
        lost, reason = self.count, self.reason
        self.error, self.count = None, 0
        return lost, reason
