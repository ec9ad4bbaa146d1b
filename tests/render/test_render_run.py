"""`storyreel run`: the main worker plus local render nodes over loopback, stopped by signals;
and the render progress display (a bar on a terminal, log lines otherwise)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

from storyreel.layout import TaskState
from storyreel.plan import Planner
from storyreel.project import Project
from storyreel.render.progress import Progress, ProgressReport
from storyreel.shutdown import REPEAT_SECONDS

LONG_STORY = " ".join(["The dragon flew on over the quiet hills and the sleeping town."] * 4)


def planned(project, media, *, resolution="640x360", preset="slow"):
    """One queued task whose render lasts a few seconds, long enough to be signalled mid-way."""
    layout = project.layout
    cfg = layout.config_file
    text = cfg.read_text().replace('resolution = "3840x2160"', f'resolution = "{resolution}"')
    text = text.replace('preset = "medium"', f'preset = "{preset}"').replace(
        'encoder = "auto"', 'encoder = "libx264"')
    cfg.write_text(text)
    project = Project.open(layout.root)
    media.copy(media.speech(LONG_STORY), layout.scanned_voice("fantasy", "dragon", "chapter_0001.mp3"))
    media.copy(media.clip(seconds=4.0), layout.scanned_clip("video", "fantasy", 160, 90, 4.0, "c1"))
    media.copy(media.tone(seconds=2.0), layout.scanned_music("fantasy", 2.0, "m1"))
    return project, Planner(project).plan_pending()[0]


class Run:
    """A `storyreel run` process whose stderr is collected while it runs."""

    def __init__(self, project) -> None:
        env = {**os.environ, "XDG_CACHE_HOME": str(project.layout.root.parent / "cache")}
        self.proc = subprocess.Popen([sys.executable, "-m", "storyreel.cli", "run", str(project.layout.root)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for raw in self.proc.stderr:
            self.lines.append(raw.decode("utf-8", errors="replace"))

    def wait_for(self, text: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.lines):
            assert self.proc.poll() is None, "".join(self.lines)[-3000:]
            assert time.monotonic() < deadline, f"never logged {text!r}"
            time.sleep(0.05)

    def finish(self) -> str:
        try:
            self.proc.wait(timeout=120)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        return "".join(self.lines)


def no_partial_files(layout) -> bool:
    return not [p for p in layout.root.rglob("*") if p.name.startswith(".storyreel-tmp-") or p.suffix == ".part"]


def test_first_sigterm_finishes_the_current_render(project, media):
    project, task_id = planned(project, media)
    layout = project.layout
    run = Run(project)
    run.wait_for("Rendering task")
    run.proc.send_signal(signal.SIGTERM)
    stderr = run.finish()
    assert run.proc.returncode == 0, stderr[-3000:]
    assert layout.task_ids(TaskState.DONE) == [task_id]
    assert layout.output_file(task_id).stat().st_size > 0
    assert layout.task_ids(TaskState.QUEUED) == [] and layout.task_ids(TaskState.PROCESSING) == []
    assert no_partial_files(layout)


def test_second_sigterm_stops_at_once_and_hands_the_task_back(project, media):
    project, task_id = planned(project, media, preset="veryslow")
    layout = project.layout
    run = Run(project)
    run.wait_for("Rendering task")
    run.proc.send_signal(signal.SIGTERM)
    run.wait_for("Stopping")
    time.sleep(REPEAT_SECONDS + 0.2)  # a second signal within REPEAT_SECONDS repeats the first
    run.proc.send_signal(signal.SIGTERM)
    stderr = run.finish()
    assert run.proc.returncode in (0, 143), stderr[-3000:]
    assert layout.task_ids(TaskState.DONE) == [], "a second signal must not wait for the render"
    assert layout.task_ids(TaskState.QUEUED) == [task_id]
    assert layout.task_ids(TaskState.PROCESSING) == []
    assert no_partial_files(layout)


def test_progress_bar_on_a_terminal_and_lines_otherwise(project):
    bar = ProgressReport("abcdef12-task", interactive=True)
    bar(Progress(1.0, 10.0, 2.0))
    bar(Progress(10.0, 10.0, 2.0))
    bar.close()
    lines = ProgressReport("abcdef12-task", interactive=False)
    lines(Progress(1.0, 10.0, 2.0))
    lines(Progress(2.0, 10.0, 2.0))  # within 5 s of the last line: not logged
    lines(Progress(10.0, 10.0, 2.0))  # the end is always logged
    text = project.layout.log_file.read_text()
    assert "Rendering abcdef12-task: 10.0% at 2.00x, ETA 4 s" in text
    assert "20.0%" not in text
    assert "Rendering abcdef12-task: 100.0% at 2.00x, ETA 0 s" in text
