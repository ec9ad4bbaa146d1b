"""A render node's HTTP client for the coordinator API (see coordinator/api.py).

Transport trouble (coordinator restarting, network blip) is retried with backoff
where waiting is the right answer; a 409 means our attempt no longer holds the
task and is raised as LeaseLost so the pipeline drops that task at once.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from storyreel import __version__
from storyreel.config import validation_problems
from storyreel.errors import LeaseLost, NodeError, NotRegistered, Refused, Unauthorized, Unreachable
from storyreel.fsops import sha256_file
from storyreel.logs import RENDER_WORKER, get_logger
from storyreel.protocol import (
    API_PREFIX,
    SHA256_HEADER,
    SIZE_HEADER,
    ClaimReply,
    FarmSettings,
    HeartbeatReply,
    TaskGrant,
    UploadReply,
)

log = get_logger(RENDER_WORKER)

# Connecting is quick on a LAN; reads wait for ffprobe-verified uploads of big files.
TIMEOUT = httpx.Timeout(60.0, connect=5.0)
# Waits between retries of an unreachable coordinator grow to this (s).
MAX_BACKOFF = 5.0
# A download that breaks off resumes (Range) this many times before the task is given back.
DOWNLOAD_TRIES = 4
BLOCK = 1 << 20
# Fault injection for tests and drills, documented in the README: the first N upload tries
# of this process announce a wrong sha256, so the real coordinator refuses them (422).
FAULT_UPLOADS_ENV = "STORYREEL_FAULT_UPLOAD_FAILURES"


Reply = TypeVar("Reply", bound=BaseModel)


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    return str(data.get("detail", data)) if isinstance(data, dict) else str(data)


def _parse(model: type[Reply], response: httpx.Response, what: str) -> Reply:
    """A reply as its protocol model; an answer that is not one is a refusal (it will not
    get better by asking again)."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise Refused(f"cannot {what}: the coordinator's answer is not a {model.__name__}: "
                      f"{validation_problems(exc)}", response.status_code) from exc


