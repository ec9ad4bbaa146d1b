"""A finished render coming back from a node: receive → verify → publish.

The bytes stream into a hidden part file inside processing/<id>/ while their sha256
is computed; the size and digest must be the ones the node announced; ffprobe must
find a video and an audio stream lasting the voice. Only then does the coordinator
publish it as output/<id>/final.mp4 (lifecycle.complete) and end the hold.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio

from storyreel import fsops, taskmeta
from storyreel.errors import BadUpload, MediaError
from storyreel.layout import FINAL_NAME
from storyreel.media.probe import probe

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


async def receive(chunks: AsyncIterator[bytes], part: Path, receipt: Receipt) -> Receipt:
    """Stream the body into `part`, counting and hashing it into `receipt` as it comes (so a
    transfer that breaks off still tells how far it got)."""
    digest = hashlib.sha256()
    async with await anyio.open_file(part, "wb") as fh:
        async for chunk in chunks:
            digest.update(chunk)
            receipt.size += len(chunk)
            await fh.write(chunk)
    receipt.sha256 = digest.hexdigest()
    return receipt


def check_announced(task_id: str, receipt: Receipt, size: int | None, sha256: str | None) -> None:
    """BadUpload unless what arrived is what the node said it sent (damaged in transit)."""
    if size is not None and receipt.size != size:
        raise BadUpload(f"upload of task {task_id} is {receipt.size} bytes, not the {size} announced")
    if sha256 and receipt.sha256 != sha256.lower():
        raise BadUpload(f"upload of task {task_id} has sha256 {receipt.sha256}, not the {sha256} announced")


def verify(task_id: str, task_dir: Path, part: Path) -> float | None:
    """ffprobe the upload: a video and an audio stream lasting the voice. Returns its duration."""
    try:
        info = probe(part)
    except MediaError as exc:
        raise BadUpload(f"upload of task {task_id} is not a readable video: {exc.reason}") from exc
    if not info.video or not info.audio:
        raise BadUpload(f"upload of task {task_id} lacks a video or an audio stream")
    expected = (taskmeta.read_raw(task_dir) or {}).get("voice_duration")
    if isinstance(expected, int | float) and info.duration is not None \
            and abs(info.duration - expected) > DURATION_TOLERANCE:
        raise BadUpload(f"upload of task {task_id} lasts {info.duration:.2f} s, "
                        f"the voice {expected:.2f} s")
    return info.duration
