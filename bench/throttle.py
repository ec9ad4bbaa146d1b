"""A TCP proxy with a bandwidth limit: a slow network link between a node and the coordinator.

The node talks to the proxy's address; bytes in each direction pass through a
token bucket of `rate` bytes per second shared by every connection, like one
uplink and one downlink. Runs in a thread of the benchmark process.
"""

from __future__ import annotations

import asyncio
import threading
import time

# Bytes moved per read; small enough that the bucket paces smoothly.
CHUNK = 64 * 1024


class _Bucket:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.next_free = time.monotonic()
        self.lock = asyncio.Lock()

    async def take(self, amount: int) -> None:
        if self.rate <= 0:
            return
        async with self.lock:
            now = time.monotonic()
            start = max(now, self.next_free)
            self.next_free = start + amount / self.rate
            delay = self.next_free - now
        if delay > 0:
            await asyncio.sleep(delay)


class ThrottledProxy:
    """Forward 127.0.0.1:<port> to target_host:target_port at `rate` bytes/s each way."""

    def __init__(self, target_host: str, target_port: int, rate: float) -> None:
        self.target = (target_host, target_port)
        self.rate = rate
        self.port = 0
        self.bytes_down = 0  # coordinator → node
        self.bytes_up = 0  # node → coordinator
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._server: asyncio.AbstractServer | None = None

    def __enter__(self) -> ThrottledProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _shutdown(self) -> None:
        """Close the listener and every open connection while the loop still runs."""
        if self._server is not None:
            self._server.close()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._down = _Bucket(self.rate)
        self._up = _Bucket(self.rate)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, bucket: _Bucket, up: bool
    ) -> None:
        try:
            while data := await reader.read(CHUNK):
                await bucket.take(len(data))
                if up:
                    self.bytes_up += len(data)
                else:
                    self.bytes_down += len(data)
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass  # one side hung up or the proxy stops: close the other side below
        finally:
            writer.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()
            return
        try:
            await asyncio.gather(
                self._pipe(client_r, server_w, self._up, True),
                self._pipe(server_r, client_w, self._down, False),
            )
        except asyncio.CancelledError:
            client_w.close()
            server_w.close()
