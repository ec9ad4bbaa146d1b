"""The HTTP API render nodes speak (all under /api/v1, bearer token on every request).

    POST /api/v1/nodes/register                  node, host, encoders, narrators, version → farm settings
    POST /api/v1/nodes/{node}/alive              an idle node says it is there
    GET  /api/v1/nodes                           the node table
    POST /api/v1/claim                           → {"task": {task_id, attempt, metadata, files}} or {"task": null}
    GET  /api/v1/tasks/{id}/files/{name}         a held task's input (Range requests, sha256 header)
    POST /api/v1/tasks/{id}/heartbeat            extend the lease, report progress
    PUT  /api/v1/tasks/{id}/sidecars/{name}      a captioned render's captions.srt, captions.vtt,
                                                 words.json, sent before the output (same headers)
    PUT  /api/v1/tasks/{id}/output               the finished render (size and sha256 headers)
    POST /api/v1/tasks/{id}/failure              give up: the task goes to trash/failed/
    POST /api/v1/tasks/{id}/release              hand a task back unfinished
    POST /api/v1/events                          a node's stage event for the event log (a held
                                                 or just-ended attempt's own; typed and bounded)
    POST /api/v1/control                         the operator's steering (project token only)
    GET  /api/v1/control/board                   the tasks and nodes it can act on

Task-scoped requests carry `node` and `attempt`; a request from an attempt that no
longer holds the task gets 409 and changes nothing (410 when the operator took it back:
the heartbeat then answers 200 with `revoked` saying why). A main worker whose disk is full
answers 507 with Retry-After and keeps everything as it was: the node sends again.
Every error is a JSON body `{"detail": ...}` (httperrors.py). The bodies and answers are the
models of storyreel.protocol, which the node's client parses them back into.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response
from starlette.requests import ClientDisconnect

from storyreel import __version__
from storyreel.coordinator import httperrors, upload
from storyreel.coordinator.service import Coordinator
from storyreel.errors import CoordinatorError, Revoked
from storyreel.layout import TASK_ID_RE
from storyreel.protocol import (
    API_PREFIX,
    MAX_SIDECAR_BYTES,
    SHA256_HEADER,
    SIDECAR_NAMES,
    SIZE_HEADER,
    ClaimReply,
    FailureReply,
    FailureReport,
    FarmSettings,
    HeartbeatBody,
    HeartbeatReply,
    HeldBody,
    NodeBody,
    RegisterBody,
    SteerBoard,
    SteerReply,
    SteerRequest,
    UploadReply,
)
from storyreel.tokens import Credentials
from storyreel.units import human_size

# A stage event is a few hundred bytes of JSON; a body beyond this is no stage event.
MAX_EVENT_BYTES = 16 * 1024


def _task_id(task_id: str) -> str:
    if not TASK_ID_RE.match(task_id):
        raise HTTPException(404, f"no task {task_id!r}")
    return task_id


def create_app(coordinator: Coordinator, bound_host: str) -> FastAPI:
    """The coordinator's FastAPI app; other routes (dashboard, /metrics) mount onto it."""
    credentials = Credentials(coordinator.layout)

    async def bearer(request: Request) -> None:  # async: no thread-pool hop per request
        """The project token, or a node token acting only as the node ids its name covers."""
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        caller = credentials.identify(presented.strip()) if scheme.lower() == "bearer" else None
        if caller is None:
            raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        if caller.node_token is None:
            return
        # The node id is in the path (alive), the query (downloads, uploads) or the JSON body;
        # FastAPI has parsed that body already, so request.json() reads no bytes again.
        # An upload's body is the render itself and is never read here.
        named = [request.path_params.get("node"), request.query_params.get("node")]
        if request.method == "POST" and request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = await request.json()
            except ValueError:
                body = None  # the route answers 422 for it
            named.append(body.get("node") if isinstance(body, dict) else None)
        for node in named:
            if isinstance(node, str) and not caller.may_act_as(node):
                raise HTTPException(403, f"the node token {caller.node_token.name!r} may act only as node "
                                         f"{caller.node_token.name!r} or {caller.node_token.name}-…, not {node!r}")

    app = FastAPI(title="storyreel coordinator", version=__version__, docs_url=None, redoc_url=None)

    httperrors.install(app)  # every error a JSON body and at most one log line
    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(bearer)])
    _node_routes(api, coordinator)
    _held_routes(api, coordinator)
    _upload_routes(api, coordinator)
    app.include_router(api)
    app.include_router(control_router(coordinator, credentials))
    from storyreel.web import mount  # the read-only dashboard and /metrics

    mount(app, coordinator, bound_host)  # the login rule follows the address the server binds
    return app


