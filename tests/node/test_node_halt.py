"""The hard stop belongs to the node; its client only reads it, so a hard stop also ends
the client's patient waits for an unreachable coordinator."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from storyreel.errors import Unreachable
from storyreel.node.client import CoordinatorClient
from storyreel.node.pipeline import Node, NodeConfig


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_hard_stop_ends_the_clients_wait_for_an_unreachable_coordinator(tmp_path: Path) -> None:
    halt = threading.Event()
    client = CoordinatorClient(f"http://127.0.0.1:{closed_port()}", "token", "n1", halt=halt)
    node = Node(client, NodeConfig(), tmp_path, halt=halt, encoders=["libx264"])
    threading.Timer(0.5, node.stop_now).start()
    started = time.monotonic()
    try:
        with pytest.raises(Unreachable, match="stopped while the coordinator was unreachable"):
            client.register("host", ["libx264"])  # patient: would retry for ever
    finally:
        client.close()
    assert 0.4 < time.monotonic() - started < 3.0
    assert node.halt is halt and halt.is_set() and node.stopping.is_set()
