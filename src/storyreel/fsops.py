"""Moves and writes that never leave a partial file under a final name.

Rules (ARCHITECTURE.md decision 6): files are moved, never deleted; a move is one
`os.replace`, or, across filesystems, a copy to a hidden temp name in the
destination folder + fsync + replace; a killed process leaves at worst a temp
name, which `sweep` removes at the next start. Replacing a file by a processed
version of it (normalised music) goes through a small journal so that a kill
between "new file in place" and "old file removed" is finished at restart.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from storyreel.errors import FilesystemError
from storyreel.layout import NAME_MAX, TEMP_PREFIX, Layout, cut_to_bytes

_COPY_BLOCK = 1 << 20


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "disk full"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    return exc.strerror or str(exc)


def temp_path(folder: Path, hint: str = "") -> Path:
    """A hidden, unique temp name inside `folder` (swept at start if left behind).

    The hint (usually the final name) is cut so the whole name stays within NAME_MAX
    bytes; the random part keeps it unique.
    """
    head = f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}-"
    return folder / (head + cut_to_bytes(hint, NAME_MAX - len(head)))


def fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def copy_into_place(src: Path, dst: Path) -> None:
    """Copy src to dst through a temp name in dst's folder; dst appears whole or not at all."""
    tmp = temp_path(dst.parent, dst.name)
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout, _COPY_BLOCK)
            fout.flush()
            os.fsync(fout.fileno())
        shutil.copystat(src, tmp, follow_symlinks=True)
        os.replace(tmp, dst)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(dst.parent)


def move(src: Path, dst: Path, *, overwrite: bool = False) -> Path:
    """Move a file or folder to dst atomically; refuse to overwrite unless asked."""
    src, dst = Path(src), Path(dst)
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not overwrite and (dst.exists() or dst.is_symlink()):
            raise FilesystemError("move", src, dst, "destination already exists")
        try:
            os.replace(src, dst)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            if src.is_dir() and not src.is_symlink():
                tmp = temp_path(dst.parent, dst.name)
                shutil.copytree(src, tmp, symlinks=True)
                os.replace(tmp, dst)
                shutil.rmtree(src)
            else:
                copy_into_place(src, dst)
                src.unlink()
        fsync_dir(dst.parent)
    except OSError as exc:
        raise FilesystemError("move", src, dst, _reason(exc)) from exc
    return dst


def write_atomic(path: Path, data: bytes | str) -> Path:
    """Write a whole file through a temp name, fsync, replace."""
    path = Path(path)
    # A lone surrogate (a name's undecodable byte) is written as its \udcNN escape.
    raw = data.encode("utf-8", "backslashreplace") if isinstance(data, str) else data
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path(path.parent, path.name)
        try:
            with open(tmp, "wb") as fh:
                fh.write(raw)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(path.parent)
    except OSError as exc:
        raise FilesystemError("write", path, None, _reason(exc)) from exc
    return path


def write_json(path: Path, data: object) -> Path:
    return write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


class Journal:
    """Finishes "put the new file in place, then remove the original" after a kill."""

    def __init__(self, layout: Layout) -> None:
        self.folder = layout.journal

    def replace_original(self, original: Path, prepared: Path, dst: Path) -> Path:
        """Move `prepared` (a temp file in dst's folder) to dst, then remove `original`."""
        if dst.exists():
            raise FilesystemError("move", prepared, dst, "destination already exists")
        entry = self.folder / f"{uuid.uuid4().hex}.json"
        write_json(entry, {"original": str(original), "dst": str(dst)})
        try:
            os.replace(prepared, dst)
            fsync_dir(dst.parent)
            original.unlink(missing_ok=True)
            fsync_dir(original.parent)
        except OSError as exc:
            raise FilesystemError("replace", original, dst, _reason(exc)) from exc
        entry.unlink(missing_ok=True)
        return dst

    def recover(self) -> list[Path]:
        """Complete interrupted replacements; returns the originals removed."""
        removed: list[Path] = []
        if not self.folder.is_dir():
            return removed
        for entry in sorted(self.folder.glob("*.json")):
            try:
                data = json.loads(entry.read_text(encoding="utf-8"))
                original, dst = Path(data["original"]), Path(data["dst"])
            except (OSError, ValueError, KeyError, TypeError):
                entry.unlink(missing_ok=True)
                continue
            if dst.exists() and original.exists():
                original.unlink()
                removed.append(original)
            entry.unlink(missing_ok=True)
        return removed


def sweep(layout: Layout) -> list[Path]:
    """Remove temp names a killed process left in the folders storyreel writes."""
    removed: list[Path] = []
    for top in (layout.scanned, layout.tasks, layout.processing, layout.output, layout.trash, layout.state):
        if not top.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            for name in list(dirnames):
                if name.startswith(TEMP_PREFIX):
                    path = Path(dirpath) / name
                    shutil.rmtree(path, ignore_errors=True)
                    dirnames.remove(name)
                    removed.append(path)
            for name in filenames:
                if name.startswith(TEMP_PREFIX):
                    path = Path(dirpath) / name
                    path.unlink(missing_ok=True)
                    removed.append(path)
    return removed


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in blocks (task inputs and renders are large)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_COPY_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def free_bytes(path: Path) -> int:
    """Free space available to us on the filesystem holding `path`."""
    return shutil.disk_usage(path).free


