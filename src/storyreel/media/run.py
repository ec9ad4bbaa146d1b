"""Run ffmpeg/ffprobe: argv lists only, no stdin, decoded output, domain errors.

A long-running program (a render) dies with the process that started it, even when
that process is SIGKILLed: on Linux the kernel sends it SIGKILL (a parent-death signal
set by util-linux `setpriv`, which is safe in a threaded parent where preexec_fn is
not); elsewhere each one is noted in a folder of leftovers, and the next process that
starts a long-running program first kills those whose starter has died.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from storyreel.errors import MediaError

log = logging.getLogger("storyreel.media")

# How long the one-off check that setpriv can set a parent-death signal, or a look at
# one process with ps, may take: both answer in milliseconds.
QUICK_TIMEOUT = 10.0


@functools.cache
def die_with_parent() -> tuple[str, ...]:
    """The argv prefix that makes a program die with its starter (checked once), or ()."""
    setpriv = shutil.which("setpriv") if sys.platform.startswith("linux") else None
    if setpriv is None:
        return ()
    prefix = (setpriv, "--pdeathsig", "KILL", "--")
    try:
        done = subprocess.run([*prefix, sys.executable, "-c", ""], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=QUICK_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return prefix if done.returncode == 0 else ()


def leftovers_dir() -> Path:
    """Where long-running programs are noted while they run, when the kernel cannot tie
    them to their starter (one folder per user on the machine)."""
    user = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"storyreel-running-{user}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _command_of(pid: int) -> str:
    """The command line of a running process, as ps shows it ("" when unknown)."""
    try:
        done = subprocess.run(["ps", "-ww", "-o", "command=", "-p", str(pid)], stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=QUICK_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.decode("utf-8", errors="replace").strip()


def kill_leftovers(folder: Path | None = None) -> list[int]:
    """Kill the long-running programs noted in `folder` whose starter has died (a node
    that was SIGKILLed); returns their pids. A pid now used by another program is left."""
    folder = folder or leftovers_dir()
    killed: list[int] = []
    for note in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(note.read_text(encoding="utf-8"))
            owner, pid, last = int(record["owner"]), int(record["pid"]), str(record["argv"][-1])
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            note.unlink(missing_ok=True)
            continue
        if _alive(owner):
            continue
        if _alive(pid) and last in _command_of(pid):
            log.warning("Killing ffmpeg %d left running by process %d, which died", pid, owner)
            try:
                os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
                killed.append(pid)
            except OSError:
                pass
        note.unlink(missing_ok=True)
    return killed


@functools.cache
def _leftovers_killed_once() -> None:
    kill_leftovers()


@dataclass(frozen=True)
class Completed:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


def run(
    argv: list[str], *, verb: str, path: Path | str, timeout: float | None = None,
    check: bool = True,
) -> Completed:
    """Run a program to completion; raise MediaError on failure when `check`."""
    log.debug("run %s", shlex.join(argv))
    try:
        proc = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = (exc.stderr or b"").decode("utf-8", errors="replace")
        raise MediaError(verb, path, f"timed out after {timeout:g} s", stderr=stderr) from exc
    except OSError as exc:
        raise MediaError(verb, path, f"cannot start {argv[0]}: {exc.strerror or exc}") from exc
    done = Completed(
        argv, proc.returncode, proc.stdout.decode("utf-8", errors="replace"),
        proc.stderr.decode("utf-8", errors="replace"),
    )
    if check and done.returncode != 0:
        raise MediaError(verb, path, _failure(argv, done.returncode, done.stderr), returncode=done.returncode,
                         stderr=done.stderr)
    return done


def _failure(argv: list[str], returncode: int, stderr: str) -> str:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    last = lines[-1].strip() if lines else "no error message"
    return f"{Path(argv[0]).name} exited with code {returncode}: {last}"


class Streaming:
    """A running program whose stdout is read line by line (e.g. `-progress pipe:1`).

    stderr is collected in full (ffmpeg's log, for stderr.log) by a thread so the
    pipe never fills. `stop()` terminates the program. It dies with this process (see
    the module's docstring); on Linux with its starting thread, so the thread that
    starts it waits for it.
    """

    def __init__(self, argv: list[str], *, verb: str, path: Path | str) -> None:
        log.debug("start %s", shlex.join(argv))
        self.argv, self.verb, self.path = argv, verb, Path(path)
        prefix = die_with_parent()
        if not prefix:
            _leftovers_killed_once()
        elif shutil.which(argv[0]) is None:  # setpriv would start, then fail to run it
            raise MediaError(verb, path, f"cannot start {argv[0]}: no such program")
        try:
            self.proc = subprocess.Popen(
                [*prefix, *argv], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise MediaError(verb, path, f"cannot start {argv[0]}: {exc.strerror or exc}") from exc
        self._note = None if prefix else self._note_running()
        self._stderr: list[bytes] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _note_running(self) -> Path | None:
        """Note this program among the leftovers to kill should this process die first."""
        note = leftovers_dir() / f"{os.getpid()}-{self.proc.pid}.json"
        try:
            note.parent.mkdir(parents=True, exist_ok=True)
            note.write_text(json.dumps({"owner": os.getpid(), "pid": self.proc.pid, "argv": self.argv}),
                            encoding="utf-8")
        except OSError as exc:
            log.warning("Cannot note ffmpeg %d among the leftovers: %s", self.proc.pid, exc)
            return None
        return note

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for chunk in iter(lambda: self.proc.stderr.read(65536), b""):
            self._stderr.append(chunk)

    def lines(self) -> Iterator[str]:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            yield raw.decode("utf-8", errors="replace").rstrip("\n")

    def stop(self, grace: float = 5.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def wait(self, *, check: bool = True) -> Completed:
        rc = self.proc.wait()
        self._reader.join()
        if self._note is not None:
            self._note.unlink(missing_ok=True)
        stderr = b"".join(self._stderr).decode("utf-8", errors="replace")
        done = Completed(self.argv, rc, "", stderr)
        if check and rc != 0:
            raise MediaError(self.verb, self.path, _failure(self.argv, rc, stderr), returncode=rc, stderr=stderr)
        return done

