"""`storyreel status`: the farm state from this project's running coordinator (live nodes
and render progress) when one answers, else built from the folders and the event log.
statusview.py prints it.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from storyreel import metrics
from storyreel.errors import ConfigError
from storyreel.farmstate import FarmState, build_state
from storyreel.netaddr import Listen
from storyreel.project import Project

# The coordinator answers on loopback at once; a short wait keeps `status` snappy
# when none is running.
FETCH_TIMEOUT = 2.0
STATE_PATH = "/dashboard/api/state"


def coordinator_url(project: Project) -> str:
    """Where this project's coordinator listens, as a URL a local client can reach: the URL
    a running main worker recorded, else the [coordinator] listen setting."""
    try:
        recorded = json.loads(project.layout.coordinator_file.read_text(encoding="utf-8"))
        if isinstance(recorded, dict) and isinstance(recorded.get("url"), str):
            return recorded["url"]
    except (OSError, ValueError):
        pass  # no main worker running, or it is starting: fall back to the setting
    return Listen.parse(project.settings.coordinator.listen).url


def fetch_state(url: str, token: str, window: float) -> FarmState | None:
    """The farm state from a running coordinator, or None when none answers with one."""
    import httpx

    try:
        response = httpx.get(
            url.rstrip("/") + STATE_PATH, params={"window": window},
            headers={"Authorization": f"Bearer {token}"} if token else {}, timeout=FETCH_TIMEOUT,
        )
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    try:
        return FarmState.model_validate_json(response.content)
    except ValidationError:
        return None  # something else answers on that port


def current_state(project: Project, url: str | None, window: float) -> FarmState:
    """From the coordinator when it runs (live nodes and progress), else from the folders."""
    try:
        token = project.token
    except ConfigError:
        token = ""  # a project without a token still shows what its folders hold
    state = fetch_state(url or coordinator_url(project), token, window)
    return state if state is not None else build_state(project, None, window=window)


def print_status(
    project: Project, *, as_json: bool = False, watch: bool = False, interval: float = 2.0,
    window: float = metrics.DEFAULT_WINDOW_SECONDS, url: str | None = None,
) -> None:
    """`storyreel status`: tables, or JSON; with `watch`, redrawn (tables) or one JSON
    document per line (JSON lines) every `interval` seconds until Ctrl-C."""
    from storyreel.statusview import show

    show(lambda: current_state(project, url, window), as_json=as_json, watch=watch, interval=interval)
