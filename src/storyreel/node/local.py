"""`storyreel run ROOT --nodes N`: the main worker serving on loopback plus N local render
node processes that speak the same HTTP protocol as nodes on other machines.

The first Ctrl-C/SIGTERM is passed to the nodes (each finishes its current render and
upload, hands back its prefetched task) and the main worker keeps serving until they
are gone; a second is passed on too (nodes hand back everything) and ends the run.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from storyreel.errors import NodeProcessError
from storyreel.ingest.watch import raw_has_files
from storyreel.layout import TaskState
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.mainworker import MainWorker
from storyreel.netaddr import Listen
from storyreel.project import Project

log = get_logger(MAIN_WORKER)

# Local nodes need no other machine to reach them: loopback, any free port.
LOOPBACK = Listen("127.0.0.1", 0)
# Between main-worker cycles when nothing is happening (s).
CYCLE_SECONDS = 0.5
# Nodes get this long to finish and hand back work after the run is over (s).
NODE_EXIT_SECONDS = 30.0


class FarmStop:
    """Two-stage stop from signals: `soft` first, `hard` on the second signal."""

    def __init__(self) -> None:
        self.soft = threading.Event()
        self.hard = threading.Event()

    def install(self) -> None:
        def handler(_signum: int, _frame: object) -> None:
            (self.hard if self.soft.is_set() else self.soft).set()

        signal.signal(signal.SIGINT, handler)
        signal.signal(signal.SIGTERM, handler)


def node_argv(url: str, token_file: Path, node_id: str, work_dir: Path, *, encoder: str | None,
              log_level: str, progress: str = "auto", log_file: Path | None = None) -> list[str]:
    argv = [sys.executable, "-m", "storyreel.cli", "render", "--server", url, "--token-file", str(token_file),
            "--node-id", node_id, "--work-dir", str(work_dir), "--log-level", log_level, "--progress", progress]
    if log_file is not None:
        argv += ["--log-file", str(log_file)]  # local nodes share the project's log
    return argv + (["--encoder", encoder] if encoder else [])


def run_farm(project: Project, nodes: int, stop: FarmStop, *, until_idle: bool = False,
             encoder: str | None = None, listen: Listen = LOOPBACK) -> None:
    """Main worker + coordinator here, `nodes` render node processes beside it."""
    layout = project.layout
    worker = MainWorker(project, listen=listen)
    worker.start()
    assert worker.farm is not None
    procs: list[subprocess.Popen[bytes]] = []
    configured = project.settings.node.work_dir
    work = Path(configured) if configured else Path(tempfile.mkdtemp(prefix="storyreel-run-"))
    try:
        for number in range(1, nodes + 1):
            argv = node_argv(worker.farm.url, layout.token_file, f"local-{number}", work / f"node-{number}",
                             encoder=encoder, log_level=project.settings.log_level,
                             # several nodes share one terminal: progress bars would overwrite each other
                             progress="auto" if nodes == 1 else "log", log_file=layout.log_file)
            try:
                # Own process group: a terminal's Ctrl-C reaches this process only, which
                # passes it on, so each node sees exactly one signal per Ctrl-C.
                procs.append(subprocess.Popen(argv, stdin=subprocess.DEVNULL, process_group=0))
            except OSError as exc:
                raise NodeProcessError(f"cannot start render node {number}: {exc.strerror or exc}") from exc
        log.info("Running %d local render node(s) against %s", nodes, worker.farm.url)
        worker.ingestor.watch()
        while not stop.soft.is_set():
            changed = worker.cycle()
            if all(p.poll() is not None for p in procs):
                raise NodeProcessError("every local render node exited; see their log lines above")
            if until_idle and not changed and _drained(worker):
                log.info("Nothing left to do: raw/, tasks/ and processing/ are empty")
                break
            stop.soft.wait(CYCLE_SECONDS)
        _stop_nodes(worker, procs, stop)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        worker.stop()
        if not configured:
            shutil.rmtree(work, ignore_errors=True)  # the nodes' own scratch space, never project files


def _drained(worker: MainWorker) -> bool:
    layout = worker.project.layout
    return not (worker.ingestor.pending() or raw_has_files(layout.raw) or layout.task_ids(TaskState.QUEUED)
                or layout.task_ids(TaskState.PROCESSING))


def _signal(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)


def _stop_nodes(worker: MainWorker, procs: list[subprocess.Popen[bytes]], stop: FarmStop) -> None:
    """SIGTERM each node and keep serving (uploads, reaping) until they exit; a hard stop
    sends the second SIGTERM, and nodes that then linger are killed."""
    _signal(procs)
    while any(p.poll() is None for p in procs) and not stop.hard.is_set():
        worker.cycle()
        stop.hard.wait(CYCLE_SECONDS)
    if stop.hard.is_set():
        _signal(procs)
        deadline = time.monotonic() + NODE_EXIT_SECONDS
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("Render node %s did not stop; killing it", proc.args[proc.args.index("--node-id") + 1])
