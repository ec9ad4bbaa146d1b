"""The dashboard's routes, mounted on the coordinator's FastAPI app.

    GET  /dashboard              the page (static HTML + vanilla JS, polls the state)
    GET  /dashboard/login        token form; POST sets the session cookie
    POST /dashboard/logout       forgets the cookie
    GET  /dashboard/api/state    the farm state as JSON (FarmState, as `status --json` prints it)
    GET  /dashboard/static/NAME  the page's CSS and JS
    GET  /dashboard/videos/…     finished videos and their sidecars (videos.py)
    GET  /metrics                Prometheus text format
    GET  /dashboard/api/board, POST /dashboard/api/control   the steering buttons (steering.py)

Everything here reads; the steering buttons ask the main worker's coordinator, which moves.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from storyreel import metrics
from storyreel.farmstate import FarmState, NodeRow, build_state
from storyreel.farmstate.build import TASK_ROWS
from storyreel.farmstate.remote import CoordinatorLink
from storyreel.history import HistoryFeed
from storyreel.logs import EventReader
from storyreel.netaddr import is_loopback
from storyreel.project import Project
from storyreel.web.auth import COOKIE_MAX_AGE, COOKIE_NAME, Access
from storyreel.web.prometheus import exposition
from storyreel.web.steering import RemoteSteering, steering_router
from storyreel.web.videos import video_routes

STATIC = Path(__file__).parent / "static"
_STATIC_NAME = re.compile(r"^[a-z0-9_-]+\.(css|js|svg)$")
_MEDIA_TYPES = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml"}
PROMETHEUS_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Several browsers polling every two seconds share one computation per second; on a
# farm with a very long event log the state is reused longer, so that computing it
# never takes more than a fifth of one core.
STATE_CACHE_SECONDS = 1.0
STATE_CACHE_COST_FACTOR = 5.0
# A login body is one token; anything bigger is not a login.
MAX_LOGIN_BYTES = 4096


class NodeSource(Protocol):
    def nodes_snapshot(self) -> list[dict[str, Any]]: ...


class StateSource:
    """The farm state for the web side, cached briefly and reading the event log incrementally.

    Beside the coordinator it asks the coordinator's node table; on its own (the standalone
    dashboard) it shows the running coordinator's state through `link`, as `status` does,
    and builds it from the folders only while none answers."""

    def __init__(self, project: Project, coordinator: NodeSource | None,
                 link: CoordinatorLink | None = None) -> None:
        self.project = project
        self.coordinator = coordinator
        self.link = link
        self.events = EventReader(project.layout.events_file)
        self.history = HistoryFeed()  # each event read once, however often the state is built
        self._lock = threading.Lock()
        self._cache: dict[float, tuple[float, FarmState]] = {}
        self._lifetime = STATE_CACHE_SECONDS

    def nodes(self) -> list[NodeRow] | None:
        """The coordinator's live node rows; None when this server runs without one."""
        if self.coordinator is None:
            return None
        return [NodeRow.from_snapshot(raw) for raw in self.coordinator.nodes_snapshot()]

    def queued(self) -> tuple[int, list[str]] | None:
        """The queue's length and first tasks from the coordinator's own index, when it has one."""
        view = getattr(self.coordinator, "queued_view", None)
        return view(TASK_ROWS) if view is not None else None

    def state(self, window: float = metrics.DEFAULT_WINDOW_SECONDS) -> FarmState:
        with self._lock:
            hit = self._cache.get(window)
            if hit and time.monotonic() - hit[0] < self._lifetime:
                return hit[1]
            started = time.monotonic()
            state = self.link.live_state(window) if self.link is not None else None
            if state is None:
                state = build_state(self.project, self.nodes(), events=self.events.events(), window=window,
                                    feed=self.history, queued=self.queued())
            finished = time.monotonic()
            self._lifetime = max(STATE_CACHE_SECONDS, STATE_CACHE_COST_FACTOR * (finished - started))
            self._cache = {window: (finished, state)}
            return state


