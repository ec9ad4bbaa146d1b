"""The dashboard on its own, for a project whose main worker serves no render nodes
(`storyreel run` on one machine) or for a second machine that sees the project folder.

It only reads: folders and the event log. Nodes come from the log, shown as offline.
"""

from __future__ import annotations

import threading

import uvicorn
from fastapi import FastAPI

from storyreel import __version__
from storyreel.coordinator.server import parse_listen
from storyreel.errors import ConfigError
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.project import Project
from storyreel.web.routes import mount

log = get_logger(MAIN_WORKER)

# Next to the coordinator's default 8765, so both can run on one machine.
DEFAULT_LISTEN = "127.0.0.1:8766"


def dashboard_app(project: Project, listen: str) -> FastAPI:
    """A FastAPI app with only the read-only dashboard, its state and /metrics."""
    app = FastAPI(title="storyreel dashboard", version=__version__, docs_url=None, redoc_url=None)
    mount(app, None, parse_listen(listen)[0], project=project)
    return app


def serve(project: Project, listen: str, stop: threading.Event) -> None:
    """Serve the dashboard until `stop` is set."""
    host, port = parse_listen(listen)
    config = uvicorn.Config(dashboard_app(project, listen), host=host, port=port, log_config=None,
                            access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="dashboard-http", daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise ConfigError(f"cannot listen on {listen}: the port is taken or not available on this machine")
        stop.wait(0.05)
        if stop.is_set():
            break
    if server.started:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        log.info("Dashboard at http://%s:%d/dashboard", shown, port)
    stop.wait()
    server.should_exit = True
    thread.join(10)
