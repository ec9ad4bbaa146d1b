"""`storyreel status`: the farm state from this project's running coordinator (live nodes
and render progress) when one answers, else built from the folders and the event log
(farmstate/remote.py, the one way every view finds the coordinator). statusview.py prints it.
"""

from __future__ import annotations

from pathlib import Path

from storyreel import metrics
from storyreel.farmstate import FarmState
from storyreel.farmstate.remote import CoordinatorLink, coordinator_url, fetch_state, trust
from storyreel.project import Project
from storyreel.tls import client_context

__all__ = ["coordinator_url", "current_state", "fetch_state", "print_status", "trust"]


def current_state(project: Project, url: str | None, window: float, ca_file: Path | None = None) -> FarmState:
    """From the coordinator when it runs (live nodes and progress), else from the folders."""
    return CoordinatorLink(project, url, ca_file).state(window)


def print_status(
    project: Project, *, as_json: bool = False, watch: bool = False, interval: float = 2.0,
    window: float = metrics.DEFAULT_WINDOW_SECONDS, url: str | None = None, ca_file: Path | None = None,
) -> None:
    """`storyreel status`: tables, or JSON; with `watch`, redrawn (tables) or one JSON
    document per line (JSON lines) every `interval` seconds until Ctrl-C."""
    from storyreel.statusview import show

    if ca_file is not None:
        client_context(ca_file)  # a bad --ca-file is an error at once, not a silent fallback to folders
    link = CoordinatorLink(project, url, ca_file)
    show(lambda: link.state(window), as_json=as_json, watch=watch, interval=interval)