def _page(name: str, status_code: int = 200, **replacements: str) -> HTMLResponse:
    html = (STATIC / name).read_text(encoding="utf-8")
    for key, value in replacements.items():
        html = html.replace("{{" + key + "}}", value)
    return HTMLResponse(html, status_code=status_code, headers=_NO_STORE)


_NO_STORE = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def _session_routes(router: APIRouter, access: Access) -> None:
    """The login form, the login that sets the session cookie, and the logout that forgets it."""

    @router.get("/dashboard/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form() -> Response:
        return _page("login.html", error="")

    @router.post("/dashboard/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        body = await request.body()
        token = ""
        if len(body) <= MAX_LOGIN_BYTES:
            token = (parse_qs(body.decode("utf-8", errors="replace")).get("token") or [""])[0].strip()
        if not access.token_ok(token):
            return _page("login.html", status_code=401, error="That is not this project's token.")
        response = RedirectResponse("/dashboard", status_code=303)
        response.set_cookie(
            COOKIE_NAME, access.session_value(), max_age=COOKIE_MAX_AGE, httponly=True, samesite="strict",
            secure=request.url.scheme == "https", path="/",
        )
        return response

    @router.post("/dashboard/logout", include_in_schema=False)
    def logout() -> Response:
        response = RedirectResponse("/dashboard/login", status_code=303)
        response.delete_cookie(COOKIE_NAME, path="/")
        return response


def dashboard_router(source: StateSource, access: Access) -> APIRouter:
    router = APIRouter()
    _session_routes(router, access)
    video_routes(router, source.project.layout, access)

    @router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(request: Request) -> Response:
        if not access.allowed(request):
            return RedirectResponse("/dashboard/login", status_code=303)
        return _page("dashboard.html", logout="" if not access.login_required else "on", csrf=access.csrf_value())

    @router.get("/dashboard/api/state")
    def state(
        request: Request, window: float = Query(metrics.DEFAULT_WINDOW_SECONDS, gt=0, le=30 * 86400)
    ) -> Response:
        """The farm state: folders, nodes, SPEC §10 metrics, failures, log tail."""
        if not access.allowed(request):
            return JSONResponse({"detail": "log in at /dashboard/login or send the project token"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return Response(source.state(window).model_dump_json(), media_type="application/json",
                        headers=_NO_STORE)

    @router.get("/dashboard/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if not _STATIC_NAME.match(name) or not (STATIC / name).is_file():
            return Response("not found", status_code=404)
        return FileResponse(STATIC / name, media_type=_MEDIA_TYPES[name.rsplit(".", 1)[1]],
                            headers={"Cache-Control": "no-cache"})

    @router.get("/metrics", include_in_schema=False)
    def prometheus(request: Request) -> Response:
        if not access.allowed(request):
            return Response("send the project token as a bearer token\n", status_code=401,
                            headers={"WWW-Authenticate": "Bearer"}, media_type="text/plain")
        return Response(exposition(source.state), media_type=PROMETHEUS_TYPE)

    return router


def mount(
    app: FastAPI, coordinator: NodeSource | None, bound_host: str, *, project: Project | None = None,
    link: CoordinatorLink | None = None,
) -> StateSource:
    """Add the dashboard, its state API and /metrics to `app`.

    `bound_host` is the address the server binds (not the one the settings name): bound
    beyond loopback, every client needs the token. `project` defaults to `coordinator.project`.
    `link`: where a dashboard without a coordinator of its own finds the running one.
    """
    project = project if project is not None else getattr(coordinator, "project", None)
    if project is None:
        raise TypeError("mount() needs the project: pass project= or a coordinator with .project")
    login_required = not is_loopback(bound_host)
    source = StateSource(project, coordinator, link)
    access = Access(project, login_required)
    app.include_router(dashboard_router(source, access))
    control = getattr(coordinator, "control", None)  # the main worker's; else its running one's
    app.include_router(steering_router(control if control is not None else RemoteSteering(project), access))
    if not any(getattr(route, "path", None) == "/" for route in app.routes):
        app.add_api_route("/", lambda: RedirectResponse("/dashboard", status_code=303), include_in_schema=False)
    return source
