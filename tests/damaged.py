"""Damaged copies of real media, made in Python: bytes a bad disk or a broken copy garbles."""

from __future__ import annotations

import random
import struct
from pathlib import Path


def mdat_span(data: bytes) -> tuple[int, int]:
    """Start and end of the payload of an mp4's top-level mdat box."""
    at = 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at:at + 8])
        head = 8
        if size == 1:
            size, head = struct.unpack(">Q", data[at + 8:at + 16])[0], 16
        elif size == 0:
            size = len(data) - at
        if kind == b"mdat":
            return at + head, at + size
        at += size
    raise ValueError("no mdat box")


def garble_middle(src: Path, dst: Path, *, length: int = 4000, seed: int = 1) -> Path:
    """Copy an mp4 with `length` random bytes written over the middle of its media data;
    its headers, first and last seconds stay intact."""
    data = bytearray(Path(src).read_bytes())
    start, end = mdat_span(bytes(data))
    middle = (start + end) // 2 - length // 2
    data[middle:middle + length] = random.Random(seed).randbytes(length)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(bytes(data))
    return dst
