"""Serve the coordinator's API with uvicorn on a thread of the main worker."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from typing import TextIO

import uvicorn
from fastapi import FastAPI

from storyreel import fsops
from storyreel.coordinator.api import create_app
from storyreel.coordinator.service import Coordinator
from storyreel.errors import ConfigError
from storyreel.logs import MAIN_WORKER, get_logger

log = get_logger(MAIN_WORKER)

# Binding a port takes milliseconds; this long means something is wrong.
START_TIMEOUT = 20.0
# In-flight requests (an upload) get this long to finish when the main worker stops.
STOP_GRACE = 10.0


def parse_listen(listen: str) -> tuple[str, int]:
    """`HOST:PORT` (or `[v6]:PORT`) into its parts; ConfigError when it is neither."""
    host, sep, port = listen.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"cannot listen on {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:8765")
    return host, int(port)


def url_for(host: str, port: int) -> str:
    """The URL a client on this machine uses to reach a server bound to host:port."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


class CoordinatorServer:
    """The API on a background thread; `start` returns once the port is bound."""

    def __init__(self, coordinator: Coordinator, listen: str, app: FastAPI | None = None) -> None:
        self.coordinator = coordinator
        self.host, self.port = parse_listen(listen)
        self.app = app if app is not None else create_app(coordinator, self.host)
        config = uvicorn.Config(
            self.app, host=self.host, port=self.port, log_config=None, access_log=False,
            lifespan="off", timeout_graceful_shutdown=STOP_GRACE,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="coordinator-http", daemon=True)
        self.url = ""
        self._lock_handle: TextIO | None = None

    def _serve(self) -> None:
        try:
            self.server.run()
        except SystemExit:  # uvicorn's way of saying it could not start (port taken); start() reports it
            log.debug("uvicorn could not start on %s:%d", self.host, self.port)

    def start(self) -> str:
        """Bind and serve; returns the URL and records it in .storyreel/coordinator.json."""
        if self._lock_handle is None:
            self.lock_root()
        self.coordinator.rescan_queue()  # index tasks/ now, not on the first claim
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ConfigError(f"cannot listen on {self.host}:{self.port}: the port is taken or not "
                                  f"available on this machine")
            time.sleep(0.02)
        sockets = [s for server in self.server.servers for s in server.sockets]
        self.port = sockets[0].getsockname()[1] if sockets else self.port
        self.url = url_for(self.host, self.port)
        layout = self.coordinator.layout
        fsops.write_json(layout.coordinator_file, {
            "url": self.url, "host": self.host, "port": self.port, "pid": os.getpid(),
        })
        log.info("Coordinator serving render nodes on http://%s:%d", self.host, self.port)
        log.info("Dashboard at %s/dashboard", self.url)
        return self.url

    def lock_root(self) -> None:
        """One coordinator per project root: two would both hand out the same tasks.
        Taken before the main worker tidies the folders, so a second one touches nothing."""
        path = self.coordinator.layout.coordinator_lock
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open while serving
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise ConfigError(f"cannot serve {self.coordinator.layout.root}: another main worker "
                              f"(pid {holder}) already coordinates it") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_handle = handle

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(STOP_GRACE + 5)
        self.coordinator.layout.coordinator_file.unlink(missing_ok=True)
        if self._lock_handle is not None:
            self._lock_handle.close()  # releases the flock
            self._lock_handle = None
        log.info("Coordinator stopped")
