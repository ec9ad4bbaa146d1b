"""The farm state as this project's running coordinator sees it (live nodes, render
progress), found the one way every reader finds it: the URL a running main worker recorded
in `.storyreel/coordinator.json`, else the [coordinator] listen setting. `storyreel status`
and the standalone `storyreel dashboard` both read the farm through here, so both show the
coordinator's own figures; with no coordinator answering, the state is built from the folders.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from storyreel import metrics
from storyreel.errors import ConfigError
from storyreel.farmstate.build import build_state
from storyreel.farmstate.model import FarmState
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


@dataclass(frozen=True)
class CoordinatorLink:
    """How a process beside the main worker reaches its coordinator: URL, token, trust.
    `url` given names a coordinator explicitly (another machine's, whose root differs)."""

    project: Project
    url: str | None = None
    ca_file: Path | None = None

    @property
    def address(self) -> str:
        return self.url or coordinator_url(self.project)

    @property
    def token(self) -> str:
        try:
            return self.project.token
        except ConfigError:
            return ""  # a project without a token still shows what its folders hold

    def verify(self) -> ssl.SSLContext | bool:
        return trust(self.project, self.ca_file)

    def live_state(self, window: float) -> FarmState | None:
        """The coordinator's own state, or None when no coordinator of THIS project answers
        (found by the settings alone, the port may be another project's)."""
        state = fetch_state(self.address, self.token, window, self.verify())
        if state is None or self.url is not None or _same_root(state.root, self.project):
            return state
        return None

    def state(self, window: float = metrics.DEFAULT_WINDOW_SECONDS) -> FarmState:
        """From the coordinator when it runs (live nodes and progress), else from the folders."""
        live = self.live_state(window)
        return live if live is not None else build_state(self.project, None, window=window)


def _same_root(root: str, project: Project) -> bool:
    try:
        return Path(root).resolve() == project.layout.root.resolve()
    except OSError:
        return False
