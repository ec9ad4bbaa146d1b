"""Simulated render nodes that heartbeat over plain asyncio streams.

A node's heartbeat is one small HTTP/1.1 request on a kept-alive connection. Sent through
httpx, a thousand of them cost the sending process more CPU than the coordinator spends
answering them, and on a 2-core machine that starves the very process being measured;
written as bytes and read back by status line and Content-Length, they cost a fraction.
The coordinator sees the same requests real nodes send.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from urllib.parse import urlsplit

API = "/api/v1"
# Longest wait for one answer (s); a beat that takes longer counts as refused.
ANSWER_TIMEOUT = 30.0


def heartbeat_request(host: str, token: str, node: str, task: str, attempt: int) -> bytes:
    body = json.dumps({"node": node, "attempt": attempt, "progress": {"percent": 50.0, "speed": 1.0}})
    head = (
        f"POST {API}/tasks/{task}/heartbeat HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body.encode()


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """(HTTP status, whether the server keeps the connection open) of one answer."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers.get("connection") != "close"


class Beater:
    """One node's heartbeat loop on its own connection, reopened when it breaks."""

    def __init__(self, url: str, token: str, node: str, task: str, attempt: int) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.request = heartbeat_request(parts.netloc, token, node, task, attempt)
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def beat(self) -> int:
        """One heartbeat; its HTTP status, 0 when the connection failed."""
        try:
            if self.streams is None:
                self.streams = await asyncio.open_connection(self.host, self.port)
            reader, writer = self.streams
            writer.write(self.request)
            await writer.drain()
            status, keep = await asyncio.wait_for(read_answer(reader), ANSWER_TIMEOUT)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            status, keep = 0, False
        if not keep:
            self.close()
        return status

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def heartbeats(
    url: str,
    token: str,
    held: list[tuple[str, str, int]],
    interval: float,
    window: float,
    record: Callable[[float, float, int], None],
) -> None:
    """Every holder (node, task, attempt) heartbeats every `interval` s for `window` s, their
    starts spread evenly over one interval; `record(answered_at, latency, status)` per beat."""
    end = time.monotonic() + window

    async def loop(offset: float, beater: Beater) -> None:
        await asyncio.sleep(offset)
        while time.monotonic() < end:
            began = time.perf_counter()
            status = await beater.beat()
            record(time.monotonic(), time.perf_counter() - began, status)
            await asyncio.sleep(interval)
        beater.close()

    beaters = [Beater(url, token, *h) for h in held]
    await asyncio.gather(*(loop(interval * i / len(held), b) for i, b in enumerate(beaters)))
