"""The serial baseline of benchmark 2: download → render → upload, one task at a time.

It speaks the same protocol with the product's own client and renderer, and sends
the same stage events, so the only difference from `storyreel render` is that
nothing overlaps. It exits when a claim finds the queue empty. No heartbeats: the
benchmark's leases outlast a task.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any

from storyreel.layout import FINAL_NAME, attempt_dir_name
from storyreel.node.client import CoordinatorClient
from storyreel.node.job import span
from storyreel.protocol import Downloaded, Rendered, StageEvent, TaskGrant, Uploaded
from storyreel.render.job import render_task


def _event(
    client: CoordinatorClient, kind: type[StageEvent], grant: TaskGrant, started: float, **fields: Any
) -> None:
    client.event(
        kind(node=client.node, task_id=grant.task_id, attempt=grant.attempt, **span(started), **fields)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--node-id", default=f"serial-{socket.gethostname()}")
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--encoder", default="libx264")
    args = parser.parse_args()
    client = CoordinatorClient(args.server, args.token, args.node_id)
    never = threading.Event()
    try:
        client.register(socket.gethostname(), [args.encoder])
        while (grant := client.claim()) is not None:
            work = args.work_dir / attempt_dir_name(grant.task_id, grant.attempt)
            inputs = work / "inputs"
            inputs.mkdir(parents=True, exist_ok=True)
            started = time.time()
            total = sum(
                client.download(
                    grant.task_id,
                    grant.attempt,
                    f.name,
                    f.size,
                    f.sha256,
                    inputs / f.name,
                    never,
                )
                for f in grant.files
            )
            _event(client, Downloaded, grant, started, bytes=total, in_place=False)
            started = time.time()
            result = render_task(inputs, work / FINAL_NAME, encoder=args.encoder)
            _event(
                client,
                Rendered,
                grant,
                started,
                media_seconds=round(result.media_seconds, 3),
                encoder=result.encoder,
            )
            started = time.time()
            answer = client.upload(grant.task_id, grant.attempt, work / FINAL_NAME)
            _event(client, Uploaded, grant, started, bytes=answer.bytes, tries=1)
            shutil.rmtree(work)
    finally:
        client.close()


if __name__ == "__main__":
    main()
