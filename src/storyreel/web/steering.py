"""The dashboard's steering buttons: the board of tasks and nodes, and the actions they POST.

    GET  /dashboard/api/board     the tasks and nodes that can be steered (SteerBoard)
    POST /dashboard/api/control   one action (SteerRequest → SteerReply), CSRF token required

Both follow the dashboard's login rule (auth.py); the POST also needs the page's CSRF token
in `X-CSRF-Token` and is refused (403) without it or from another site. Inside the main
worker the actions go straight to its coordinator; the standalone `storyreel dashboard`
forwards them to the project's running main worker (found as `storyreel status` finds it),
which stays the only writer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from storyreel.config import validation_problems
from storyreel.errors import CoordinatorError, SteerError
from storyreel.project import Project
from storyreel.protocol import SteerAction, SteerBoard, SteerReply, SteerRequest
from storyreel.web.auth import Access

if TYPE_CHECKING:
    from storyreel.steerclient import Steerer

# A steering request is one action and one name; anything longer is no steering request.
MAX_CONTROL_BYTES = 4096
_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


class Steering(Protocol):
    def act(self, request: SteerRequest) -> SteerReply: ...

    def board(self) -> SteerBoard: ...


class RemoteSteering:
    """Steering through the project's running main worker, for the standalone dashboard."""

    def __init__(self, project: Project) -> None:
        self.project = project

    def _steerer(self) -> Steerer:
        """The client of the running main worker, found afresh each time (it may start or move).
        Imported here: it finds the worker as the status client (a layer above) does."""
        from storyreel.steerclient import Steerer

        return Steerer(self.project)

    def act(self, request: SteerRequest) -> SteerReply:
        return self._steerer().act(SteerAction(request.action), request.target)

    def board(self) -> SteerBoard:
        return self._steerer().board()


def _refused(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=_NO_STORE)


def steering_router(steering: Steering, access: Access) -> APIRouter:
    router = APIRouter()

    @router.get("/dashboard/api/board")
    async def board(request: Request) -> Response:
        if not access.allowed(request):
            return _refused(401, "log in at /dashboard/login or send the project token")
        try:
            found = await run_in_threadpool(steering.board)
        except SteerError as exc:
            return _refused(exc.status, str(exc))
        return Response(found.model_dump_json(), media_type="application/json", headers=_NO_STORE)

    @router.post("/dashboard/api/control")
    async def control(request: Request) -> Response:
        if not access.allowed(request):
            return _refused(401, "log in at /dashboard/login or send the project token")
        if (problem := access.csrf_problem(request)) is not None:
            return _refused(403, problem)
        body = await request.body()
        if len(body) > MAX_CONTROL_BYTES:
            return _refused(413, f"a steering request is at most {MAX_CONTROL_BYTES} bytes")
        try:
            wanted = SteerRequest.model_validate_json(body)
        except ValidationError as exc:
            return _refused(422, validation_problems(exc))
        try:
            reply = await run_in_threadpool(steering.act, wanted)
        except (CoordinatorError, SteerError) as exc:
            return _refused(exc.status, str(exc))
        return Response(reply.model_dump_json(), media_type="application/json", headers=_NO_STORE)

    return router
