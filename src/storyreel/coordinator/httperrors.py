"""How the coordinator's API answers what goes wrong: always a JSON body `{"detail": ...}`
and one SPEC §9 log line naming the request, never a traceback.

- A refusal (CoordinatorError, or FastAPI's HTTPException and malformed-request 422)
  keeps its status and logs one WARN, unless the service logged it its own way already
  (`CoordinatorError.logged`). DiskFull (507) carries `Retry-After`.
- A full disk (ENOSPC, EDQUOT) behind a FilesystemError or an OSError is a 507 like
  DiskFull: nothing is lost, the node sends the same request again.
- Any other fault of the filesystem, and any unexpected exception, is a JSON 500 and one
  ERROR line: uvicorn never sees it, so it prints no traceback.

Only the API's own paths (under /api/v1) are logged this way; the dashboard answers for
itself.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from storyreel.diskspace import disk_full
from storyreel.errors import CoordinatorError, DiskFull, FilesystemError
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.protocol import API_PREFIX

log = get_logger(MAIN_WORKER)

# The wait a 507 asks for (s): space comes back when an operator or the planner's cleanup
# frees it, seconds to minutes away; a node asked back this often keeps its finished
# render and its lease (it heartbeats meanwhile) without hammering a full disk.
FULL_RETRY_SECONDS = 5


def _named(request: Request) -> str:
    node = request.query_params.get("node")
    return f"{request.method} {request.url.path}" + (f" from {node}" if node else "")


def full_answer(request: Request, detail: str) -> JSONResponse:
    """507 with Retry-After, and one WARN naming the request."""
    log.warning("Refused %s: %s; asked to send again in %d s", _named(request), detail, FULL_RETRY_SECONDS)
    return JSONResponse({"detail": detail}, status_code=507,
                        headers={"Retry-After": str(FULL_RETRY_SECONDS)})


def internal_answer(request: Request, exc: BaseException) -> JSONResponse:
    """A JSON 500 and one ERROR line naming the request and the fault."""
    log.error("Request %s failed: %s: %s", _named(request), type(exc).__name__, exc)
    return JSONResponse({"detail": f"internal error: {type(exc).__name__}: {exc}"}, status_code=500)


def _refusal(request: Request, detail: object, status: int) -> None:
    if request.url.path.startswith(API_PREFIX):
        log.warning("Refused %s: %s (%d)", _named(request), detail, status)


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, DiskFull):
        return full_answer(request, str(exc))
    assert isinstance(exc, CoordinatorError)
    if not exc.logged:
        _refusal(request, exc, exc.status)
    return JSONResponse({"detail": str(exc)}, status_code=exc.status)


async def _http_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    _refusal(request, exc.detail, exc.status_code)
    return await http_exception_handler(request, exc)


async def _malformed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(f"{'.'.join(map(str, e.get('loc', ())))}: {e.get('msg', '')}" for e in exc.errors())
    _refusal(request, f"malformed request: {problems}", 422)
    return await request_validation_exception_handler(request, exc)


async def _filesystem(request: Request, exc: Exception) -> JSONResponse:
    if disk_full(exc):
        reason = exc.reason if isinstance(exc, FilesystemError) else exc.strerror
        return full_answer(request, f"the main worker's disk is full ({reason})")
    return internal_answer(request, exc)


class ErrorBarrier:
    """ASGI middleware: an exception no handler took becomes a JSON 500 and one ERROR line
    (Starlette's own last resort answers 500 too, but hands the traceback to uvicorn)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception as exc:  # noqa: BLE001 - the barrier: one line, never a traceback
            request = Request(scope)
            if started:  # the answer is on its way: nothing more can be said
                log.error("Request %s failed while answering: %s: %s", _named(request), type(exc).__name__, exc)
                return
            await internal_answer(request, exc)(scope, receive, send)


def install(app: FastAPI) -> None:
    """Give `app` these answers."""
    handlers: dict[Any, Any] = {CoordinatorError: _refused, StarletteHTTPException: _http_refused,
                                RequestValidationError: _malformed, FilesystemError: _filesystem,
                                OSError: _filesystem}
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)
    app.add_middleware(ErrorBarrier)
