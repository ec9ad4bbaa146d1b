"""The node's client against a loopback server whose disk is "full": every request is
answered 507 with a Retry-After, which the client keeps within bounds and waits out."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from faultserver import LoopbackServer, Reply

from storyreel.errors import CoordinatorFull, Unreachable
from storyreel.node.client import FULL_WAIT_DEFAULT, FULL_WAIT_MAX, FULL_WAIT_MIN, CoordinatorClient


def full(retry_after: str | None) -> LoopbackServer:
    headers = {} if retry_after is None else {"Retry-After": retry_after}
    return LoopbackServer(lambda _request: Reply.of(507, {"detail": "no space left on device"}, **headers))


@pytest.mark.parametrize(("header", "wait"), [
    ("3", 3.0), ("0", FULL_WAIT_MIN), ("-5", FULL_WAIT_MIN), ("86400", FULL_WAIT_MAX),
    ("2.5", 2.5), (None, FULL_WAIT_DEFAULT), ("soon", FULL_WAIT_DEFAULT), ("nan", FULL_WAIT_DEFAULT),
    ("Wed, 21 Oct 2026 07:28:00 GMT", FULL_WAIT_DEFAULT),
])
def test_a_507_is_a_full_disk_with_a_bounded_wait(header: str | None, wait: float) -> None:
    server = full(header)
    client = CoordinatorClient(server.url, "token", "n1")
    try:
        with pytest.raises(CoordinatorFull, match="disk is full") as caught:
            client.heartbeat("T1", 1, {})  # not patient: the heartbeat thread tries again itself
    finally:
        client.close()
        server.close()
    assert caught.value.retry_after == wait and isinstance(caught.value, Unreachable)
    assert (FULL_WAIT_MIN, FULL_WAIT_MAX) == (1.0, 30.0)


def test_an_upload_waits_out_a_full_disk_until_the_hard_stop(tmp_path: Path) -> None:
    server = full("1")
    render = tmp_path / "final.mp4"
    render.write_bytes(b"x" * 5000)
    halt = threading.Event()
    client = CoordinatorClient(server.url, "token", "n1", halt=halt)
    threading.Timer(2.5, halt.set).start()
    started = time.monotonic()
    try:
        with pytest.raises(Unreachable, match="stopped while the coordinator's disk was full"):
            client.upload("T1", 1, render)
    finally:
        client.close()
        server.close()
    assert 2.4 < time.monotonic() - started < 4.0
    puts = server.requests("PUT", r"/tasks/T1/output")
    assert len(puts) == 3  # at 0, 1 and 2 s: the same render, whole, each time
    assert all(request.body == render.read_bytes() for request, _ in puts)
    assert render.is_file()