def _node_routes(api: APIRouter, coordinator: Coordinator) -> None:
    """What a node asks as a node: register, say it is there, claim, send its events."""

    @api.post("/nodes/register")
    def register(body: RegisterBody, request: Request) -> FarmSettings:
        address = request.client.host if request.client else ""
        return coordinator.register(body.node, body.host or address, body.encoders, body.version, address,
                                    narrators=body.narrators)

    @api.post("/nodes/{node}/alive", status_code=204)
    def alive(node: str) -> Response:
        coordinator.node_alive(node)
        return Response(status_code=204)

    @api.get("/nodes")
    def nodes() -> list[dict[str, Any]]:
        return coordinator.nodes_snapshot()

    @api.post("/claim")
    def claim(body: NodeBody) -> ClaimReply:
        grant = coordinator.claim(body.node)
        if grant is None:
            return ClaimReply(task=None, reason=coordinator.nodes.claim_refusal(body.node))
        return ClaimReply(task=grant.wire())

    @api.post("/events", status_code=204)
    async def event(request: Request) -> Response:
        # The body is read here and validated as an EventBody by the coordinator, so a refused
        # event of any shape gets the same JSON error and one log line.
        body = await _small_body(request, MAX_EVENT_BYTES)
        await run_in_threadpool(coordinator.record_event, body)
        return Response(status_code=204)


