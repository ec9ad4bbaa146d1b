"""`storyreel status`: the farm state from this project's running coordinator (live nodes
and render progress) when one answers, else built from the folders and the event log.
statusview.py prints it.
"""

from __future__ import annotations

import json
import ssl
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from storyreel import metrics
from storyreel.errors import ConfigError
from storyreel.farmstate import FarmState, build_state
from storyreel.netaddr import Listen
from storyreel.project import Project
from storyreel.tls import client_context, pinned_context

# The coordinator answers on loopback at once; a short wait keeps `status` snappy
# when none is running.
FETCH_TIMEOUT = 2.0
STATE_PATH = "/dashboard/api/state"


def _recorded(project: Project) -> dict[str, Any]:
    """What a running main worker recorded about its coordinator ({} when none runs)."""
    try:
        recorded = json.loads(project.layout.coordinator_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no main worker running, or it is starting
    return recorded if isinstance(recorded, dict) else {}


def coordinator_url(project: Project) -> str:
    """Where this project's coordinator listens, as a URL a local client can reach: the URL
    a running main worker recorded, else the [coordinator] listen setting."""
    recorded = _recorded(project).get("url")
    return recorded if isinstance(recorded, str) else Listen.parse(project.settings.coordinator.listen).url


def trust(project: Project, ca_file: Path | None) -> ssl.SSLContext | bool:
    """Whom an https coordinator must prove to be: `ca_file`'s CAs when given, else exactly
    the certificate this machine's main worker recorded that it serves, else the system's CAs."""
    if ca_file is not None:
        return client_context(ca_file)
    cert = _recorded(project).get("tls_cert")
    if isinstance(cert, str):
        try:
            return pinned_context(Path(cert))
        except (OSError, ssl.SSLError):
            pass  # unreadable here: the system's CAs may still know it
    return True


def fetch_state(url: str, token: str, window: float, verify: ssl.SSLContext | bool = True) -> FarmState | None:
    """The farm state from a running coordinator, or None when none answers with one."""
    import httpx

    try:
        response = httpx.get(
            url.rstrip("/") + STATE_PATH, params={"window": window},
            headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=FETCH_TIMEOUT,
            verify=verify,
        )
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        return FarmState.model_validate_json(response.content)
    except ValidationError:
        return None  # something else answers on that port


def current_state(project: Project, url: str | None, window: float, ca_file: Path | None = None) -> FarmState:
    """From the coordinator when it runs (live nodes and progress), else from the folders."""
    try:
        token = project.token
    except ConfigError:
        token = ""  # a project without a token still shows what its folders hold
    state = fetch_state(url or coordinator_url(project), token, window, trust(project, ca_file))
    return state if state is not None else build_state(project, None, window=window)


def print_status(
    project: Project, *, as_json: bool = False, watch: bool = False, interval: float = 2.0,
    window: float = metrics.DEFAULT_WINDOW_SECONDS, url: str | None = None, ca_file: Path | None = None,
) -> None:
    """`storyreel status`: tables, or JSON; with `watch`, redrawn (tables) or one JSON
    document per line (JSON lines) every `interval` seconds until Ctrl-C."""
    from storyreel.statusview import show

    if ca_file is not None:
        client_context(ca_file)  # a bad --ca-file is an error at once, not a silent fallback to folders
    show(lambda: current_state(project, url, window, ca_file), as_json=as_json, watch=watch, interval=interval)
