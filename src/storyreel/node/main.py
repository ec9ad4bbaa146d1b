"""`storyreel render`: probe encoders, register with the coordinator, run the pipeline.

First SIGTERM/Ctrl-C: the prefetched task goes back at once, the current render
and its upload finish, then the node exits. Second, or the first one's grace period
running out: the render is cancelled and every task is released before exiting.
The node's other limits (`--max-tasks`, `--exit-when-idle`) end it with status 0.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

from storyreel.errors import StoryreelError
from storyreel.logs import RENDER_WORKER, get_logger
from storyreel.node.client import CoordinatorClient
from storyreel.node.limits import Limits
from storyreel.node.narrating import engines
from storyreel.node.pipeline import Node, NodeConfig, clear_leftovers
from storyreel.render.encoders import choose, usable_encoders
from storyreel.shutdown import Shutdown
from storyreel.tls import client_context

log = get_logger(RENDER_WORKER)


def default_node_id() -> str:
    """Unique per process on a machine, readable in logs: `<hostname>-<pid>`."""
    return f"{socket.gethostname()}-{os.getpid()}"


def run_node(server: str, token: str, *, node_id: str | None = None, work_dir: Path | None = None,
             copy_inputs: bool = False, encoder: str | None = None, progress_bar: bool = False,
             limits: Limits | None = None, ca_file: Path | None = None, narrate: bool = True) -> None:
    """Serve one coordinator until stopped by a signal or by one of `limits`. `encoder` forces
    one for every task; an https coordinator's certificate must chain to `ca_file` (default:
    the system's CAs). `narrate`: also take narrate tasks, with the engines this machine runs."""
    node_id = node_id or default_node_id()
    encoders = [choose(encoder)] if encoder else usable_encoders()
    scratch: Path | None = None  # a temp work dir we made, removed at exit
    give_up = threading.Event()
    holder: list[Node] = []
    _on_signals(give_up, holder)  # a signal while still waiting for the coordinator ends the wait
    client = CoordinatorClient(server, token, node_id, halt=give_up, verify=client_context(ca_file))
    try:
        config = NodeConfig.from_register(client.register(socket.gethostname(), encoders))
        if narrate:  # probing the engines takes seconds: renders are claimed meanwhile
            threading.Thread(target=_advertise_narrators, args=(client, encoders), name="narrators",
                             daemon=True).start()
        if work_dir is None:
            work_dir = scratch = Path(tempfile.mkdtemp(prefix=f"storyreel-{node_id}-"))
        work_dir.mkdir(parents=True, exist_ok=True)
        clear_leftovers(work_dir)
        node = Node(client, config, work_dir, halt=give_up, encoders=encoders, copy_inputs=copy_inputs,
                    encoder=encoder, progress_bar=progress_bar, limits=limits)
        holder.append(node)
        log.info("Render node %s serving %s (encoders %s, work dir %s)", node_id, server,
                 ", ".join(encoders), work_dir)
        node.run()
        log.info("Render node %s stopped", node_id)
    finally:
        client.close()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def _advertise_narrators(client: CoordinatorClient, encoders: list[str]) -> None:
    """Probe the narration engines this machine runs and register again with them, so the
    coordinator hands this node narrate tasks too."""
    found = engines()
    if not found:
        log.info("Render node %s takes no narrate tasks: no narration engine runs here", client.node)
        return
    client.narrators = found
    try:
        client.register(socket.gethostname(), encoders)
    except StoryreelError as exc:  # the next registration (after a coordinator restart) tells it
        log.warning("Cannot tell the coordinator this node narrates: %s", exc)
        return
    log.info("Render node %s narrates with %s", client.node, ", ".join(found))


def _on_signals(give_up: threading.Event, holder: list[Node]) -> None:
    """First signal: the node's warm stop; second: its cold stop. Before the node runs,
    any signal gives up waiting for the coordinator."""

    def soft() -> None:
        (holder[0].stop if holder else give_up.set)()

    def hard(_signum: int) -> None:
        (holder[0].stop_now if holder else give_up.set)()

    Shutdown(on_soft=soft, on_hard=hard, component=RENDER_WORKER).install()
