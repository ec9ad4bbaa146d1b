"""A render node's HTTP client for the coordinator API (see coordinator/api.py).

Transport trouble (coordinator restarting, network blip) is retried with backoff
where waiting is the right answer; a 409 means our attempt no longer holds the
task and is raised as LeaseLost so the pipeline drops that task at once. A 507
(the coordinator's disk is full) is waited out the same way, after its Retry-After:
an upload answered 507 goes again, with the render kept, until it is taken.
"""

from __future__ import annotations

import math
import os
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from storyreel import __version__
from storyreel.config import validation_problems
from storyreel.errors import (
    CoordinatorFull,
    LeaseLost,
    NodeError,
    NotRegistered,
    Refused,
    TaskRevoked,
    Unauthorized,
    Unreachable,
    Untrusted,
)
from storyreel.fsops import sha256_file
from storyreel.logs import RENDER_WORKER, get_logger
from storyreel.node.faults import UploadFaults
from storyreel.protocol import (
    API_PREFIX,
    SHA256_HEADER,
    SIZE_HEADER,
    ClaimReply,
    FarmSettings,
    HeartbeatReply,
    StageEvent,
    TaskGrant,
    UploadReply,
)
from storyreel.tls import certificate_refused

log = get_logger(RENDER_WORKER)

# Connecting is quick on a LAN; reads wait for ffprobe-verified uploads of big files.
TIMEOUT = httpx.Timeout(60.0, connect=5.0)
# Waits between retries of an unreachable coordinator grow to this (s).
MAX_BACKOFF = 5.0
# A download that breaks off resumes (Range) this many times before the task is given back.
DOWNLOAD_TRIES = 4
BLOCK = 1 << 20
# A 507's Retry-After is kept within these bounds (s): no busy loop on a 0, and a node
# still tries every half minute so its render goes as soon as space is back.
FULL_WAIT_MIN = 1.0
FULL_WAIT_MAX = 30.0
# The wait after a 507 that names none (s).
FULL_WAIT_DEFAULT = 5.0
# How often a wait for the coordinator looks at the stop flags (s).
WAIT_TICK = 0.1


Reply = TypeVar("Reply", bound=BaseModel)


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200] or response.reason_phrase
    return str(data.get("detail", data)) if isinstance(data, dict) else str(data)


def _retry_after(response: httpx.Response) -> float:
    """The wait a 507 asks for, in seconds, within FULL_WAIT_MIN..FULL_WAIT_MAX."""
    try:
        seconds = float(response.headers.get("Retry-After", ""))
    except ValueError:
        seconds = FULL_WAIT_DEFAULT
    if math.isnan(seconds):
        seconds = FULL_WAIT_DEFAULT
    return min(max(seconds, FULL_WAIT_MIN), FULL_WAIT_MAX)


def _blocks(path: Path) -> Iterator[bytes]:
    """A file's bytes for one request body; a request sent again reads the file again."""
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK):
            yield block


def _parse(model: type[Reply], response: httpx.Response, what: str) -> Reply:
    """A reply as its protocol model; an answer that is not one is a refusal (it will not
    get better by asking again)."""
    try:
        return model.model_validate_json(response.content)
    except ValidationError as exc:
        raise Refused(f"cannot {what}: the coordinator's answer is not a {model.__name__}: "
                      f"{validation_problems(exc)}", response.status_code) from exc


