"""Find an installed font by family name through fontconfig (`fc-match`)."""

from __future__ import annotations

import shutil
from pathlib import Path

from storyreel.errors import ToolMissingError
from storyreel.media import run as runner

# fc-match answers from fontconfig's cache in milliseconds; a cold cache takes seconds.
FC_MATCH_TIMEOUT = 60.0


def font_file(family: str, *, bold: bool = False) -> tuple[str, Path] | None:
    """The (family, file) fontconfig matches for `family` (its bold face when `bold`), or
    None when it offers only another family (fontconfig always answers with something:
    a fallback is not a match)."""
    program = shutil.which("fc-match")
    if program is None:
        raise ToolMissingError("fc-match was not found on PATH: install fontconfig with "
                               "'sudo apt-get install fontconfig'")
    # A fontconfig pattern: "-", ":" and "," inside a family name are escaped.
    name = "".join(f"\\{char}" if char in "\\-:," else char for char in family)
    pattern = f"{name}:bold" if bold else name
    argv = [program, "-f", "%{family}\\n%{file}\\n", pattern]
    done = runner.run(argv, verb="find the font", path=family, timeout=FC_MATCH_TIMEOUT)
    lines = done.stdout.splitlines()
    if len(lines) < 2 or not lines[1].strip():
        return None
    families = [name.strip().casefold() for name in lines[0].split(",")]
    if family.strip().casefold() not in families:
        return None
    return lines[0].split(",")[0].strip(), Path(lines[1].strip())
