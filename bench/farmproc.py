"""Start and stop a real farm for the benchmarks: `storyreel main --listen` and nodes.

Every process is a real `storyreel` command; the benchmark only watches them
(/proc for CPU and memory, the project folders for progress).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import BenchError, proc_cpu_seconds, proc_peak_rss

from storyreel.layout import Layout, TaskState
from storyreel.logs import read_events

# Seconds a main worker gets to bind its port and a farm to drain before we give up.
START_TIMEOUT = 60.0
# Seconds a stopping process gets after SIGTERM before SIGKILL.
STOP_GRACE = 30.0


def storyreel(*args: str) -> list[str]:
    return [sys.executable, "-m", "storyreel.cli", *args]


def set_options(config: Path, section: str, values: dict[str, object]) -> None:
    """Change `key = value` lines of one [section] of a storyreel.toml written by init."""
    lines = config.read_text().splitlines()
    current = ""
    for index, line in enumerate(lines):
        header = re.match(r"^\[(\w+)\]$", line.strip())
        if header:
            current = header.group(1)
            continue
        key = line.split("=", 1)[0].strip()
        if (
            current == section
            and key in values
            and "=" in line
            and not line.lstrip().startswith("#")
        ):
            value = values[key]
            lines[index] = f"{key} = {json.dumps(value) if isinstance(value, str) else value}"
    config.write_text("\n".join(lines) + "\n")


@dataclass
class Proc:
    """A running storyreel process and what we learned about it."""

    name: str
    popen: subprocess.Popen
    log: Path
    peak_rss: int = 0
    cpu: float = 0.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def sample(self) -> None:
        """Record CPU and peak RSS so far (call before stopping)."""
        try:
            self.cpu = proc_cpu_seconds(self.pid)
            self.peak_rss = max(self.peak_rss, proc_peak_rss(self.pid))
        except (OSError, IndexError, ValueError):
            pass  # the process has exited: keep the last figures read

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.sample()
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def spawn(name: str, argv: list[str], log: Path, env: dict[str, str] | None = None) -> Proc:
    """Start a program with its output going to `log`."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as handle:
        popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    return Proc(name, popen, log)


def start_main(root: Path, logs: Path, env: dict[str, str] | None = None) -> tuple[Proc, str]:
    """`storyreel main ROOT --listen 127.0.0.1:0`; returns it and the URL it serves."""
    layout = Layout(root)
    layout.coordinator_file.unlink(missing_ok=True)
    proc = spawn(
        "main worker",
        storyreel("main", str(root), "--listen", "127.0.0.1:0"),
        logs / "main.log",
        env,
    )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise BenchError(
                f"cannot start the main worker for {root}: it exited; see {proc.log}:\n"
                + proc.log.read_text(errors="replace")[-1500:]
            )
        try:
            url = json.loads(layout.coordinator_file.read_text())["url"]
            return proc, url
        except (OSError, ValueError, KeyError):
            time.sleep(0.05)
    proc.stop()
    raise BenchError(
        f"cannot start the main worker for {root}: no coordinator URL after {START_TIMEOUT:g} s"
    )


def start_node(url: str, token: str, name: str, logs: Path, *extra: str) -> Proc:
    return spawn(
        name, storyreel("render", "--server", url, "--token", token, *extra), logs / f"{name}.log"
    )


def finished(layout: Layout) -> tuple[int, int]:
    """(tasks in output/, tasks in trash/failed/)."""
    return len(layout.task_ids(TaskState.DONE)), len(layout.task_ids(TaskState.FAILED))


def wait_drained(layout: Layout, total: int, procs: list[Proc], timeout: float) -> float:
    """Wait until every task is in output/ or trash/failed/; returns the time it took."""
    started = time.monotonic()
    while True:
        done, failed = finished(layout)
        if done + failed >= total:
            return time.monotonic() - started
        for proc in procs:
            if proc.popen.poll() is not None:
                raise BenchError(
                    f"{proc.name} exited early with code {proc.popen.returncode}; see {proc.log}"
                )
            proc.sample()
        if time.monotonic() - started > timeout:
            raise BenchError(
                f"farm did not drain {total} tasks in {timeout:g} s ({done} done, {failed} failed)"
            )
        time.sleep(0.1)


def wait_events(layout: Layout, event: str, count: int, timeout: float) -> None:
    """Wait until the event log holds `count` events of one kind (nodes report after the fact)."""
    deadline = time.monotonic() + timeout
    while sum(1 for e in read_events(layout.events_file) if e.get("event") == event) < count:
        if time.monotonic() > deadline:
            raise BenchError(
                f"the event log has fewer than {count} {event} events after {timeout:g} s"
            )
        time.sleep(0.1)


def event_span(layout: Layout) -> float:
    """Seconds from the first claim to the last completed task, from the event log."""
    events = list(read_events(layout.events_file))
    claimed = [e["ts"] for e in events if e.get("event") == "claimed"]
    completed = [e["ts"] for e in events if e.get("event") == "completed"]
    if not claimed or not completed:
        raise BenchError(f"the event log {layout.events_file} has no claimed/completed events")
    return max(completed) - min(claimed)