class CoordinatorClient:
    def __init__(self, server: str, token: str, node: str, *, give_up: threading.Event | None = None) -> None:
        self.server = server.rstrip("/")
        self.node = node
        self.token = token
        self.http = httpx.Client(
            base_url=self.server + API_PREFIX, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT,
        )
        # Set on a hard stop: patient calls stop waiting for the coordinator.
        self.give_up = give_up or threading.Event()
        self._faults = int(os.environ.get(FAULT_UPLOADS_ENV, "0") or 0)
        self._unreachable_logged = False

    def close(self) -> None:
        self.http.close()

    # -- plumbing --------------------------------------------------------------
    def _check(self, response: httpx.Response, what: str) -> httpx.Response:
        status = response.status_code
        if status < 400:
            if self._unreachable_logged:
                self._unreachable_logged = False
                log.info("Coordinator %s answers again", self.server)
            return response
        detail = _detail(response)
        if status == 401:
            raise Unauthorized(f"cannot {what}: the coordinator refused our token ({detail})")
        if status == 409:
            raise LeaseLost(f"cannot {what}: {detail}")
        if status == 428:
            raise NotRegistered(f"cannot {what}: {detail}", status)
        if status >= 500:
            raise Unreachable(f"cannot {what}: coordinator error {status}: {detail}")
        raise Refused(f"cannot {what}: {status} {detail}", status)

    def _call(self, method: str, path: str, what: str, *, patient: bool,
              abort: threading.Event | None = None, **kw: Any) -> httpx.Response:
        """One request; `patient` retries an unreachable coordinator until it answers, we give
        up (hard stop) or `abort` is set."""
        delay = 0.2
        while True:
            try:
                return self._check(self.http.request(method, path, **kw), what)
            except (httpx.TransportError, Unreachable) as exc:
                stopped = self.give_up.is_set() or (abort is not None and abort.is_set())
                if not patient or stopped:
                    raise Unreachable(f"cannot {what}: {exc}") from exc
                if not self._unreachable_logged:
                    self._unreachable_logged = True
                    log.warning("Coordinator %s unreachable (%s); retrying", self.server, exc)
                waited = 0.0
                while waited < delay:
                    if self.give_up.is_set() or (abort is not None and abort.is_set()):
                        raise Unreachable(f"cannot {what}: stopped while the coordinator was unreachable") from exc
                    self.give_up.wait(0.1)
                    waited += 0.1
                delay = min(delay * 2, MAX_BACKOFF)

    # -- the protocol ------------------------------------------------------------
    def register(self, host: str, encoders: list[str]) -> FarmSettings:
        body = {"node": self.node, "host": host, "encoders": encoders, "version": __version__}
        response = self._call("POST", "/nodes/register", "register", patient=True, json=body)
        return _parse(FarmSettings, response, "register")

    def alive(self) -> None:
        self._call("POST", f"/nodes/{self.node}/alive", "say alive", patient=False)

    def claim(self, abort: threading.Event | None = None) -> TaskGrant | None:
        """The next task, or None when there is none; waits out an unreachable coordinator."""
        response = self._call("POST", "/claim", "claim a task", patient=True, abort=abort,
                              json={"node": self.node})
        return _parse(ClaimReply, response, "claim a task").task

    def heartbeat(self, task_id: str, attempt: int, progress: dict[str, Any]) -> HeartbeatReply:
        body = {"node": self.node, "attempt": attempt, "progress": progress}
        what = f"heartbeat task {task_id}"
        return _parse(HeartbeatReply, self._call("POST", f"/tasks/{task_id}/heartbeat", what, patient=False,
                                                 json=body), what)

    def wait_reachable(self, host: str, encoders: list[str]) -> None:
        """Block until the coordinator answers (registering again if it forgot us)."""
        try:
            self._call("POST", f"/nodes/{self.node}/alive", "reach the coordinator", patient=True)
        except NotRegistered:
            self.register(host, encoders)

    def release(self, task_id: str, attempt: int, *, patient: bool = False) -> None:
        body = {"node": self.node, "attempt": attempt}
        self._call("POST", f"/tasks/{task_id}/release", f"release task {task_id}", patient=patient, json=body)

    def fail(self, task_id: str, attempt: int, reason: str, stderr: str, **details: Any) -> None:
        body = {"node": self.node, "attempt": attempt, "reason": reason, "stderr": stderr, **details}
        self._call("POST", f"/tasks/{task_id}/failure", f"report task {task_id} failed", patient=True, json=body)

    def event(self, event: str, **fields: Any) -> None:
        body = {"node": self.node, "event": event, "fields": fields}
        self._call("POST", "/events", f"send the {event} event", patient=False, json=body)

    def download(self, task_id: str, attempt: int, name: str, size: int, sha256: str, dest: Path,
                 cancel: threading.Event) -> int:
        """Fetch one input file to `dest`, resuming a broken transfer; checks size and sha256."""
        part = dest.with_name(dest.name + ".part")
        params = {"node": self.node, "attempt": attempt}
        what = f"download {name} of task {task_id}"
        for _ in range(DOWNLOAD_TRIES):
            have = part.stat().st_size if part.exists() else 0
            headers = {"Range": f"bytes={have}-"} if 0 < have < size else {}
            try:
                with self.http.stream("GET", f"/tasks/{task_id}/files/{name}", params=params,
                                      headers=headers) as response:
                    self._check(response, what)
                    mode = "ab" if response.status_code == 206 else "wb"
                    with open(part, mode) as fh:
                        for block in response.iter_bytes(BLOCK):
                            if cancel.is_set():
                                raise NodeError(f"cannot {what}: cancelled")
                            fh.write(block)
            except (httpx.TransportError, Unreachable) as exc:
                log.warning("Download of %s for task %s broke off (%s); resuming", name, task_id, exc)
                if cancel.wait(0.5):
                    raise NodeError(f"cannot {what}: cancelled") from exc
                continue
            if part.stat().st_size == size and sha256_file(part) == sha256:
                os.replace(part, dest)
                return size
            part.unlink()
            log.warning("Download of %s for task %s arrived damaged; fetching again", name, task_id)
        raise NodeError(f"cannot {what}: failed {DOWNLOAD_TRIES} times")

    def upload(self, task_id: str, attempt: int, path: Path) -> UploadReply:
        """Stream the render to the coordinator, which checks size, sha256 and content."""
        size = path.stat().st_size
        digest = sha256_file(path)
        if self._faults > 0:
            self._faults -= 1
            digest = "0" * 64
            log.warning("Fault injection (%s): announcing a wrong sha256 for task %s", FAULT_UPLOADS_ENV,
                        task_id)
        headers = {SHA256_HEADER: digest, SIZE_HEADER: str(size), "Content-Length": str(size)}
        params = {"node": self.node, "attempt": attempt}
        what = f"upload task {task_id}"
        with open(path, "rb") as fh:
            response = self._call("PUT", f"/tasks/{task_id}/output", what, patient=False,
                                  params=params, headers=headers, content=fh)
        return _parse(UploadReply, response, what)


