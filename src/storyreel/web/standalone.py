"""The dashboard on its own, for a project whose main worker serves no render nodes
(`storyreel run` on one machine) or for a second machine that sees the project folder.

It only reads: folders and the event log. Nodes come from the log, shown as offline.
"""

from __future__ import annotations

import threading

from fastapi import FastAPI

from storyreel import __version__
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
    mount(app, None, listen.host, project=project)
    return app


def serve(project: Project, listen: Listen, stop: threading.Event) -> None:
    """Serve the dashboard until `stop` is set."""
    http = ServerThread(dashboard_app(project, listen), listen, name="dashboard-http")
    bound = http.start(abort=stop)
    if http.server.started:
        log.info("Dashboard at %s/dashboard", bound.url)
    stop.wait()
    http.stop()
