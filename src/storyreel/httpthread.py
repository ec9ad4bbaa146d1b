"""An ASGI app served by uvicorn on a background thread: the coordinator's API inside the
main worker and the dashboard on its own both run this way."""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI

from storyreel.errors import ConfigError
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.netaddr import Listen
from storyreel.tls import ServerTLS

log = get_logger(MAIN_WORKER)

# Binding a port takes milliseconds; this long means something is wrong.
START_TIMEOUT = 20.0
# In-flight requests (an upload) get this long to finish when the server stops.
STOP_GRACE = 10.0
# An idle connection stays open this long (s): longer than any heartbeat or claim-poll
# interval, so a node's requests reuse one connection instead of racing its close (uvicorn's
# own 5 s equals the default heartbeat period).
KEEP_ALIVE = 75
# How often `start` looks whether the port is bound yet (s).
_POLL = 0.02


class ServerThread:
    """`start` returns once the port is bound (or raises); `stop` lets requests finish."""

    def __init__(self, app: FastAPI, listen: Listen, *, name: str, tls: ServerTLS | None = None) -> None:
        """With `tls`, uvicorn serves HTTPS itself with that certificate and key."""
        self.listen = listen
        self.tls = tls
        config = uvicorn.Config(
            app, host=listen.host, port=listen.port, log_config=None, access_log=False,
            lifespan="off", timeout_graceful_shutdown=STOP_GRACE, timeout_keep_alive=KEEP_ALIVE,
            ssl_certfile=str(tls.cert) if tls else None, ssl_keyfile=str(tls.key) if tls else None,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def _serve(self) -> None:
        try:
            self.server.run()
        except SystemExit:  # uvicorn's way of saying it could not start (port taken); start() reports it
            log.debug("uvicorn could not start on %s", self.listen)

    def start(self, abort: threading.Event | None = None) -> Listen:
        """Bind and serve; returns where it listens (the bound port for `:0`). When `abort`
        is set while binding, returns without waiting longer."""
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:
            if abort is not None and abort.is_set():
                return self.listen
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ConfigError(f"cannot listen on {self.listen}: the port is taken or not "
                                  f"available on this machine")
            time.sleep(_POLL)
        sockets = [s for server in self.server.servers for s in server.sockets]
        if sockets:
            self.listen = self.listen.on_port(sockets[0].getsockname()[1])
        return self.listen

    @property
    def url(self) -> str:
        """The URL a client on this machine uses: https when serving TLS."""
        url = self.listen.url
        return "https://" + url.removeprefix("http://") if self.tls else url

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(STOP_GRACE + 5)
