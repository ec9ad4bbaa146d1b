"""Run ffmpeg/ffprobe: argv lists only, no stdin, decoded output, domain errors."""

from __future__ import annotations

import logging
import shlex
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from storyreel.errors import MediaError

log = logging.getLogger("storyreel.media")


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
    pipe never fills. `stop()` terminates the program.
    """

    def __init__(self, argv: list[str], *, verb: str, path: Path | str) -> None:
        log.debug("start %s", shlex.join(argv))
        self.argv, self.verb, self.path = argv, verb, Path(path)
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
        except OSError as exc:
            raise MediaError(verb, path, f"cannot start {argv[0]}: {exc.strerror or exc}") from exc
        self._stderr: list[bytes] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

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
        stderr = b"".join(self._stderr).decode("utf-8", errors="replace")
        done = Completed(self.argv, rc, "", stderr)
        if check and rc != 0:
            raise MediaError(self.verb, self.path, _failure(self.argv, rc, stderr), returncode=rc, stderr=stderr)
        return done

