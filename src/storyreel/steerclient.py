"""The operator's side of steering: ask this project's running main worker to cancel, retry
or replan a task, or to pause, resume or drain a node (coordinator/control.py does it).

The main worker is the only writer of the project root, so nothing here moves a folder:
with no main worker running, every action is refused with a message saying so. It is found
as `storyreel status` finds it (.storyreel/coordinator.json, the project token, the pinned
TLS certificate).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from storyreel.errors import ConfigError, SteerError
from storyreel.farmstate.remote import CoordinatorLink
from storyreel.project import Project
from storyreel.protocol import API_PREFIX, SteerAction, SteerBoard, SteerReply, SteerRequest

# Each action is a few renames on the main worker; a wait far beyond that is no answer.
STEER_TIMEOUT = 30.0
CONTROL_PATH = API_PREFIX + "/control"
Reply = TypeVar("Reply", bound=BaseModel)


class Steerer:
    """Talks to one project's running main worker."""

    def __init__(self, project: Project, *, url: str | None = None, ca_file: Path | None = None) -> None:
        self.project = project
        if url is None and not project.layout.coordinator_file.is_file():
            raise SteerError(f"no main worker is running for {project.layout.root}: start it with "
                             f"`storyreel main {project.layout.root}` (or `storyreel run`); it is "
                             "the only one that moves task folders")
        link = CoordinatorLink(project, url, ca_file)  # found as status and the dashboard find it
        self.url = link.address.rstrip("/")
        try:
            self.token = project.token  # unlike a reader, steering needs it
        except ConfigError as exc:
            raise SteerError(f"cannot steer the farm without the project token: {exc}") from exc
        self.verify: ssl.SSLContext | bool = link.verify()

    def act(self, action: SteerAction, target: str = "") -> SteerReply:
        body = SteerRequest(action=action, target=target).model_dump_json()
        return self._call("POST", CONTROL_PATH, SteerReply, content=body,
                          headers={"Content-Type": "application/json"})

    def board(self) -> SteerBoard:
        return self._call("GET", CONTROL_PATH + "/board", SteerBoard)

    def _call(self, method: str, path: str, model: type[Reply], **kw: Any) -> Reply:
        import httpx

        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        try:
            response = httpx.request(method, self.url + path, headers=headers, timeout=STEER_TIMEOUT,
                                     verify=self.verify, **kw)
        except httpx.HTTPError as exc:
            raise SteerError(f"the main worker of {self.project.layout.root} does not answer at "
                             f"{self.url} ({exc}): is it running?") from exc
        if response.status_code >= 400:
            raise SteerError(_detail(response), response.status_code)
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise SteerError(f"{self.url} is not this project's main worker "
                             f"(it answered {response.status_code} with something else)") from exc


def _detail(response: Any) -> str:
    """The main worker's own reason for a refusal."""
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if isinstance(detail, list):  # a body FastAPI refused: its first problem
        detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail[:3])
    return str(detail or f"the main worker answered {response.status_code}")
