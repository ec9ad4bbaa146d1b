"""SPEC §9 log lines and the JSON-lines event log that SPEC §10's metrics come from.

A log line is exactly::

    2025-11-10T18:03:44Z INFO main_worker "Moved file raw/video/a.mp4 → scanned/..."

The message is JSON-quoted, so a hostile file name with a newline or a quote can
never forge a second line. Neither the log file nor the event log stops the farm when
the disk is full: a line that cannot be written is counted, one WARN says writing
failed, and one WARN says how many lines were lost once writing works again.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TextIO

from storyreel.errors import ConfigError
from storyreel.layout import shown
from storyreel.linefile import LineFile, Losses
from storyreel.units import plural

# Components named in SPEC §9's examples, plus the crawler.
MAIN_WORKER = "main_worker"
RENDER_WORKER = "render_worker"

_LEVEL_NAMES = {"WARNING": "WARN", "CRITICAL": "ERROR"}
_ROOT_LOGGER = "storyreel"


def iso_utc(ts: float | None = None) -> str:
    """`2025-11-10T18:03:44Z`."""
    moment = datetime.fromtimestamp(time.time() if ts is None else ts, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class SpecFormatter(logging.Formatter):
    """`[ISO_TIMESTAMP] [LEVEL] [COMPONENT] "[MESSAGE]"` with UTC and `Z`."""

    def format(self, record: logging.LogRecord) -> str:
        level = _LEVEL_NAMES.get(record.levelname, record.levelname)
        parts = record.name.split(".")
        component = parts[1] if len(parts) > 1 and parts[0] == _ROOT_LOGGER else record.name
        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            message = f"{message}: {record.exc_info[1]}"
        # shown(): a name's bytes that are not UTF-8 read as \xff instead of breaking the line.
        return f"{iso_utc(record.created)} {level} {component} {json.dumps(shown(message), ensure_ascii=False)}"


def get_logger(component: str) -> logging.Logger:
    """The logger of one SPEC §9 component (main_worker, render_worker, …)."""
    return logging.getLogger(f"{_ROOT_LOGGER}.{component}")


_log = get_logger(MAIN_WORKER)  # the event log is written by the main worker


# The levels an operator may write (any case); WARNING and CRITICAL are Python's spellings.
LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
          "WARNING": logging.WARNING, "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL}
LEVELS_TEXT = "DEBUG, INFO, WARN or ERROR"


def parse_level(name: str) -> int:
    """A log level by name ("" is INFO); ConfigError naming the allowed ones otherwise."""
    if not name:
        return logging.INFO
    try:
        return LEVELS[name.upper()]
    except KeyError:
        raise ConfigError(f"unknown log level {name!r}: expected {LEVELS_TEXT}") from None


# While a progress bar is on the terminal, console lines go through its printer (see
# `print_console_through`); None: straight to the console stream.
_console_printer: Callable[[str], None] | None = None
# Held while a console line is written and while a progress bar starts or stops, so a line
# logged by another thread is never drawn over, erased by, or written beside a bar.
console_lock = threading.RLock()


def print_console_through(printer: Callable[[str], None] | None) -> None:
    """Send console log lines through `printer` (a progress bar's, which lifts the bar,
    prints the line on a line of its own and draws the bar again below); None: directly."""
    global _console_printer
    with console_lock:
        _console_printer = printer


class ConsoleHandler(logging.StreamHandler):
    """SPEC §9 lines on stderr, never on the same terminal line as a progress bar."""

    def emit(self, record: logging.LogRecord) -> None:
        with console_lock:
            printer = _console_printer
            if printer is None:
                super().emit(record)
                return
            try:
                printer(self.format(record))
            except Exception:
                self.handleError(record)


def setup_logging(
    log_file: Path | None = None, level: str = "INFO", stream: TextIO | None = None
) -> None:
    """Send storyreel's log lines to stderr and, when given, to a log file."""
    logger = logging.getLogger(_ROOT_LOGGER)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(parse_level(level))
    logger.propagate = False
    formatter = SpecFormatter()
    console = ConsoleHandler(stream or sys.stderr)
    console.setFormatter(formatter)
    logger.addHandler(console)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        file_handler = LogFileHandler(log_file, console=console.stream)
        file_handler.setFormatter(formatter)
        logger.addHandler(file_handler)


