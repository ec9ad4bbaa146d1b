"""A finished render coming back from a node: receive → verify → publish.

Before a byte is read the upload is fenced (its attempt must hold the task) and sized:
an announced size over `[coordinator] max_upload_gb` is refused (413), one over the free
space above `[disk] floor_gb` asked for again later (507). The bytes stream into a hidden
part file inside processing/<id>/ while their sha256 is computed, stopping at one byte
past the announced size (413); the size and digest must be the ones the node announced;
ffprobe must find a video and an audio stream lasting the voice. Only then does the coordinator
publish it as output/<id>/final.mp4 (lifecycle.complete) and end the hold.

A render sends its sidecars first (its thumbnail.jpg; a captioned one captions.srt,
captions.vtt, words.json; a narration its words.json and narration.json), each fenced the same way, checked (size, sha256, parsed, a JPEG)
and kept under a hidden name of its attempt in processing/<id>/ until the video publishes
them all in one rename.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio

from storyreel import fsops, taskmeta
from storyreel.diskspace import disk_full
from storyreel.errors import BadUpload, DiskFull, MediaError, UploadTooLarge
from storyreel.layout import FINAL_NAME
from storyreel.media.probe import MediaInfo, probe
from storyreel.protocol import (
    CAPTION_SIDECAR_NAMES,
    NARRATION_REPORT_NAME,
    NARRATION_SIDECAR_NAMES,
    SIDECAR_NAMES,
    THUMBNAIL_NAME,
    WORDS_NAME,
    NarrationReport,
)
from storyreel.units import human_size

# A JPEG starts with a start-of-image marker and ends with an end-of-image marker.
JPEG_START = b"\xff\xd8\xff"
JPEG_END = b"\xff\xd9"
# An upload's duration may differ from the voice's by this much: the renderer checks
# one frame; this second check only catches a truncated or wrong file.
DURATION_TOLERANCE = 0.5


def part_path(task_dir: Path) -> Path:
    """A hidden temp name in processing/<id>/ to stream an upload into."""
    return fsops.temp_path(task_dir, FINAL_NAME + ".part")


@dataclass
class Receipt:
    """What has arrived of an upload so far."""

    size: int = 0
    sha256: str = ""


def check_room(task_id: str, size: int, *, cap: int, spare: int) -> None:
    """Before a byte is read: UploadTooLarge for an announced size over `cap` (it will never
    be taken), DiskFull for one over the `spare` space above the disk floor (it may be later)."""
    if size > cap:
        raise UploadTooLarge(f"upload of task {task_id} announces {human_size(size)}, over the "
                             f"{human_size(cap)} [coordinator] max_upload_gb allows")
    if size > spare:
        raise DiskFull(f"upload of task {task_id} announces {human_size(size)} and the main worker has "
                       f"{human_size(spare)} free above its disk floor")


async def receive(chunks: AsyncIterator[bytes], part: Path, receipt: Receipt, limit: int) -> Receipt:
    """Stream the body into `part`, counting and hashing it into `receipt` as it comes (so a
    transfer that breaks off still tells how far it got). UploadTooLarge as soon as more
    than `limit` bytes came. On a full disk the rest of the body (at most `limit` + 1 bytes
    in all) is read and dropped before DiskFull is raised, so the node hears the answer
    instead of a connection torn down under its upload."""
    digest = hashlib.sha256()
    full: OSError | None = None
    # Unbuffered: a full disk shows at the write that meets it, never at a later close.
    async with await anyio.open_file(part, "wb", buffering=0) as fh:
        async for chunk in chunks:
            receipt.size += len(chunk)
            if receipt.size > limit:
                raise UploadTooLarge(f"upload of task {part.parent.name} goes on past the "
                                     f"{human_size(limit)} announced")
            if full is None:
                digest.update(chunk)
                full = await _write(fh, chunk)
    if full is not None:
        raise DiskFull(f"upload of task {part.parent.name} found the disk full after "
                       f"{human_size(receipt.size)}: {full.strerror}") from full
    receipt.sha256 = digest.hexdigest()
    return receipt


async def _write(fh: anyio.AsyncFile[bytes], chunk: bytes) -> OSError | None:
    """Write all of `chunk` (an unbuffered write may take part of it); the error when the
    disk is full, None when written."""
    view = memoryview(chunk)
    try:
        while view:
            view = view[await fh.write(view):]
    except OSError as exc:
        if not disk_full(exc):
            raise
        return exc
    return None


def check_announced(task_id: str, receipt: Receipt, size: int | None, sha256: str | None) -> None:
    """BadUpload unless what arrived is what the node said it sent (damaged in transit)."""
    if size is not None and receipt.size != size:
        raise BadUpload(f"upload of task {task_id} is {receipt.size} bytes, not the {size} announced")
    if sha256 and receipt.sha256 != sha256.lower():
        raise BadUpload(f"upload of task {task_id} has sha256 {receipt.sha256}, not the {sha256} announced")


def verify(task_id: str, task_dir: Path, part: Path) -> MediaInfo:
    """ffprobe the upload: a video and an audio stream lasting the voice (a narrate task's:
    audio alone, which ingest/narrated.py checks further). Returns what it found."""
    meta = taskmeta.read_raw(task_dir) or {}
    narration = taskmeta.kind_of(meta) == taskmeta.TaskKind.NARRATE
    if taskmeta.kind_of(meta) == taskmeta.TaskKind.SEGMENT:
        try:
            return probe(part)  # a part of the picture: coordinator/splits.py checks it
        except MediaError as exc:
            raise BadUpload(f"upload of segment task {task_id} is not a readable video: {exc.reason}") from exc
    try:
        info = probe(part)
    except MediaError as exc:
        what = "voice" if narration else "video"
        raise BadUpload(f"upload of task {task_id} is not a readable {what}: {exc.reason}") from exc
    if narration:
        if info.video or not info.audio:
            raise BadUpload(f"narration of task {task_id} is not audio alone")
        return info
    if not info.video or not info.audio:
        raise BadUpload(f"upload of task {task_id} lacks a video or an audio stream")
    expected = meta.get("voice_duration")
    if isinstance(expected, int | float) and info.duration is not None \
            and abs(info.duration - expected) > DURATION_TOLERANCE:
        raise BadUpload(f"upload of task {task_id} lasts {info.duration:.2f} s, "
                        f"the voice {expected:.2f} s")
    return info


def kind(task_dir: Path) -> taskmeta.TaskKind:
    """The kind of the held task in `task_dir`."""
    return taskmeta.kind_of(taskmeta.read_raw(task_dir))


def loudness_record(info: MediaInfo) -> dict[str, float] | None:
    """The loudness the render wrote into the video's tags (integrated LUFS, true peak dBTP),
    for the published metadata.json; None for a video without them."""
    try:
        return {"integrated_lufs": float(info.tags["loudness_integrated"]),
                "true_peak_dbtp": float(info.tags["loudness_true_peak"])}
    except (KeyError, ValueError):
        return None


def sidecar_path(task_dir: Path, attempt: int, name: str) -> Path:
    """Where a checked sidecar of `attempt` waits for its video in processing/<id>/."""
    return task_dir / f".sidecar-{attempt}-{name}"


def store_sidecar(task_id: str, task_dir: Path, attempt: int, name: str, body: bytes,
                  size: int, sha256: str) -> Path:
    """Check an uploaded sidecar (announced size and sha256, parses as its kind) and keep it."""
    receipt = Receipt(size=len(body), sha256=hashlib.sha256(body).hexdigest())
    check_announced(task_id, receipt, size, sha256)
    problem = sidecar_problem(name, body)
    if problem:
        raise BadUpload(f"sidecar {name} of task {task_id} {problem}")
    return fsops.write_atomic(sidecar_path(task_dir, attempt, name), body)


def sidecar_problem(name: str, body: bytes) -> str:
    """Why `body` is not a sidecar `name` ("" when it is one)."""
    import pysubs2
    from pydantic import ValidationError

    from storyreel.captions import Alignment

    if name not in SIDECAR_NAMES:
        return "is not a sidecar this farm takes"
    if name == THUMBNAIL_NAME:
        return "" if body.startswith(JPEG_START) and body.endswith(JPEG_END) else "is not a JPEG"
    try:
        text = body.decode("utf-8")
        if name == WORDS_NAME:
            Alignment.model_validate_json(text)
        elif name == NARRATION_REPORT_NAME:
            NarrationReport.model_validate_json(text)
        elif not pysubs2.SSAFile.from_string(text, format_=name.rpartition(".")[2]).events:
            return "has no cues"
    except (UnicodeDecodeError, ValidationError, ValueError, pysubs2.exceptions.Pysubs2Error) as exc:
        return f"does not parse: {exc}"
    return ""


def sidecars(task_id: str, task_dir: Path, attempt: int) -> dict[str, Path]:
    """The checked sidecars of `attempt`, by name. A captioned task must have all of them
    (BadUpload), so its video is never published without its captions."""
    found = {n: p for n in SIDECAR_NAMES if (p := sidecar_path(task_dir, attempt, n)).is_file()}
    meta = taskmeta.read_raw(task_dir) or {}
    if taskmeta.kind_of(meta) == taskmeta.TaskKind.NARRATE:
        missing = [n for n in NARRATION_SIDECAR_NAMES if n not in found]
        if missing:
            raise BadUpload(f"narration of task {task_id} came without {', '.join(missing)}")
        return found
    missing = [n for n in CAPTION_SIDECAR_NAMES if n not in found]
    if meta.get("captions") is not None and missing:
        raise BadUpload(f"upload of task {task_id} came without its captions: {', '.join(missing)}")
    return found
