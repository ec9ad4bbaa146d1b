"""The dashboard on its own, beside `storyreel run` or `storyreel main` on this machine, or
on a second machine that sees the project folder.

It shows the running coordinator's own state (live nodes, progress, the same figures),
found through `.storyreel/coordinator.json` as `storyreel status` finds it; while no
coordinator answers, it builds the state from the folders and the event log, nodes shown
as offline. It only reads; videos are served from the project's output/ folder.
"""

from __future__ import annotations

import threading

from fastapi import FastAPI

from storyreel import __version__
from storyreel.farmstate.remote import CoordinatorLink
from storyreel.httpthread import ServerThread
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.netaddr import Listen
from storyreel.project import Project
from storyreel.web.routes import mount

log = get_logger(MAIN_WORKER)

# Next to the coordinator's default 8765, so both can run on one machine.
DEFAULT_LISTEN = "127.0.0.1:8766"


def dashboard_app(project: Project, listen: Listen) -> FastAPI:
    """A FastAPI app with only the read-only dashboard, its state and /metrics."""
    app = FastAPI(title="storyreel dashboard", version=__version__, docs_url=None, redoc_url=None)
    mount(app, None, listen.host, project=project, link=CoordinatorLink(project))
    return app


def serve(project: Project, listen: Listen, stop: threading.Event) -> None:
    """Serve the dashboard until `stop` is set."""
    http = ServerThread(dashboard_app(project, listen), listen, name="dashboard-http")
    bound = http.start(abort=stop)
    if http.server.started:
        log.info("Dashboard at %s/dashboard", bound.url)
    stop.wait()
    http.stop()
