"""Run the storyreel command as an operator does: a subprocess, its exit code and output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# A command that checks its settings and stops answers at once; one that hangs is a bug.
COMMAND_TIMEOUT = 120.0


def storyreel(*args: str | Path, columns: int = 100, timeout: float = COMMAND_TIMEOUT) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "storyreel.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL, check=False)


def init_project(root: Path, toml: str = "") -> Path:
    """An initialised project; `toml` replaces its storyreel.toml when given."""
    done = storyreel("init", root)
    assert done.returncode == 0, done.stderr
    if toml:
        (root / "storyreel.toml").write_text(toml, encoding="utf-8")
    return root
