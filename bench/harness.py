"""Measuring programs side by side: wall time, CPU, peak RSS, medians and ratios.

Every figure in BENCHMARKS.md is a ratio of runs made in the same session, in an
interleaved order (a, b, c, a, b, c, …), so slow drift of a shared machine hits
every variant alike.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import shutil
import statistics
import subprocess
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from storyreel.errors import StoryreelError

# Clock ticks per second, to turn /proc/<pid>/stat utime+stime into seconds.
_TICKS = os.sysconf("SC_CLK_TCK")
# Page size, for /proc/<pid>/statm.
_PAGE = os.sysconf("SC_PAGE_SIZE")


class BenchError(StoryreelError):
    """A benchmark step failed (a program exited non-zero, a service did not answer)."""


@dataclass(frozen=True)
class Sample:
    """One measured run of one variant."""

    wall: float  # seconds
    cpu: float  # user + system seconds of the process and its children
    peak_rss: int  # bytes, largest resident set of the process or any child it waited for
    extra: dict[str, float] = field(default_factory=dict)
    stderr_tail: str = ""  # the end of the program's stderr (ffmpeg's final statistics)


def run_measured(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    sample_tree: bool = False,
) -> tuple[Sample, str]:
    """Run a program to completion; its wall time, CPU and peak RSS (from wait4), and stdout.

    With `sample_tree`, the summed RSS of the process and its children is also polled
    (extra["tree_rss"]): wait4 reports only the largest single process.
    """
    started = time.perf_counter()
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [
        threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True),  # type: ignore[union-attr]
        threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True),  # type: ignore[union-attr]
    ]
    for reader in readers:
        reader.start()
    sampler = TreeRssSampler(proc.pid) if sample_tree else None
    if sampler is not None:
        sampler.__enter__()
    deadline = None if timeout is None else started + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if deadline is not None and time.perf_counter() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            raise BenchError(f"cannot run {Path(argv[0]).name}: timed out after {timeout:g} s")
        time.sleep(0.02)
    wall = time.perf_counter() - started
    if sampler is not None:
        sampler.__exit__()
    proc.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    stderr = b"".join(err).decode("utf-8", errors="replace")
    if proc.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-8:])
        raise BenchError(f"cannot run {' '.join(argv[:3])} …: exit code {proc.returncode}\n{tail}")
    extra = {"tree_rss": float(sampler.peak)} if sampler is not None else {}
    sample = Sample(
        wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, extra, stderr[-4000:]
    )
    return sample, b"".join(out).decode("utf-8", errors="replace")


def proc_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) a running process and its finished children have used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / _TICKS


def proc_peak_rss(pid: int) -> int:
    """Peak resident set (VmHWM) of a running process, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            kids.extend(int(k) for k in text)
    except OSError:
        return kids
    return kids


def tree_rss(pid: int) -> int:
    """Resident set of a process and all its descendants now, in bytes."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            total += int(Path(f"/proc/{current}/statm").read_text().split()[1]) * _PAGE
        except (OSError, ValueError, IndexError):
            continue
        stack.extend(_children(current))
    return total


class TreeRssSampler:
    """Polls the summed RSS of a process tree (e.g. a node and its ffmpeg) in a thread;
    `root_peak` is the root process's own VmHWM, kept even after it exits."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid, self.interval, self.peak, self.root_peak = pid, interval, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            with contextlib.suppress(OSError, ValueError, IndexError):  # the process has ended
                self.root_peak = max(self.root_peak, proc_peak_rss(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeRssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def interleave(
    variants: dict[str, Callable[[], Sample]],
    runs: int,
    on_sample: Callable[[str, int, Sample], None] | None = None,
    once: Collection[str] = (),
) -> dict[str, list[Sample]]:
    """Run every variant `runs` times, round-robin, so drift hits each alike.

    Variants named in `once` (explanatory figures, not targets) run in the first round only.
    """
    samples: dict[str, list[Sample]] = {name: [] for name in variants}
    for index in range(runs):
        for name, measure in variants.items():
            if index and name in once:
                continue
            sample = measure()
            samples[name].append(sample)
            if on_sample is not None:
                on_sample(name, index, sample)
    return samples


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def _first_line(argv: list[str]) -> str:
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL
        )
    except OSError as exc:
        return f"unavailable ({exc.strerror})"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass  # no /proc/cpuinfo (not Linux): the CPU stays "unknown"
    mem = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
                break
    except OSError:
        pass  # no /proc/meminfo: memory stays "unknown"
    ffmpeg = shutil.which("ffmpeg") or "ffmpeg"
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "ffmpeg": _first_line([ffmpeg, "-hide_banner", "-version"]),
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def mib(value: float) -> str:
    return f"{value / 2**20:.0f} MiB"
