"""The caption font: found by family name through fontconfig, copied into the task folder
so every node draws the same glyphs (libass reads it from there: `fontsdir`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from storyreel.errors import FilesystemError, FontMissing
from storyreel.media import fonts

INSTALL_HINT = "install it (fonts-dejavu-core has DejaVu Sans) or choose another [captions] font"


def find_font(family: str, *, bold: bool = False) -> Path:
    """The font file of `family` (its bold face when `bold`); FontMissing when not installed."""
    match = fonts.font_file(family, bold=bold)
    if match is None:
        raise FontMissing("find the font", family, f"fontconfig has no family {family!r}; {INSTALL_HINT}")
    return match[1]


def copy_font(family: str, folder: Path | str, *, bold: bool = False) -> Path:
    """Copy the font file(s) of `family` into `folder` (regular, and bold when asked);
    returns `folder`, the `fontsdir` for the ass filter."""
    folder = Path(folder)
    faces = {find_font(family)} | ({find_font(family, bold=True)} if bold else set())
    folder.mkdir(parents=True, exist_ok=True)
    for face in faces:
        dst = folder / face.name
        tmp = folder / f".{face.name}.tmp"
        try:
            shutil.copyfile(face, tmp)
            os.replace(tmp, dst)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise FilesystemError("copy the font", face, dst, exc.strerror or str(exc)) from exc
    return folder
