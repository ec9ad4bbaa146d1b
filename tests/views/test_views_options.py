"""The options `main`, `run` and `render` share are one option each (same name, same help,
same check), and `storyreel run --listen` serves the farm where the operator says."""

from __future__ import annotations

import re
from pathlib import Path

from cli.clikit import storyreel
from farm.farmkit import farm_project, free_port

from storyreel.layout import TaskState


def _option_help(command: str, option: str) -> str:
    """The help text of one option as `storyreel COMMAND --help` prints it, unwrapped."""
    text = storyreel(command, "--help", columns=400).stdout
    found = re.search(rf"^\s+{option}\b(.*?)(?=^\s+--|\Z)", text, re.S | re.M)
    assert found, f"{command} has no {option}:\n{text}"
    return " ".join(found.group(1).split())


def test_log_level_and_progress_are_one_option_each():
    log_level = {command: _option_help(command, "--log-level") for command in ("main", "run", "render")}
    assert len(set(log_level.values())) == 1, log_level
    assert "DEBUG, INFO, WARN or ERROR" in log_level["main"]
    progress = {command: _option_help(command, "--progress") for command in ("run", "render")}
    assert len(set(progress.values())) == 1, progress
    listen = {command: _option_help(command, "--listen") for command in ("main", "run")}
    assert len(set(listen.values())) == 1, listen


def test_bad_shared_options_are_one_message(tmp_path: Path, media):
    root = farm_project(tmp_path / "root", media, tasks=1).layout.root
    for args in (("main", root, "--once", "--log-level", "LOUD"), ("run", root, "--log-level", "LOUD"),
                 ("render", "--server", "http://127.0.0.1:9", "--token", "t", "--log-level", "LOUD")):
        result = storyreel(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "unknown log level 'LOUD'" in result.stderr and "Traceback" not in result.stderr
    for args in (("run", root, "--progress", "fancy"), ("render", "--server", "http://127.0.0.1:9", "--token", "t",
                                                         "--progress", "fancy")):
        result = storyreel(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert "--progress must be auto, bar or log" in result.stderr
    assert root.joinpath("tasks").is_dir() and len(list((root / "tasks").iterdir())) == 1  # nothing ran


def test_run_serves_on_listen_and_logs_at_log_level(tmp_path: Path, media):
    project = farm_project(tmp_path / "root", media, tasks=1)
    layout = project.layout
    layout.config_file.write_text(layout.config_file.read_text().replace('log_level = "DEBUG"', 'log_level = "WARN"'))
    port = free_port()
    result = storyreel("run", layout.root, "--until-idle", "--listen", f"127.0.0.1:{port}", "--log-level", "DEBUG",
                       "--progress", "log")
    assert result.returncode == 0, result.stderr
    assert len(layout.task_ids(TaskState.DONE)) == 1
    log = layout.log_file.read_text(encoding="utf-8")
    assert f"Coordinator serving render nodes on http://127.0.0.1:{port}" in log
    assert re.search(r"Z DEBUG render_worker ", log), "the local node did not log at the --log-level"
