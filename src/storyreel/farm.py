"""`storyreel run ROOT --nodes N`: the main worker serving on loopback, on its own run
loop, with N local render node processes beside it that speak the same HTTP protocol as
nodes on other machines.

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
import time
from pathlib import Path

from storyreel.errors import NodeProcessError
from storyreel.idle import IdleCheck, Leftovers
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.mainworker import MainWorker
from storyreel.media.run import die_with_parent
from storyreel.netaddr import Listen
from storyreel.project import Project
from storyreel.shutdown import REPEAT_SECONDS, Shutdown
from storyreel.units import plural

log = get_logger(MAIN_WORKER)

# Local nodes need no other machine to reach them: loopback, any free port.
LOOPBACK = Listen("127.0.0.1", 0)
# Nodes get this long to finish and hand back work after the run is over (s).
NODE_EXIT_SECONDS = 30.0
# A node's second stop signal comes at least this long after its first, so the node
# does not take it for a repeat of the first (shutdown.REPEAT_SECONDS) and ignore it.
SECOND_SIGNAL_AFTER = REPEAT_SECONDS + 0.1


def node_argv(url: str, token_file: Path, node_id: str, work_dir: Path, *, encoder: str | None,
              log_level: str, progress: str = "auto", log_file: Path | None = None) -> list[str]:
    argv = [sys.executable, "-m", "storyreel.cli", "render", "--server", url, "--token-file", str(token_file),
            "--node-id", node_id, "--work-dir", str(work_dir), "--log-level", log_level, "--progress", progress]
    if log_file is not None:
        argv += ["--log-file", str(log_file)]  # local nodes share the project's log
    return argv + (["--encoder", encoder] if encoder else [])


class LocalNodes:
    """Render node processes on this machine, each in its own process group; `close` kills
    any still running and removes their scratch space (never project files)."""

    def __init__(self, project: Project, count: int, *, encoder: str | None = None,
                 progress: str = "auto") -> None:
        self.project = project
        self.count = count
        self.encoder = encoder
        self.progress = progress
        self.procs: list[subprocess.Popen[bytes]] = []
        self._scratch: Path | None = None  # a temp work dir we made
        self._signalled_at: float | None = None

    def start(self, url: str) -> None:
        layout, settings = self.project.layout, self.project.settings
        configured = settings.node.work_dir
        if configured:
            work = Path(configured)
        else:
            work = self._scratch = Path(tempfile.mkdtemp(prefix="storyreel-run-"))
        for number in range(1, self.count + 1):
            argv = node_argv(url, layout.token_file, f"local-{number}", work / f"node-{number}",
                             encoder=self.encoder, log_level=settings.log_level,
                             # the main worker logs to the same terminal: a node's bar would share
                             # its lines, so local nodes report progress as log lines unless asked
                             progress=self.progress if self.progress != "auto" else "log",
                             log_file=layout.log_file)
            try:
                # Own process group: a terminal's Ctrl-C reaches this process only, which
                # passes it on, so each node sees exactly one signal per Ctrl-C.
                # Killed with this process (SIGKILL, a crash): a node left behind would poll a
                # coordinator that is gone, for ever.
                self.procs.append(subprocess.Popen([*die_with_parent(), *argv], stdin=subprocess.DEVNULL,
                                                   process_group=0))
            except OSError as exc:
                raise NodeProcessError(f"cannot start render node {number}: {exc.strerror or exc}") from exc
        log.info("Running %s against %s", plural(self.count, "local render node"), url)

    def running(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.procs if p.poll() is None]

    def check_alive(self) -> None:
        if self.procs and not self.running():
            raise NodeProcessError("every local render node exited; see their log lines above")

    def signal(self) -> None:
        """SIGTERM every running node: the first call asks them to finish, the next to stop now."""
        if self._signalled_at is not None:
            time.sleep(max(0.0, self._signalled_at + SECOND_SIGNAL_AFTER - time.monotonic()))
        self._signalled_at = time.monotonic()
        for proc in self.running():
            proc.send_signal(signal.SIGTERM)

    def wait(self, seconds: float) -> None:
        """Give the nodes `seconds` in all to exit; say which did not."""
        deadline = time.monotonic() + seconds
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("Render node %s did not stop; killing it", proc.args[proc.args.index("--node-id") + 1])

    def close(self) -> None:
        for proc in self.running():
            proc.kill()
            proc.wait()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> LocalNodes:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def run_farm(project: Project, nodes: int, shutdown: Shutdown, *, until_idle: bool = False,
             encoder: str | None = None, listen: Listen = LOOPBACK, progress: str = "auto") -> Leftovers | None:
    """The main worker's run loop with `nodes` render node processes beside it. With
    `until_idle`, it ends once nothing can move without new input and returns what is
    left (idle.Leftovers); None when a signal ended it."""
    worker = MainWorker(project, listen=listen)
    left: Leftovers | None = None
    with worker.running(), LocalNodes(project, nodes, encoder=encoder, progress=progress) as local:
        local.start(worker.url)
        idle = IdleCheck(worker) if until_idle else None

        def done(changed: bool) -> bool:
            nonlocal left
            local.check_alive()
            if idle is not None and idle(changed):
                left = idle.leftovers()
                log.info("Idle: nothing can move without new input (%s)", left.summary())
                return True
            return False

        worker.loop(shutdown.soft, until=done)
        _stop_nodes(worker, local, shutdown)
    return left


def _stop_nodes(worker: MainWorker, local: LocalNodes, shutdown: Shutdown) -> None:
    """SIGTERM each node and keep serving (uploads, reaping) until they exit; a hard stop
    sends the second SIGTERM, and nodes that then linger are killed."""
    local.signal()
    worker.loop(shutdown.hard, until=lambda _changed: not local.running())
    if shutdown.hard.is_set():
        local.signal()
        local.wait(NODE_EXIT_SECONDS)
