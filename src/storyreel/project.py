"""A project root opened for work: its layout, settings, event log and token."""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from storyreel import config, fsops
from storyreel.config import Settings
from storyreel.errors import ConfigError
from storyreel.layout import Layout
from storyreel.logs import EventLog
from storyreel.scannedcounts import ScannedCounts


@dataclass
class Project:
    layout: Layout
    settings: Settings
    events: EventLog

    @classmethod
    def open(cls, root: Path | str) -> Project:
        """Open an initialised project root; a clear error when it is not one.

        Opening writes nothing: `status` and the dashboard only read, and the main worker
        makes missing folders once it holds the root lock (mainworker.recover)."""
        layout = Layout(root)
        if layout.root.exists() and not layout.root.is_dir():
            raise ConfigError(f"{layout.root} is a file, not a project folder")
        if not layout.root.is_dir():
            raise ConfigError(f"{layout.root} does not exist: run 'storyreel init {root}' first")
        if not layout.config_file.is_file():
            raise ConfigError(
                f"{layout.root} is not a storyreel project (no {layout.config_file.name}): "
                f"run 'storyreel init {root}' first"
            )
        settings = config.load(layout.config_file)
        return cls(layout, settings, EventLog(layout.events_file))

    @classmethod
    def init(cls, root: Path | str) -> Project:
        """Create the SPEC §2 folders, a commented storyreel.toml and an access token.

        Existing files are kept, so running init twice is harmless.
        """
        layout = Layout(root)
        try:
            for folder in layout.all_dirs():
                folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the project at {layout.root}: {_mkdir_problem(exc)}") from exc
        if not layout.config_file.exists():
            fsops.write_atomic(layout.config_file, config.default_toml())
        if not layout.token_file.exists():
            fsops.write_atomic(layout.token_file, secrets.token_urlsafe(32) + "\n")
            os.chmod(layout.token_file, 0o600)
        return cls.open(root)

    @cached_property
    def scanned_counts(self) -> ScannedCounts:
        """The files of each kind in scanned/, kept by the process that files them."""
        return ScannedCounts(self.layout, seconds=self.settings.plan.rescan_seconds)

    @property
    def token(self) -> str:
        """The bearer token render nodes must present (created by init)."""
        try:
            return self.layout.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the access token {self.layout.token_file}: {exc}") from exc

    def token_matches(self, presented: str) -> bool:
        """Compare a presented token in constant time."""
        return hmac.compare_digest(presented.encode(), self.token.encode())


def _mkdir_problem(exc: OSError) -> str:
    """Why a folder could not be made: the file in its way, or the system's reason."""
    path = Path(exc.filename) if exc.filename else None
    if isinstance(exc, FileExistsError | NotADirectoryError) and path is not None:
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), path)
        return f"{blocker} is a file, not a folder"
    return f"{exc.filename or ''}: {exc.strerror or exc}"
