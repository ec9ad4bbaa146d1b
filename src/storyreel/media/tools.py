"""Find ffmpeg and ffprobe once; honour FFMPEG/FFPROBE; fail with an install hint; ask
ffmpeg once which encoders it was built with."""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

from storyreel.errors import ToolMissingError
from storyreel.media import run as runner

# Listing the encoders prints a fixed table at once; a hung ffmpeg must not hang a start.
LIST_TIMEOUT = 30.0

INSTALL_HINT = (
    "install it with 'sudo apt-get install ffmpeg' (Debian/Ubuntu), 'brew install ffmpeg' (macOS) "
    "or set {var} to the program's path"
)


def _find(name: str, env_var: str) -> str:
    override = os.environ.get(env_var)
    if override:
        path = Path(override)
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
        found = shutil.which(override)
        if found:
            return found
        raise ToolMissingError(f"{env_var}={override} is not an executable program")
    found = shutil.which(name)
    if not found:
        raise ToolMissingError(f"{name} was not found on PATH: " + INSTALL_HINT.format(var=env_var))
    return found


@functools.cache
def ffmpeg() -> str:
    """Path of the ffmpeg program."""
    return _find("ffmpeg", "FFMPEG")


@functools.cache
def ffprobe() -> str:
    """Path of the ffprobe program."""
    return _find("ffprobe", "FFPROBE")


@functools.cache
def encoder_names() -> frozenset[str]:
    """The encoders this ffmpeg was built with (`ffmpeg -hide_banner -encoders`, asked once).

    Built in is not the same as working here (no GPU, no driver): render/encoders.py's
    test encode answers that."""
    done = runner.run([ffmpeg(), "-hide_banner", "-encoders"], verb="list the encoders of",
                      path=ffmpeg(), timeout=LIST_TIMEOUT)
    _, _, table = done.stdout.partition("------")
    # Each row: six capability letters, the encoder's name, its description.
    return frozenset(row.split()[1] for row in table.splitlines() if len(row.split()) > 1)


def media_arg(path: Path | str) -> str:
    """A path as ffmpeg should see it: `file:` so '-x.mp4' or 'a:b.mp4' stay file names."""
    return f"file:{Path(path)}"


def forget() -> None:
    """Drop cached look-ups (tests that change FFMPEG/FFPROBE call this)."""
    ffmpeg.cache_clear()
    ffprobe.cache_clear()
    encoder_names.cache_clear()