class LogFileHandler(logging.Handler):
    """SPEC §9 lines into the log file, surviving a full disk: the first line that cannot
    be written prints one WARN on the console, lost lines are counted, and the first line
    written again follows one WARN line saying how many were lost. Never a traceback."""

    def __init__(self, path: Path, console: TextIO) -> None:
        super().__init__()
        self.file = LineFile(path)
        self.file.append([])  # the log file exists from the start, as it always has
        self.console = console
        self.losses = Losses()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a bad format string in a log call: logging's own report
            self.handleError(record)
            return
        report: list[str] = []
        if self.losses.error is not None:
            report = [self._notice(record, f"Log file {self.file.path} written again: lost "
                                           f"{plural(self.losses.count, 'line')} while it could not be written "
                                           f"({self.losses.reason})")]
        try:
            self.file.append([*report, line])
        except OSError as exc:
            if self.losses.add(exc):
                self._to_console(self._notice(record, f"Cannot write the log file {self.file.path}: "
                                                      f"{self.losses.reason}; counting the lines lost "
                                                      f"until it can"))
            return
        if report:
            self.losses.settle()
            self._to_console(report[0])

    def _notice(self, record: logging.LogRecord, message: str) -> str:
        """A WARN line of the same component as `record`."""
        return self.format(logging.makeLogRecord(
            {"name": record.name, "levelno": logging.WARNING, "levelname": "WARNING", "msg": message}))

    def _to_console(self, line: str) -> None:
        try:
            with console_lock:
                if (printer := _console_printer) is not None:
                    printer(line)
                    return
                self.console.write(line + "\n")
                self.console.flush()
        except (OSError, ValueError):
            pass  # the console is gone as well: there is nowhere left to say it


class Event(StrEnum):
    """What the event log records. Stage events carry started/ended/seconds."""

    INGESTED = "ingested"  # path, dest, kind, seconds
    REJECTED = "rejected"  # path, dest, reason
    TASK_CREATED = "task_created"  # task_id, chapter, voice_duration
    NODE_REGISTERED = "node_registered"  # node, host, encoders, version
    NODE_LOST = "node_lost"  # node
    CLAIMED = "claimed"  # task_id, node, attempt
    DOWNLOADED = "downloaded"  # task_id, node, attempt, started, ended, seconds, bytes
    RENDERED = "rendered"  # task_id, node, attempt, started, ended, seconds, media_seconds, encoder
    UPLOADED = "uploaded"  # task_id, node, attempt, started, ended, seconds, bytes
    COMPLETED = "completed"  # task_id, node, attempt, media_seconds
    FAILED = "failed"  # task_id, node, attempt, reason
    REQUEUED = "requeued"  # task_id, node, attempt (the new attempt), reason
    RELEASED = "released"  # task_id, node, attempt
    SPLIT = "split"  # task_id, segments (the segment tasks its parts are rendered by)


class EventLog:
    """Append-only JSON lines in ROOT/logs/events.jsonl; thread-safe; one writer process.

    Each event reaches the disk (fsync) before `emit` returns (`emit_all`: several events,
    one write and one fsync). On a full disk an event is counted as lost instead of raising
    into the caller, with one WARN when writing starts failing and one saying how many
    events were lost once it works again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = LineFile(path, sync=True)
        self._losses = Losses()
        self._lock = threading.Lock()

    def emit(self, event: Event | str, **fields: Any) -> dict[str, Any]:
        return self.emit_all([(event, fields)])[0]

    def emit_all(self, events: list[tuple[Event | str, dict[str, Any]]]) -> list[dict[str, Any]]:
        """Several events in one write and one fsync (a planning pass's `task_created` lines):
        all of them reach the disk before it returns, or on a full disk all are counted lost."""
        now = round(time.time(), 3)
        records = [{"ts": now, "event": str(event), **fields} for event, fields in events]
        if not records:
            return records
        lines = [json.dumps(record, ensure_ascii=False, default=str) for record in records]
        with self._lock:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file.append(lines)
            except OSError as exc:
                if self._losses.add(exc, len(lines)):
                    _log.warning("Cannot write the event log %s: %s; counting the events lost until it can",
                                 self.path, self._losses.reason)
                return records
            if self._losses.error is not None:
                lost, reason = self._losses.settle()
                _log.warning("Event log %s written again: lost %s while it could not be written (%s)",
                             self.path, plural(lost, "event"), reason)
        return records


class EventReader:
    """The one reader of the event log. It keeps what it has read and, on each call, parses
    only the whole lines appended since; a line still being written (or torn by a killed
    writer) waits for its newline. A log that was replaced or truncated is read again
    from the start."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._events: list[dict[str, Any]] = []
        self._offset = 0
        self._inode: tuple[int, int] | None = None

    def events(self) -> list[dict[str, Any]]:
        """Every event in the log so far."""
        with self._lock:
            appended = self._appended()  # may start over, on a replaced log
            self._events.extend(appended)
            return list(self._events)

    def new_events(self) -> list[dict[str, Any]]:
        """The events appended since the last call, without keeping them."""
        with self._lock:
            return self._appended()

    def _appended(self) -> list[dict[str, Any]]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._events, self._offset, self._inode = [], 0, None
            return []
        inode = (st.st_dev, st.st_ino)
        if inode != self._inode or st.st_size < self._offset:
            self._events, self._offset, self._inode = [], 0, inode  # replaced or truncated
        if st.st_size <= self._offset:
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            data = fh.read(st.st_size - self._offset)
        complete = data.rfind(b"\n") + 1
        self._offset += complete
        return [record for line in data[:complete].decode("utf-8", errors="replace").splitlines()
                if (record := parse_event(line)) is not None]


def parse_event(line: str) -> dict[str, Any] | None:
    """One line of the event log as a record, or None for a blank, torn or foreign line."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and "event" in record else None


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """Every event in the log, read once; a torn last line (killed writer) is skipped."""
    yield from EventReader(path).new_events()
