"""ffmpeg's `-progress pipe:1` key=value lines → Progress (percent, speed, ETA)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from storyreel.logs import RENDER_WORKER, console_lock, get_logger, print_console_through

log = get_logger(RENDER_WORKER)

# Without a terminal, one progress line this often (s) keeps logs readable.
PROGRESS_LOG_SECONDS = 5.0


@dataclass(frozen=True)
class Progress:
    """How far one render is, in seconds of output media."""

    out_seconds: float
    total_seconds: float
    speed: float | None  # media seconds per wall second; None until ffmpeg knows

    @property
    def percent(self) -> float:
        if self.total_seconds <= 0:
            return 0.0
        if self.out_seconds >= self.total_seconds:
            return 100.0  # exact, whatever float division would make of it
        return max(0.0, min(100.0, 100.0 * self.out_seconds / self.total_seconds))

    @property
    def eta_seconds(self) -> float | None:
        if not self.speed or self.speed <= 0:
            return None
        return max(0.0, self.total_seconds - self.out_seconds) / self.speed


def _speed(value: str) -> float | None:
    try:
        speed = float(value.strip().rstrip("x"))
    except ValueError:
        return None
    return speed if speed > 0 else None


class ProgressReader:
    """Collects one block of progress lines; `feed` returns a Progress at each block's end."""

    def __init__(self, total_seconds: float) -> None:
        self.total_seconds = total_seconds
        self._out = 0.0
        self._speed: float | None = None

    def feed(self, line: str) -> Progress | None:
        key, sep, value = line.strip().partition("=")
        if not sep:
            return None
        if key in ("out_time_us", "out_time_ms"):  # both are microseconds in ffmpeg 5
            if value.strip().lstrip("-").isdigit():  # "N/A" before the first frame
                self._out = max(self._out, int(value) / 1_000_000)
        elif key == "speed":
            self._speed = _speed(value)
        elif key == "progress":
            out = self.total_seconds if value == "end" else min(self._out, self.total_seconds)
            return Progress(out, self.total_seconds, self._speed)
        return None


class ProgressReport:
    """A rich progress bar on a terminal, else a log line every few seconds. While the bar
    is drawn, log lines are printed through its console, each on a line of its own above it."""

    def __init__(self, task_id: str, interactive: bool, *, verb: str = "render") -> None:
        """`verb`: what the task does, "render" (its speed shown as × realtime) or "narrate"."""
        self.task_id = task_id
        self.verb = verb
        self._last_log = 0.0
        self._bar = None
        if interactive:
            from rich.console import Console
            from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as Bar

            self._bar = Bar(TextColumn(f"{verb} {{task.description}}"), BarColumn(),
                            TextColumn("{task.percentage:>5.1f}%  {task.fields[speed]}"),
                            TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            with console_lock:
                self._bar.start()
                self._row = self._bar.add_task(task_id[:8], total=100.0, speed="")
                print_console_through(self._print_line)

    def __call__(self, progress: Progress) -> None:
        speed = f"{progress.speed:.2f}x" if progress.speed and self.verb == "render" else "…"
        if self._bar is not None:
            self._bar.update(self._row, completed=progress.percent, speed=speed)
            return
        now = time.monotonic()
        if now - self._last_log >= PROGRESS_LOG_SECONDS or progress.percent >= 100:
            self._last_log = now
            eta = f"{progress.eta_seconds:.0f} s" if progress.eta_seconds is not None else "unknown"
            if self.verb == "render":
                log.info("Rendering %s: %.1f%% at %s, ETA %s", self.task_id, progress.percent, speed, eta)
            else:
                log.info("%sing %s: %.1f%%, ETA %s", self.verb.capitalize()[:-1], self.task_id, progress.percent, eta)

    def _print_line(self, line: str) -> None:
        """One log line above the bar, as it is: no markup, no colours, no wrapping added."""
        assert self._bar is not None
        self._bar.console.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)

    def close(self) -> None:
        if self._bar is not None:
            with console_lock:
                print_console_through(None)
                self._bar.stop()
