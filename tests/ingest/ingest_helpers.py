"""Helpers shared by the ingest tests: dropping files into raw/ and reading the outcome."""

from __future__ import annotations

import json
import re
from pathlib import Path

from storyreel.mainworker import MainWorker
from storyreel.project import Project

LINE_RE = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (DEBUG|INFO|WARN|ERROR) (\w+) "(.*)"$')


def drop(project: Project, rel: str, src: Path) -> Path:
    """Copy a media file to raw/<rel> as an operator would."""
    dst = project.layout.raw / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(src.read_bytes())
    return dst


def ingest_all(project: Project) -> None:
    MainWorker(project).run_once()


def log_messages(project: Project, level: str | None = None) -> list[str]:
    """The quoted messages of SPEC §9 lines in the project's log file (every line must match)."""
    messages = []
    for line in project.layout.log_file.read_text(encoding="utf-8").splitlines():
        m = LINE_RE.match(line)
        assert m, f"log line not in SPEC §9 format: {line!r}"
        if level is None or m.group(1) == level:
            messages.append(json.loads(f'"{m.group(3)}"'))
    return messages


def reason_of(trashed: Path) -> dict:
    return json.loads(trashed.with_name(trashed.name + ".reason.json").read_text(encoding="utf-8"))


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink())
