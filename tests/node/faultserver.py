"""Loopback HTTP servers for what a real coordinator cannot do on demand: a proxy in front
of a real main worker that answers chosen requests 507 (its disk full, without filling a
disk), and a fake coordinator that hands out grants naming hostile file names."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

API = "/api/v1"
# Headers a proxy must not pass on as they are: the hop's own framing.
HOP_HEADERS = frozenset({"host", "connection", "content-length", "transfer-encoding", "keep-alive",
                         "content-encoding"})


@dataclass
class Request:
    method: str
    path: str  # with its query
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def route(self) -> str:
        """The API route without the query, e.g. `/tasks/<id>/output`."""
        return self.path.split("?", 1)[0].removeprefix(API)

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, status: int, data: Any = None, **headers: str) -> Reply:
        body = b"" if data is None else json.dumps(data).encode()
        return cls(status, body, {"Content-Type": "application/json", **headers})


class LoopbackServer:
    """An HTTP server on 127.0.0.1 that answers every request with `respond(request)` and
    keeps each request and its status in `seen`."""

    def __init__(self, respond: Callable[[Request], Reply]) -> None:
        self.seen: list[tuple[Request, int]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                request = Request(self.command, self.path, dict(self.headers.items()), self.rfile.read(size))
                reply = respond(request)
                with server._lock:
                    server.seen.append((request, reply.status))
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = _any

            def log_message(self, *_args: object) -> None:  # quiet in test output
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host}:{port}"

    def requests(self, method: str, route: str) -> list[tuple[Request, int]]:
        """The requests seen whose route matches the regular expression `route`."""
        with self._lock:
            return [(r, s) for r, s in self.seen if r.method == method and re.fullmatch(route, r.route)]

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


class FullDiskProxy:
    """Passes every request to a real coordinator, except that the first `times` requests
    of each armed (method, route) are answered 507 with `Retry-After`, as the coordinator
    answers when its disk is full."""

    def __init__(self, target: str) -> None:
        self._upstream = httpx.Client(base_url=target, timeout=60.0)
        self._armed: dict[tuple[str, str], list[Any]] = {}  # (method, route) → [times left, retry after]
        self._lock = threading.Lock()
        self.server = LoopbackServer(self._respond)

    @property
    def url(self) -> str:
        return self.server.url

    def arm(self, method: str, route: str, times: int, retry_after: str = "1") -> None:
        with self._lock:
            self._armed[(method, route)] = [times, retry_after]

    def disarm(self) -> None:
        """Pass everything on from now: the disk has room again."""
        with self._lock:
            self._armed.clear()

    def _respond(self, request: Request) -> Reply:
        with self._lock:
            for (method, route), rule in self._armed.items():
                if rule[0] > 0 and method == request.method and re.fullmatch(route, request.route):
                    rule[0] -= 1
                    return Reply.of(507, {"detail": "no space left on device"}, **{"Retry-After": rule[1]})
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        answer = self._upstream.request(request.method, request.path, headers=headers, content=request.body)
        passed = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
        return Reply(answer.status_code, answer.content, passed)

    def close(self) -> None:
        self.server.close()
        self._upstream.close()


# What the fake coordinator serves for any file a node asks for.
PAYLOAD = b"not what the node should write outside its work folder\n"


def grant(task_id: str, names: list[str], attempt: Any = 1) -> dict[str, Any]:
    """A claim's grant as the coordinator sends it, every file served as PAYLOAD."""
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    return {"task_id": task_id, "attempt": attempt, "deadline": time.time() + 60, "metadata": {},
            "files": [{"name": name, "size": len(PAYLOAD), "sha256": digest} for name in names]}


class FakeCoordinator:
    """Registers any node, hands out `grants` one claim at a time (then none), serves
    PAYLOAD for any file and takes every heartbeat, report, release and event."""

    def __init__(self, grants: list[dict[str, Any]]) -> None:
        self._grants = list(grants)
        self._lock = threading.Lock()
        self.server = LoopbackServer(self._respond)

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self.server.close()

    def grants_left(self) -> int:
        with self._lock:
            return len(self._grants)

    def _respond(self, request: Request) -> Reply:
        route = request.route
        if request.method == "GET":
            return Reply(200, PAYLOAD, {"Content-Type": "application/octet-stream"})
        if route == "/nodes/register":
            return Reply.of(200, {"lease_seconds": 60.0, "heartbeat_seconds": 0.3, "poll_seconds": 0.2, "upload_retries": 0,
                                  "retry_backoff_seconds": 0.1, "root": ""})
        if route == "/claim":
            with self._lock:
                task = self._grants.pop(0) if self._grants else None
            return Reply.of(200, {"task": task})
        if route.endswith("/heartbeat"):
            return Reply.of(200, {"deadline": time.time() + 60, "attempt": 1, "registered": True})
        if route.endswith("/failure"):
            return Reply.of(200, {"moved_to": "trash/failed/x"})
        return Reply(204)
