"""The HTTP API render nodes speak (all under /api/v1, bearer token on every request).

    POST /api/v1/nodes/register                  node, host, encoders, version → farm settings
    POST /api/v1/nodes/{node}/alive              an idle node says it is there
    GET  /api/v1/nodes                           the node table
    POST /api/v1/claim                           → {"task": {task_id, attempt, metadata, files}} or {"task": null}
    GET  /api/v1/tasks/{id}/files/{name}         a held task's input (Range requests, sha256 header)
    POST /api/v1/tasks/{id}/heartbeat            extend the lease, report progress
    PUT  /api/v1/tasks/{id}/output               the finished render (size and sha256 headers)
    POST /api/v1/tasks/{id}/failure              give up: the task goes to trash/failed/
    POST /api/v1/tasks/{id}/release              hand a task back unfinished
    POST /api/v1/events                          a node's stage event for the event log

Task-scoped requests carry `node` and `attempt`; a request from an attempt that no
longer holds the task gets 409 and changes nothing.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.requests import ClientDisconnect

from storyreel import __version__
from storyreel.coordinator.service import Coordinator
from storyreel.errors import CoordinatorError
from storyreel.layout import TASK_ID_RE
from storyreel.logs import MAIN_WORKER, get_logger

log = get_logger(MAIN_WORKER)

API = "/api/v1"
SHA256_HEADER = "X-Storyreel-Sha256"
SIZE_HEADER = "X-Storyreel-Size"
# Longest stderr kept from a failure report; ffmpeg's error is at the end.
MAX_STDERR_CHARS = 1_000_000


class RegisterBody(BaseModel):
    node: str = Field(min_length=1, max_length=100)
    host: str = Field("", max_length=255)
    encoders: list[str] = Field(default_factory=list, max_length=32)
    version: str = Field("", max_length=64)


class NodeBody(BaseModel):
    node: str = Field(min_length=1, max_length=100)


class HeldBody(NodeBody):
    attempt: int = Field(ge=1)


class HeartbeatBody(HeldBody):
    progress: dict[str, Any] = Field(default_factory=dict)


class FailureBody(HeldBody):
    reason: str = Field(min_length=1, max_length=4000)
    stderr: str = Field("", max_length=MAX_STDERR_CHARS)
    stage: str = Field("", max_length=32)
    started: float | None = None
    ended: float | None = None
    seconds: float | None = None


class EventBody(NodeBody):
    event: str = Field(min_length=1, max_length=32)
    fields: dict[str, Any] = Field(default_factory=dict)


def _task_id(task_id: str) -> str:
    if not TASK_ID_RE.match(task_id):
        raise HTTPException(404, f"no task {task_id!r}")
    return task_id


def create_app(coordinator: Coordinator, bound_host: str) -> FastAPI:
    """The coordinator's FastAPI app; other routes (dashboard, /metrics) mount onto it."""
    project = coordinator.project

    async def bearer(request: Request) -> None:  # async: no thread-pool hop per request
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented or not project.token_matches(presented.strip()):
            raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})

    app = FastAPI(title="storyreel coordinator", version=__version__, docs_url=None, redoc_url=None)

    @app.exception_handler(CoordinatorError)
    async def _refused(_request: Request, exc: CoordinatorError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=exc.status)

    api = APIRouter(prefix=API, dependencies=[Depends(bearer)])

    @api.post("/nodes/register")
    def register(body: RegisterBody, request: Request) -> dict[str, Any]:
        address = request.client.host if request.client else ""
        return coordinator.register(body.node, body.host or address, body.encoders, body.version, address)

    @api.post("/nodes/{node}/alive", status_code=204)
    def alive(node: str) -> Response:
        coordinator.node_alive(node)
        return Response(status_code=204)

    @api.get("/nodes")
    def nodes() -> list[dict[str, Any]]:
        return coordinator.nodes_snapshot()

    @api.post("/claim")
    def claim(body: NodeBody) -> dict[str, Any]:
        grant = coordinator.claim(body.node)
        return {"task": grant.as_dict() if grant else None}

    @api.get("/tasks/{task_id}/files/{name}")
    def download(task_id: str, name: str, node: str, attempt: int) -> Response:
        path, entry = coordinator.file_for(_task_id(task_id), node, attempt, name)
        return FileResponse(
            path, media_type="application/octet-stream",
            headers={SHA256_HEADER: entry.sha256, SIZE_HEADER: str(entry.size)},
        )

    @api.post("/tasks/{task_id}/heartbeat")
    async def heartbeat(task_id: str, body: HeartbeatBody) -> dict[str, Any]:
        # A renewal is a dictionary update and one small unsynced write, cheaper than a hop to
        # the thread pool; it goes there only when a claim or a move holds the coordinator.
        args = (_task_id(task_id), body.node, body.attempt, body.progress)
        lease = coordinator.heartbeat(*args, wait=False)
        if lease is None:
            lease = await run_in_threadpool(coordinator.heartbeat, *args)
        return {"deadline": lease.deadline, "attempt": lease.attempt,
                "registered": coordinator.is_registered(body.node)}

    @api.put("/tasks/{task_id}/output", status_code=201)
    async def upload(task_id: str, node: str, attempt: int, request: Request) -> dict[str, Any]:
        expected_sha = request.headers.get(SHA256_HEADER, "").strip()
        size_header = request.headers.get(SIZE_HEADER, "").strip()
        if not expected_sha or not size_header.isdigit():
            raise HTTPException(400, f"an upload needs the {SHA256_HEADER} and {SIZE_HEADER} headers")
        part = await run_in_threadpool(coordinator.upload_target, _task_id(task_id), node, attempt)
        digest, size = hashlib.sha256(), 0
        try:
            async with await anyio.open_file(part, "wb") as fh:
                async for chunk in request.stream():
                    digest.update(chunk)
                    size += len(chunk)
                    await fh.write(chunk)
        except (ClientDisconnect, OSError) as exc:
            await run_in_threadpool(coordinator.discard_upload, task_id, part)
            log.warning("Upload of task %s from %s broke off after %d bytes: %s", task_id, node, size,
                        exc or type(exc).__name__)
            raise HTTPException(400, f"upload broke off after {size} bytes") from exc
        final: Path = await run_in_threadpool(
            lambda: coordinator.finish_upload(
                task_id, node, attempt, part, size=size, sha256=digest.hexdigest(),
                expected_size=int(size_header), expected_sha256=expected_sha,
            )
        )
        return {"output": str(final.relative_to(project.layout.root)), "bytes": size}

    @api.post("/tasks/{task_id}/failure")
    def failure(task_id: str, body: FailureBody) -> dict[str, Any]:
        details = {k: v for k, v in {"stage": body.stage, "started": body.started, "ended": body.ended,
                                     "seconds": body.seconds}.items() if v not in (None, "")}
        dest = coordinator.fail(_task_id(task_id), body.node, body.attempt, body.reason, body.stderr, details)
        return {"moved_to": str(dest.relative_to(project.layout.root))}

    @api.post("/tasks/{task_id}/release", status_code=204)
    def release(task_id: str, body: HeldBody) -> Response:
        coordinator.release(_task_id(task_id), body.node, body.attempt)
        return Response(status_code=204)

    @api.post("/events", status_code=204)
    def event(body: EventBody) -> Response:
        coordinator.record_event(body.node, body.event, body.fields)
        return Response(status_code=204)

    app.include_router(api)
    from storyreel.web import mount  # the read-only dashboard and /metrics

    mount(app, coordinator, bound_host)  # the login rule follows the address the server binds
    return app
