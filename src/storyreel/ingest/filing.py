"""The two ends of ingest: file an asset into scanned/, or reject it into trash/invalid/."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from storyreel import fsops
from storyreel.errors import SourceChanged
from storyreel.ingest.watch import Signature, signature
from storyreel.layout import Layout, shown
from storyreel.logs import MAIN_WORKER, Event, get_logger, iso_utc
from storyreel.project import Project

log = get_logger(MAIN_WORKER)

# Files are checked in parallel but placed one at a time, so "is the name free?" and
# "take the name" cannot interleave between two threads.
_PLACING = threading.RLock()


def rel(project: Project, path: Path) -> str:
    """A path as shown in log lines and reason files: relative to the project root when
    inside it, with bytes that are not UTF-8 escaped (layout.shown)."""
    try:
        return shown(str(Path(path).relative_to(project.layout.root)))
    except ValueError:
        return shown(str(path))


def file_into(
    project: Project, src: Path, dst: Path, *, kind: str, expect: Signature | None = None,
    prepared: Path | None = None, **details: Any,
) -> Path:
    """Move a validated raw file to its scanned/ name; log and record the event.

    `prepared` is a processed copy (normalised music) written to a temp name in dst's
    folder: it takes dst's name and the original leaves raw/, surviving a kill between
    the two (fsops.Journal). `expect` is the signature the checks saw; if the raw file
    changed since, nothing moves and SourceChanged is raised. A name already taken in
    scanned/ sends the raw file to trash/invalid/ as a duplicate; the return value is
    then its place in the trash.
    """
    with _PLACING:
        if expect is not None and signature(src) != expect:
            raise SourceChanged(f"{rel(project, src)} changed while it was being checked")
        if dst.exists() or dst.is_symlink():
            if prepared is not None:
                prepared.unlink(missing_ok=True)
            return reject(
                project, src, "duplicate", detail=f"{rel(project, dst)} is already in scanned/",
                duplicate_of=rel(project, dst),
            )
        if prepared is None:
            fsops.move(src, dst)
        else:
            fsops.Journal(project.layout).replace_original(src, prepared, dst)
        project.scanned_counts.filed(dst)
    log.info("Moved file %s → %s", rel(project, src), rel(project, dst))
    project.events.emit(Event.INGESTED, path=rel(project, src), dest=rel(project, dst), kind=kind, **details)
    return dst


def reject(
    project: Project, path: Path, reason: str, *, detail: str | None = None,
    named_as: Path | None = None, **extra: Any
) -> Path:
    """Move a raw file to trash/invalid/ (keeping its path under raw/) with a reason file.

    `detail` holds tool output such as ffprobe's error. If a file of that name is
    already in the trash, the new one gets a numbered name so nothing is lost. Names
    that are not UTF-8 or too long are stored escaped or shortened (Layout.invalid_dest);
    the reason file names the raw path as shown in log lines. `named_as`: the scanned/ name
    a file from elsewhere (a node's narration) would have had, for its trash name.
    """
    layout, reason = project.layout, shown(reason)
    with _PLACING:
        first = dest = layout.invalid_dest(named_as or path)
        counter = 1
        while os.path.lexists(dest):
            dest = Layout.invalid_twin(first, counter)
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
        project.scanned_counts.taken(path)  # a synthesized voice leaving scanned/
    # A duplicate names the file it duplicates, so the operator can compare the two.
    logged = f"{reason} of {extra['duplicate_of']}" if "duplicate_of" in extra else reason
    log.warning("Rejected %s → %s: %s", rel(project, path), rel(project, dest), logged)
    project.events.emit(Event.REJECTED, path=rel(project, path), dest=rel(project, dest), reason=reason)
    return dest