class NewFolder:
    """A folder built under a hidden temp name beside its final name, then renamed into
    place whole: readers see all of it or nothing.

    Its files are written plainly (no temp name or fsync each: no one looks inside the
    temp folder) and made durable together by `publish`: every file's data, the folder's
    entries once, the rename, and the parent folder once. A kill before the rename leaves
    only the temp folder, which `sweep` removes at the next start; a crash after it leaves
    the folder under its temp name (swept) or whole under its final name, never a final
    folder with an empty or missing file. Used as a context manager, a failure inside the
    block removes the temp folder. Several folders are published together by `FolderBatch`.
    """

    def __init__(self, final: Path) -> None:
        self.final = Path(final)
        self.path = temp_path(self.final.parent, self.final.name)
        self._written: list[Path] = []

    def __enter__(self) -> NewFolder:
        self.path.mkdir(parents=True)
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self.discard()

    def discard(self) -> None:
        """Remove the temp folder (a folder that will not be published)."""
        shutil.rmtree(self.path, ignore_errors=True)

    def write(self, name: str, data: bytes | str) -> Path:
        """A file of the folder with these bytes (text as UTF-8, as `write_atomic`)."""
        raw = data.encode("utf-8", "backslashreplace") if isinstance(data, str) else data
        path = self.path / name
        try:
            path.write_bytes(raw)
        except OSError as exc:
            raise FilesystemError("write", path, None, _reason(exc)) from exc
        self._written.append(path)
        return path

    def copy(self, name: str, src: Path) -> Path:
        """A copy of `src` (bytes and times) as a file of the folder."""
        path = self.path / name
        try:
            shutil.copyfile(src, path)
            shutil.copystat(src, path, follow_symlinks=True)
        except OSError as exc:
            raise FilesystemError("copy", src, path, _reason(exc)) from exc
        self._written.append(path)
        return path

    def symlink(self, name: str, target: Path) -> None:
        """A relative symlink to `target`, relative to the folder's final place."""
        os.symlink(os.path.relpath(target, self.final), self.path / name)

    def to_sync(self) -> list[Path]:
        """What `publish` makes durable before the rename: every file written, then the folder."""
        return [*self._written, self.path]

    def publish(self) -> Path:
        """Make the files and entries durable, then rename the folder into place."""
        batch = FolderBatch()
        batch.add(self)
        published = batch.publish()
        if published.failed:
            raise published.failed[0][1]
        return self.final


# Fsyncs that wait side by side are committed together by the filesystem's journal, so a
# batch of folders costs a few commits instead of one per file; more threads add nothing.
SYNC_THREADS = 16


@dataclass
class Published:
    """What `FolderBatch.publish` did: the folders now under their final names, and those
    that could not be published (their temp folders removed), with why."""

    folders: list[NewFolder] = field(default_factory=list)
    failed: list[tuple[NewFolder, FilesystemError]] = field(default_factory=list)


class FolderBatch:
    """New folders published together, with the same guarantee as one `NewFolder`: every
    file and temp folder of the batch made durable (their fsyncs side by side), then every
    rename, then each parent folder once. A kill at any moment leaves each folder whole
    under its final name or only its temp folder, which `sweep` removes.

    `on_step` hears each step as it is reached (`synced`, `renamed` after each rename,
    `published`): the fault drills of the planner kill the process there."""

    def __init__(self, on_step: Callable[[str], None] | None = None) -> None:
        self._folders: list[NewFolder] = []
        self._on_step = on_step or (lambda _step: None)

    def __len__(self) -> int:
        return len(self._folders)

    def add(self, folder: NewFolder) -> None:
        """A built folder (its temp folder complete) to publish with the others."""
        self._folders.append(folder)

    def publish(self) -> Published:
        """Publish every folder added; the batch is empty again afterwards."""
        folders, self._folders = self._folders, []
        result = Published()
        if not folders:
            return result
        synced = []
        for folder, error in zip(folders, _sync_side_by_side([f.to_sync() for f in folders]), strict=True):
            if error is None:
                synced.append(folder)
            else:
                result.failed.append((folder, FilesystemError("move", folder.path, folder.final, _reason(error))))
        self._on_step("synced")
        for folder in synced:
            try:
                if folder.final.exists() or folder.final.is_symlink():
                    raise FilesystemError("move", folder.path, folder.final, "destination already exists")
                os.replace(folder.path, folder.final)
            except FilesystemError as exc:
                result.failed.append((folder, exc))
                continue
            except OSError as exc:
                result.failed.append((folder, FilesystemError("move", folder.path, folder.final, _reason(exc))))
                continue
            result.folders.append(folder)
            self._on_step("renamed")
        for parent in dict.fromkeys(f.final.parent for f in result.folders):
            fsync_dir(parent)
        for folder, _ in result.failed:
            folder.discard()
        self._on_step("published")
        return result


def _sync_side_by_side(groups: list[list[Path]]) -> list[OSError | None]:
    """fsync every path of every group, in threads; per group the first error, or None."""
    paths = [path for group in groups for path in group]
    if not paths:
        return []
    with ThreadPoolExecutor(max_workers=min(SYNC_THREADS, len(paths))) as pool:
        errors = list(pool.map(_fsync_error, paths))
    firsts, start = [], 0
    for group in groups:
        firsts.append(next((e for e in errors[start:start + len(group)] if e is not None), None))
        start += len(group)
    return firsts


def _fsync_error(path: Path) -> OSError | None:
    try:
        _fsync_file(path)
    except OSError as exc:
        return exc
    return None


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
