"""Serve the coordinator's API with uvicorn on a thread of the main worker."""

from __future__ import annotations

import os

from fastapi import FastAPI

from storyreel import fsops
from storyreel.coordinator.api import create_app
from storyreel.coordinator.service import Coordinator
from storyreel.httpthread import ServerThread
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.netaddr import Listen
from storyreel.rootlock import RootLock
from storyreel.tls import ServerTLS

log = get_logger(MAIN_WORKER)


class CoordinatorServer:
    """The API on a background thread; `start` returns once the port is bound.

    One coordinator per project root: two would both hand out the same tasks. The main
    worker passes the root lock it holds; a server started on its own takes the lock itself
    (and RootLocked says who holds it)."""

    def __init__(self, coordinator: Coordinator, listen: Listen | str, app: FastAPI | None = None, *,
                 lock: RootLock | None = None, tls: ServerTLS | None = None) -> None:
        """With `tls` it serves HTTPS itself (no proxy needed) and records an https URL."""
        self.coordinator = coordinator
        self.listen = Listen.parse(listen) if isinstance(listen, str) else listen
        self.tls = tls
        self.app = app if app is not None else create_app(coordinator, self.listen.host)
        self._http = ServerThread(self.app, self.listen, name="coordinator-http", tls=tls)
        self._lock = lock if lock is not None else RootLock(coordinator.layout)
        self._own_lock = lock is None
        self._started = False
        self.url = ""

    def start(self) -> str:
        """Bind and serve; returns the URL and records it in .storyreel/coordinator.json."""
        if not self._lock.held:
            self._lock.acquire(self.listen)
        self._started = True
        try:
            self.coordinator.rescan_queue()  # index tasks/ now, not on the first claim
            self.listen = self._http.start()
        except BaseException:
            self.stop()
            raise
        self.url = self._http.url
        self._lock.record(self.listen)
        recorded = {"url": self.url, "host": self.listen.host, "port": self.listen.port, "pid": os.getpid()}
        if self.tls is not None:
            recorded["tls_cert"] = str(self.tls.cert)  # what a local `status` trusts
        fsops.write_json(self.coordinator.layout.coordinator_file, recorded)
        log.info("Coordinator serving render nodes on %s://%s", "https" if self.tls else "http", self.listen)
        log.info("Dashboard at %s/dashboard", self.url)
        return self.url

    def stop(self) -> None:
        """Let in-flight requests finish and stop; nothing to do when it never started."""
        if not self._started:
            return
        self._started = False
        self._http.stop()
        self.coordinator.layout.coordinator_file.unlink(missing_ok=True)
        if self._own_lock:
            self._lock.release()
        log.info("Coordinator stopped")
