"""A real full disk for the tests: a small tmpfs mounted on a test folder, filled up with a
filler file and freed again. Mounting needs root; without it the test is skipped."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

# The filler grows by this much per write: small enough to leave no usable space behind.
_BLOCK = 4096


class SmallDisk:
    """A small filesystem at `root` that the test fills up with a filler file and frees again."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler"

    def fill(self, leave: int = 0) -> None:
        """Fill the disk to the last byte, then give `leave` bytes back."""
        with open(self.filler, "ab", buffering=0) as fh:
            try:
                while True:
                    fh.write(b"\0" * _BLOCK)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        if leave:
            os.truncate(self.filler, max(0, self.filler.stat().st_size - leave))
        else:
            with pytest.raises(OSError):
                (self.root / "probe").write_bytes(b"\0" * 2 * _BLOCK)

    def free(self) -> None:
        self.filler.unlink()


@contextmanager
def small_disk_at(root: Path, size: str) -> Iterator[SmallDisk]:
    """A tmpfs of `size` (mount's notation: 256k, 16m) on the folder `root`, unmounted after."""
    root.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated with a small tmpfs, and mounting one needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(root)],
                             capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield SmallDisk(root)
    finally:
        subprocess.run(["umount", "--lazy", str(root)], check=True, stdin=subprocess.DEVNULL)
