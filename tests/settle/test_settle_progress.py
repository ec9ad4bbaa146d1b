"""On a terminal the render progress bar and the log lines never share a line: `render`
draws its bar below the log lines, `run` (whose main worker writes to the same terminal
as its node) keeps to log lines."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ttykit import run_on_tty, screen_lines

from storyreel.layout import TaskState
from storyreel.plan import Planner
from storyreel.project import Project

# A SPEC §9 line's start, wherever it appears on a terminal line.
LOG_PREFIX = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (DEBUG|INFO|WARN|ERROR) \w+ \"")
BAR = "━"  # rich's bar; no log line of ours contains it
STORY = " ".join(["The dragon flew on over the quiet hills and the sleeping town."] * 2)
# Upper bound for two tiny renders and their uploads on a loaded machine (s).
RUN_LIMIT = 240.0


def _two_tasks(project: Project, media) -> Project:
    """Two queued chapters whose renders last a second or two each."""
    layout = project.layout
    cfg = layout.config_file
    text = cfg.read_text().replace('resolution = "3840x2160"', 'resolution = "640x360"')
    cfg.write_text(text.replace('preset = "medium"', 'preset = "slow"').replace('encoder = "auto"',
                                                                                'encoder = "libx264"'))
    project = Project.open(layout.root)
    for chapter in ("chapter_0001.mp3", "chapter_0002.mp3"):
        media.copy(media.speech(STORY), layout.scanned_voice("fantasy", "dragon", chapter))
    media.copy(media.clip(seconds=4.0), layout.scanned_clip("video", "fantasy", 160, 90, 4.0, "c1"))
    media.copy(media.tone(seconds=2.0), layout.scanned_music("fantasy", 2.0, "m1"))
    assert len(Planner(project).plan_pending()) == 2
    return project


def _env(project: Project) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES")}
    return {**env, "TERM": "xterm-256color", "XDG_CACHE_HOME": str(project.layout.root.parent / "cache")}


def _shared_lines(output: str) -> list[str]:
    """Terminal lines where a log line does not start the line or shares it with a bar."""
    return [line for line in screen_lines(output)
            if LOG_PREFIX.search(line) and (not LOG_PREFIX.match(line) or BAR in line)]


def _start_main(project: Project, log: Path) -> tuple[subprocess.Popen, str]:
    layout = project.layout
    with log.open("ab") as out:
        main = subprocess.Popen([sys.executable, "-m", "storyreel.cli", "main", str(layout.root), "--listen",
                                 "127.0.0.1:0"], stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    deadline = time.monotonic() + 60
    while not layout.coordinator_file.exists():
        assert main.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.05)
    return main, json.loads(layout.coordinator_file.read_text())["url"]


@pytest.mark.slow
def test_render_draws_its_bar_below_the_log_lines_on_a_terminal(project: Project, media, tmp_path: Path):
    project = _two_tasks(project, media)
    layout = project.layout
    main, url = _start_main(project, tmp_path / "main.log")
    try:
        code, output = run_on_tty(
            [sys.executable, "-m", "storyreel.cli", "render", "--server", url, "--token-file",
             str(layout.token_file), "--encoder", "libx264", "--max-tasks", "2", "--work-dir",
             str(tmp_path / "work"), "--log-level", "DEBUG"], env=_env(project), timeout=RUN_LIMIT)
    finally:
        main.send_signal(signal.SIGTERM)
        main.wait(60)
    assert code == 0, output[-3000:]
    assert len(layout.task_ids(TaskState.DONE)) == 2
    assert BAR in output, "no progress bar was drawn on the terminal"
    lines = screen_lines(output)
    assert sum(1 for line in lines if LOG_PREFIX.match(line)) >= 6
    assert any("Rendering task" in line for line in lines)
    assert any('"Claimed 2 tasks, the most allowed (--max-tasks)' in line for line in lines)
    assert _shared_lines(output) == []


@pytest.mark.slow
def test_run_keeps_to_log_lines_on_a_terminal_its_main_worker_shares(project: Project, media):
    project = _two_tasks(project, media)
    code, output = run_on_tty([sys.executable, "-m", "storyreel.cli", "run", str(project.layout.root),
                               "--until-idle"], env=_env(project), timeout=RUN_LIMIT)
    assert code == 0, output[-3000:]
    assert len(project.layout.task_ids(TaskState.DONE)) == 2
    assert "Rendering " in output and BAR not in output
    assert _shared_lines(output) == []