class CoordinatorClient:
    def __init__(self, server: str, token: str, node: str, *, halt: threading.Event | None = None,
                 verify: ssl.SSLContext | bool = True) -> None:
        """`verify`: whom an https coordinator's certificate must chain to (tls.client_context)."""
        self.server = server.rstrip("/")
        self.node = node
        self.token = token
        self.http = httpx.Client(
            base_url=self.server + API_PREFIX, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT,
            verify=verify,
        )
        # The render node's hard stop, only read here: patient calls stop waiting for the
        # coordinator once it is set.
        self._halt = halt or threading.Event()
        # The narration engines this node runs, told at each registration (set before the first).
        self.narrators: list[str] = []
        self._claim_refusal: str | None = None  # why the coordinator gives us nothing (paused)
        self._faults = UploadFaults.from_env()  # a test and drill switch (node/faults.py)
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
        if status == 410:
            raise TaskRevoked(f"cannot {what}: {detail}")
        if status == 428:
            raise NotRegistered(f"cannot {what}: {detail}", status)
        if status == 507:
            raise CoordinatorFull(f"cannot {what}: the coordinator's disk is full ({detail})",
                                  _retry_after(response))
        if status >= 500:
            raise Unreachable(f"cannot {what}: coordinator error {status}: {detail}")
        raise Refused(f"cannot {what}: {status} {detail}", status)

    def _call(self, method: str, path: str, what: str, *, patient: bool, wait_full: bool | None = None,
              abort: threading.Event | None = None, body: Callable[[], Any] | None = None,
              **kw: Any) -> httpx.Response:
        """One request; `patient` retries an unreachable coordinator until it answers, we give
        up (hard stop) or `abort` is set. `wait_full` (as `patient` unless given) waits out a
        full disk (507) the same way. `body` makes the request body afresh for each try."""
        delay = 0.2
        full = False  # this request is waiting out a full disk: one WARN for the whole spell
        while True:
            try:
                if body is not None:
                    kw["content"] = body()
                response = self._check(self.http.request(method, path, **kw), what)
            except CoordinatorFull as exc:
                if not (patient if wait_full is None else wait_full):
                    raise
                if not full:
                    full = True
                    log.warning("Coordinator %s has no disk space (%s); trying again every %g s",
                                self.server, exc, exc.retry_after)
                if not self._wait(exc.retry_after, abort):
                    raise Unreachable(f"cannot {what}: stopped while the coordinator's disk was full") from exc
                continue
            except (httpx.TransportError, Unreachable) as exc:
                if (refused := certificate_refused(exc)) is not None:  # waiting will not fix it
                    raise Untrusted(f"cannot {what}: the coordinator's TLS certificate is not trusted "
                                    f"({refused.verify_message or refused}); give the farm's CA with --ca-file") from exc
                stopped = self._halt.is_set() or (abort is not None and abort.is_set())
                if patient and stopped:  # stopped during a try, before any wait began
                    raise Unreachable(f"cannot {what}: stopped while the coordinator was unreachable") from exc
                if not patient:
                    raise Unreachable(f"cannot {what}: {exc}") from exc
                if not self._unreachable_logged:
                    self._unreachable_logged = True
                    log.warning("Coordinator %s unreachable (%s); retrying", self.server, exc)
                if not self._wait(delay, abort):
                    raise Unreachable(f"cannot {what}: stopped while the coordinator was unreachable") from exc
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            if full:
                log.info("Coordinator %s has disk space again: %s went through", self.server, what)
            return response

    def _wait(self, seconds: float, abort: threading.Event | None) -> bool:
        """Wait `seconds` for the coordinator; False at once when we give up (hard stop, abort)."""
        waited = 0.0
        while waited < seconds:
            if self._halt.is_set() or (abort is not None and abort.is_set()):
                return False
            self._halt.wait(WAIT_TICK)
            waited += WAIT_TICK
        return True

    # -- the protocol ------------------------------------------------------------
    def register(self, host: str, encoders: list[str]) -> FarmSettings:
        body = {"node": self.node, "host": host, "encoders": encoders, "version": __version__,
                "narrators": self.narrators}
        response = self._call("POST", "/nodes/register", "register", patient=True, json=body)
        return _parse(FarmSettings, response, "register")

    def alive(self) -> None:
        self._call("POST", f"/nodes/{self.node}/alive", "say alive", patient=False)

    def claim(self, abort: threading.Event | None = None) -> TaskGrant | None:
        """The next task, or None when there is none; waits out an unreachable coordinator."""
        response = self._call("POST", "/claim", "claim a task", patient=True, abort=abort,
                              json={"node": self.node})
        reply = _parse(ClaimReply, response, "claim a task")
        if reply.reason != self._claim_refusal:  # paused or draining: said once, and once when over
            if reply.reason:
                log.warning("Claiming nothing: %s", reply.reason)
            else:
                log.info("Claiming tasks again")
            self._claim_refusal = reply.reason
        return reply.task

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

    def fail(self, task_id: str, attempt: int, reason: str, stderr: str, *, bad_input: str | None = None,
             **details: Any) -> None:
        """Report the task failed; `bad_input` names the clip the render could not decode."""
        body = {"node": self.node, "attempt": attempt, "reason": reason, "stderr": stderr, **details}
        if bad_input is not None:
            body["bad_input"] = bad_input
        self._call("POST", f"/tasks/{task_id}/failure", f"report task {task_id} failed", patient=True, json=body)

    def event(self, event: StageEvent) -> None:
        """Send one stage event (a Downloaded, Rendered or Uploaded of this node)."""
        self._call("POST", "/events", f"send the {event.event} event", patient=False,
                   content=event.model_dump_json(), headers={"Content-Type": "application/json"})

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

    def upload(self, task_id: str, attempt: int, path: Path,
               abort: threading.Event | None = None) -> UploadReply:
        """Stream the render to the coordinator, which checks size, sha256 and content. While
        its disk is full (507) the render is kept and sent again after each Retry-After, for
        as long as it takes: a full disk is no failed try. Ends on a hard stop or `abort`."""
        size = path.stat().st_size
        digest = self._faults.announced_sha256(task_id, sha256_file(path))
        headers = {SHA256_HEADER: digest, SIZE_HEADER: str(size), "Content-Length": str(size)}
        params = {"node": self.node, "attempt": attempt}
        what = f"upload task {task_id}"
        response = self._call("PUT", f"/tasks/{task_id}/output", what, patient=False,
                              wait_full=True, abort=abort, params=params, headers=headers,
                              body=lambda: _blocks(path))
        return _parse(UploadReply, response, what)

    def upload_sidecar(self, task_id: str, attempt: int, path: Path,
                       abort: threading.Event | None = None) -> None:
        """Send one of a captioned render's sidecars (captions.srt, captions.vtt, words.json),
        before its video; the coordinator checks and keeps it until the video publishes it."""
        size = path.stat().st_size
        headers = {SHA256_HEADER: sha256_file(path), SIZE_HEADER: str(size), "Content-Length": str(size)}
        params = {"node": self.node, "attempt": attempt}
        self._call("PUT", f"/tasks/{task_id}/sidecars/{path.name}", f"upload {path.name} of task {task_id}",
                   patient=False, wait_full=True, abort=abort, params=params, headers=headers,
                   body=lambda: _blocks(path))


