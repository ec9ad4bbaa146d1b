"""What the folders hold right now: queue lengths, trash reasons, failures, log tail.

Read-only: nothing here moves, writes or deletes a file.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storyreel.layout import (
    FAILURE_REASON_NAME,
    FINAL_NAME,
    REASON_SUFFIX,
    STDERR_NAME,
    AssetKind,
    Layout,
    TaskState,
    is_ignored_name,
)

# Reasons are grouped by their text; this much of it is kept so one odd file name
# cannot make a table row unreadable.
REASON_CHARS = 160
# A failure shows the end of ffmpeg's stderr, where the error is.
STDERR_TAIL_LINES = 15
STDERR_TAIL_BYTES = 8192
# How much of the log file is read to show its last lines.
LOG_TAIL_BYTES = 65536


def count_files(folder: Path | str, skip_suffix: str | None = None) -> int:
    """Files under `folder` as os.walk sees them (a symlinked folder is neither entered nor
    counted), from each listing's entry types: no stat per entry, so 10,000 story folders
    count several times faster than os.walk walks them."""
    count = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir():
                    if not entry.is_symlink():
                        count += count_files(entry.path, skip_suffix)
                elif not (is_ignored_name(entry.name) or (skip_suffix and entry.name.endswith(skip_suffix))):
                    count += 1
    except OSError:
        return count
    return count


def queue_lengths(layout: Layout, *, scanned: dict[str, int] | None = None,
                  queued: int | None = None) -> dict[str, int]:
    """Items waiting or finished in each folder of SPEC §2. `scanned` ("scanned/<kind>" → n)
    and `queued` are counts kept by the main worker; the folders are counted when None."""
    lengths = {"raw": count_files(layout.raw)}
    for kind in AssetKind:
        key = f"scanned/{kind}"
        lengths[key] = scanned[key] if scanned is not None else count_files(layout.scanned / kind)
    lengths["tasks"] = queued if queued is not None else len(layout.task_ids(TaskState.QUEUED))
    lengths["processing"] = len(layout.task_ids(TaskState.PROCESSING))
    lengths["output"] = sum(
        1 for task_id in layout.task_ids(TaskState.DONE) if (layout.task_dir(task_id, TaskState.DONE) / FINAL_NAME).is_file()
    )
    lengths["trash/invalid"] = count_files(layout.invalid, skip_suffix=REASON_SUFFIX)
    lengths["trash/failed"] = len(layout.task_ids(TaskState.FAILED))
    return lengths


def _read_reason(path: Path) -> dict[str, Any]:
    """A reason file as a dict; an unreadable one says so instead of hiding the item."""
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        return {"reason": f"unreadable reason file: {exc}"}
    return data if isinstance(data, dict) else {"reason": str(data)}


def _short(reason: Any) -> str:
    text = " ".join(str(reason or "no reason given").split())
    return text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"


def invalid_reasons(layout: Layout) -> dict[str, int]:
    """How many files in trash/invalid/ were rejected for each reason, most common first."""
    counts: Counter[str] = Counter()
    for dirpath, _dirs, files in os.walk(layout.invalid):
        for name in files:
            if name.endswith(REASON_SUFFIX):
                counts[_short(_read_reason(Path(dirpath) / name).get("reason"))] += 1
    return dict(counts.most_common())


@dataclass
class Failure:
    task_id: str
    reason: str
    when: float
    stderr_tail: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"task_id": self.task_id, "reason": self.reason, "when": self.when, "stderr_tail": self.stderr_tail}


def _tail(path: Path, max_bytes: int, lines: int) -> list[str]:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - max_bytes))
            data = fh.read()
    except OSError:
        return []
    text = data.decode("utf-8", errors="replace").splitlines()
    if len(data) == max_bytes and text:
        text = text[1:]  # the first line was cut by the seek
    return [line for line in text if line.strip()][-lines:]


def failures(layout: Layout) -> list[Failure]:
    """Tasks in trash/failed/, newest first, each with its reason and stderr tail."""
    found: list[Failure] = []
    for task_id in layout.task_ids(TaskState.FAILED):
        folder = layout.task_dir(task_id, TaskState.FAILED)
        reason_file = folder / FAILURE_REASON_NAME
        try:
            when = (reason_file if reason_file.exists() else folder).stat().st_mtime
        except OSError:
            continue
        found.append(Failure(
            task_id=task_id, reason=_short(_read_reason(reason_file).get("reason")), when=when,
            stderr_tail=_tail(folder / STDERR_NAME, STDERR_TAIL_BYTES, STDERR_TAIL_LINES),
        ))
    found.sort(key=lambda f: f.when, reverse=True)
    return found


def failed_reasons(found: list[Failure]) -> dict[str, int]:
    return dict(Counter(f.reason for f in found).most_common())


def log_tail(layout: Layout, lines: int = 30) -> list[str]:
    """The last INFO, WARN and ERROR lines of the project's log file (DEBUG is for developers)."""
    kept = [line for line in _tail(layout.log_file, LOG_TAIL_BYTES, LOG_TAIL_BYTES)
            if line.split(" ", 2)[1:2] != ["DEBUG"]]
    return kept[-lines:]
