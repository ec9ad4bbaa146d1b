"""The two ends of ingest: file an asset into scanned/, or reject it into trash/invalid/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from storyreel import fsops
from storyreel.logs import MAIN_WORKER, Event, get_logger, iso_utc
from storyreel.project import Project

log = get_logger(MAIN_WORKER)


def rel(project: Project, path: Path) -> str:
    """A path as shown in log lines: relative to the project root when inside it."""
    try:
        return str(Path(path).relative_to(project.layout.root))
    except ValueError:
        return str(path)


def file_into(project: Project, src: Path, dst: Path, *, kind: str, **details: Any) -> Path:
    """Move a validated raw file to its scanned/ name; log and record the event."""
    fsops.move(src, dst)
    log.info("Moved file %s → %s", rel(project, src), rel(project, dst))
    project.events.emit(Event.INGESTED, path=rel(project, src), dest=rel(project, dst), kind=kind, **details)
    return dst


def reject(
    project: Project, path: Path, reason: str, *, detail: str | None = None, **extra: Any
) -> Path:
    """Move a raw file to trash/invalid/ (keeping its path under raw/) with a reason file.

    `detail` holds tool output such as ffprobe's error. If a file of that name is
    already in the trash, the new one gets a numbered name so nothing is lost.
    """
    layout = project.layout
    dest = layout.invalid_dest(path)
    counter = 1
    while dest.exists() or dest.is_symlink():
        dest = dest.with_name(f"{Path(path).stem}.{counter}{Path(path).suffix}")
        counter += 1
    record: dict[str, Any] = {
        "file": rel(project, path),
        "reason": reason,
        "rejected_at": iso_utc(),
        **extra,
    }
    if detail:
        record["detail"] = detail
    fsops.write_json(layout.reason_file(dest), record)
    fsops.move(path, dest)
    log.warning("Rejected %s → %s: %s", rel(project, path), rel(project, dest), reason)
    project.events.emit(Event.REJECTED, path=rel(project, path), dest=rel(project, dest), reason=reason)
    return dest