async def _small_body(request: Request, limit: int) -> bytes:
    """A request body of at most `limit` bytes; 413 (read no further) when it is longer."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"the body is over {human_size(limit)}")
    return bytes(body)


def _held_routes(api: APIRouter, coordinator: Coordinator) -> None:
    """What a node asks about a task it holds; (node, attempt) fences each request."""
    root = coordinator.layout.root

    @api.get("/tasks/{task_id}/files/{name}")
    def download(task_id: str, name: str, node: str, attempt: int) -> Response:
        path, entry = coordinator.file_for(_task_id(task_id), node, attempt, name)
        return FileResponse(
            path, media_type="application/octet-stream",
            headers={SHA256_HEADER: entry.sha256, SIZE_HEADER: str(entry.size)},
        )

    @api.post("/tasks/{task_id}/heartbeat")
    async def heartbeat(task_id: str, body: HeartbeatBody) -> HeartbeatReply:
        # A renewal is a dictionary update and one small unsynced write under the hold store's
        # own lock, cheaper than a hop to the thread pool; it goes there only when a move holds
        # that lock, so the event loop never waits for it.
        args = (_task_id(task_id), body.node, body.attempt, body.progress)
        try:
            lease = coordinator.heartbeat(*args, wait=False)
            if lease is None:
                lease = await run_in_threadpool(coordinator.heartbeat, *args)
        except Revoked as exc:  # the operator took it back: the node stops and uploads nothing
            return HeartbeatReply(deadline=0.0, attempt=body.attempt, revoked=str(exc),
                                  registered=coordinator.is_registered(body.node))
        return HeartbeatReply(deadline=lease.deadline, attempt=lease.attempt,
                              registered=coordinator.is_registered(body.node))

    @api.post("/tasks/{task_id}/failure")
    def failure(task_id: str, body: FailureReport) -> FailureReply:
        dest = coordinator.fail(_task_id(task_id), body.node, body.attempt, body.reason, body.stderr,
                                body.details(), bad_input=body.bad_input)
        if dest is None:
            return FailureReply(requeued=True)
        return FailureReply(moved_to=str(dest.relative_to(root)))

    @api.post("/tasks/{task_id}/release", status_code=204)
    def release(task_id: str, body: HeldBody) -> Response:
        coordinator.release(_task_id(task_id), body.node, body.attempt)
        return Response(status_code=204)


def _upload_routes(api: APIRouter, coordinator: Coordinator) -> None:
    """A held task's render coming back: its caption sidecars first, then the video."""
    root = coordinator.layout.root

    @api.put("/tasks/{task_id}/sidecars/{name}", status_code=204)
    async def put_sidecar(task_id: str, name: str, node: str, attempt: int, request: Request) -> Response:
        if name not in SIDECAR_NAMES:
            raise HTTPException(404, f"{name!r} is not a sidecar: {', '.join(SIDECAR_NAMES)}")
        expected_sha, size = _announced(request)
        if size > MAX_SIDECAR_BYTES:
            raise HTTPException(413, f"a sidecar is at most {human_size(MAX_SIDECAR_BYTES)}")
        part = await run_in_threadpool(coordinator.upload_target, _task_id(task_id), node, attempt, size)
        body = await _small_body(request, size)
        await run_in_threadpool(upload.store_sidecar, task_id, part.parent, attempt, name, body,
                                size, expected_sha)
        return Response(status_code=204)

    @api.put("/tasks/{task_id}/output", status_code=201)
    async def put_output(task_id: str, node: str, attempt: int, request: Request) -> UploadReply:
        expected_sha, size = _announced(request)
        # Fenced and sized before a byte is read: a stale (409), oversized (413) or, for
        # now, unstorable (507) upload is refused at once.
        part = await run_in_threadpool(coordinator.upload_target, _task_id(task_id), node, attempt, size)
        receipt = upload.Receipt()
        try:
            await upload.receive(request.stream(), part, receipt, limit=size)
        except CoordinatorError:  # longer than announced, or the disk filled up
            await run_in_threadpool(coordinator.discard_upload, task_id, part)
            raise
        except (ClientDisconnect, OSError) as exc:
            await run_in_threadpool(coordinator.discard_upload, task_id, part)
            raise HTTPException(400, f"upload broke off after {human_size(receipt.size)}: "
                                     f"{exc or type(exc).__name__}") from exc
        final: Path = await run_in_threadpool(
            lambda: coordinator.finish_upload(task_id, node, attempt, part, receipt,
                                              expected_size=size, expected_sha256=expected_sha)
        )
        return UploadReply(output=str(final.relative_to(root)), bytes=receipt.size)


def control_router(coordinator: Coordinator, credentials: Credentials) -> APIRouter:
    """The operator's steering, for the project token only: a node token may act as its
    node, never steer the farm."""

    async def operator(request: Request) -> None:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        caller = credentials.identify(presented.strip()) if scheme.lower() == "bearer" else None
        if caller is None:
            raise HTTPException(401, "the project token is required", headers={"WWW-Authenticate": "Bearer"})
        if caller.node_token is not None:
            raise HTTPException(403, f"the node token {caller.node_token.name!r} may not steer the farm; "
                                     "use the project token")

    router = APIRouter(prefix=API_PREFIX + "/control", dependencies=[Depends(operator)])

    @router.post("")
    def act(body: SteerRequest) -> SteerReply:
        return coordinator.control.act(body)

    @router.get("/board")
    def board() -> SteerBoard:
        return coordinator.control.board()

    return router


def _announced(request: Request) -> tuple[str, int]:
    """The sha256 and size an upload announces in its headers (400 without them)."""
    expected_sha = request.headers.get(SHA256_HEADER, "").strip()
    size_header = request.headers.get(SIZE_HEADER, "").strip()
    if not expected_sha or not size_header.isdigit():
        raise HTTPException(400, f"an upload needs the {SHA256_HEADER} and {SIZE_HEADER} headers")
    return expected_sha, int(size_header)
