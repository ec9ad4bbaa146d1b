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

    def publish(self) -> Path:
        """Make the files and entries durable, then rename the folder into place."""
        batch = FolderBatch()
        batch.add(self)
        published = batch.publish()
        if published.failed:
            raise published.failed[0][1]
        return self.final

    def make_durable(self) -> None:
        """fsync every file written, then the folder's entries (before the rename)."""
        try:
            for path in [*self._written, self.path]:
                _fsync_file(path)
        except OSError as exc:
            raise FilesystemError("move", self.path, self.final, _reason(exc)) from exc


class FolderPlan:
    """A new folder described before anything is written: its files, copies and links,
    written under a temp name (a `NewFolder`) when a `FolderBatch` publishes it, side by
    side with the batch's other folders. Used as a context manager like `NewFolder`; a
    failure inside the block drops the description (nothing was written)."""

    def __init__(self, final: Path) -> None:
        self.final = Path(final)
        self._entries: list[Callable[[NewFolder], object]] = []

    def __enter__(self) -> FolderPlan:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self._entries.clear()

    def write(self, name: str, data: bytes | str) -> None:
        self._entries.append(lambda folder: folder.write(name, data))

    def copy(self, name: str, src: Path) -> None:
        self._entries.append(lambda folder: folder.copy(name, src))

    def symlink(self, name: str, target: Path) -> None:
        self._entries.append(lambda folder: folder.symlink(name, target))

    def build(self) -> NewFolder:
        """The folder written under its temp name (removed again when a step fails)."""
        with NewFolder(self.final) as folder:
            try:
                for entry in self._entries:
                    entry(folder)
            except OSError as exc:  # mkdir and symlink report plain OSErrors
                raise FilesystemError("write", folder.path, None, _reason(exc)) from exc
        return folder


# Folders of a batch written and fsynced this many at a time: fsyncs that wait side by
# side are committed together by the filesystem's journal, and the waits of one folder's
# writes overlap another's; more threads add nothing on a shared disk.
BUILD_THREADS = 16


@dataclass
class Published:
    """What `FolderBatch.publish` did: the final paths of the folders now in place, and of
    those that could not be published (nothing of them left behind), with why."""

    folders: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, FilesystemError]] = field(default_factory=list)


class FolderBatch:
    """New folders published together, with the same guarantee as one `NewFolder`: every
    folder written and made durable (its files, then its entries; the folders side by
    side), then every rename, then each parent folder once. A kill at any moment leaves
    each folder whole under its final name or only its temp folder, which `sweep` removes.

    `on_step` hears each step as it is reached (`synced`, `renamed` after each rename,
    `published`): the fault drills of the planner kill the process there."""

    def __init__(self, on_step: Callable[[str], None] | None = None) -> None:
        self._items: list[NewFolder | FolderPlan] = []
        self._on_step = on_step or (lambda _step: None)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, folder: NewFolder | FolderPlan) -> None:
        """A built folder, or the plan of one, to publish with the others."""
        self._items.append(folder)

    def publish(self) -> Published:
        """Publish every folder added; the batch is empty again afterwards."""
        items, self._items = self._items, []
        result = Published()
        if not items:
            return result
        with ThreadPoolExecutor(max_workers=min(BUILD_THREADS, len(items))) as pool:
            built = list(pool.map(_built, items))
            durable = list(pool.map(_synced, built))
        written = []
        for item, made in zip(items, durable, strict=True):
            if isinstance(made, FilesystemError):
                result.failed.append((item.final, made))
            else:
                written.append(made)
        self._on_step("synced")
        for folder in written:
            try:
                _rename_into_place(folder)
            except FilesystemError as exc:
                folder.discard()
                result.failed.append((folder.final, exc))
                continue
            result.folders.append(folder.final)
            self._on_step("renamed")
        for parent in dict.fromkeys(path.parent for path in result.folders):
            fsync_dir(parent)
        self._on_step("published")
        return result


def _built(item: NewFolder | FolderPlan) -> NewFolder | FilesystemError:
    """The folder written under its temp name (a plan's), or why it could not be."""
    try:
        return item.build() if isinstance(item, FolderPlan) else item
    except FilesystemError as exc:
        return exc


def _synced(built: NewFolder | FilesystemError) -> NewFolder | FilesystemError:
    """A written folder made durable under its temp name, or why it could not be (its temp
    folder removed)."""
    if isinstance(built, FilesystemError):
        return built
    try:
        built.make_durable()
    except FilesystemError as exc:
        built.discard()
        return exc
    return built


def _rename_into_place(folder: NewFolder) -> None:
    if folder.final.exists() or folder.final.is_symlink():
        raise FilesystemError("move", folder.path, folder.final, "destination already exists")
    try:
        os.replace(folder.path, folder.final)
    except OSError as exc:
        raise FilesystemError("move", folder.path, folder.final, _reason(exc)) from exc


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
