"""The commands as a new user meets them: help that reads well, the README's commands
working as written, every mistake a one-line message, a node told where it went wrong."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from clikit import init_project, storyreel

README = Path(__file__).resolve().parents[2] / "README.md"


def test_flags_show_without_a_type_and_help_is_wrapped_to_the_terminal():
    main = storyreel("main", "--help", columns=60)
    assert main.returncode == 0
    assert "<bool>" not in main.stdout and re.search(r"^\s+--once\s+Process", main.stdout, re.M)
    assert max(len(line) for line in main.stdout.splitlines()) <= 60
    top = storyreel("--help", columns=60)
    # A docstring's own line break ("… while 'storyreel run'\n renders") is not kept.
    assert "'storyreel\n" not in top.stdout and max(len(line) for line in top.stdout.splitlines()) <= 60
    # Brackets in help text are text, not markup that vanishes.
    assert "the [coordinator] listen" in storyreel("status", "--help").stdout


def test_the_readme_copy_commands_work_as_written(tmp_path: Path):
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Using it on your own assets"):]
    block = section[section.index("```bash\n") + 8:section.index("```\n", section.index("```bash\n") + 8)]
    wanted = [line.split("  #")[0] for line in block.splitlines()
              if line.startswith(("storyreel init", "mkdir", "cp "))]
    assert wanted and any(line.startswith("cp ") for line in wanted)
    (tmp_path / "clips").mkdir()
    for name in ("story.mp3", "theme.mp3", "clips/a.mp4", "clips/b.mp4"):
        (tmp_path / name).write_bytes(b"x")
    root = tmp_path / "srv" / "stories"
    for line in wanted:
        line = line.replace("/srv/stories", str(root)).replace("storyreel ", f"{sys.executable} -m storyreel.cli ", 1)
        done = subprocess.run(["bash", "-euc", line], cwd=tmp_path, capture_output=True, text=True, check=False)
        assert done.returncode == 0, (line, done.stderr)
    assert (root / "raw/video/fantasy/a.mp4").is_file()
    assert (root / "raw/music/fantasy/theme.mp3").is_file()
    assert (root / "raw/story/fantasy/dragon_flight/voice/chapter_0001.mp3").is_file()


def test_the_readme_recommends_a_token_file():
    text = README.read_text(encoding="utf-8")
    farm = text[text.index("## Run a farm"):]
    assert "storyreel render --server http://farm-main:8765 --token-file" in farm
    assert '--token "$TOKEN"' not in text


def _one_message(done: subprocess.CompletedProcess, *needles: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("storyreel: ")]
    assert len(lines) == 1, done.stderr
    for needle in needles:
        assert needle in lines[0]


def test_user_errors_are_one_message(tmp_path: Path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("hello\n")
    _one_message(storyreel("init", a_file), f"{a_file} is a file, not a folder")
    _one_message(storyreel("init", a_file / "farm"), f"{a_file} is a file, not a folder")
    _one_message(storyreel("status", a_file), f"{a_file} is a file, not a project folder")
    _one_message(storyreel("main", a_file, "--once"), f"{a_file} is a file, not a project folder")
    _one_message(storyreel("render", "--server", "http://127.0.0.1:9", "--token", "t", "--log-level", "LOUD"),
                 "unknown log level 'LOUD': expected DEBUG, INFO, WARN or ERROR")
    _one_message(storyreel("render", "--server", "ftp://farm:21", "--token", "t", "--encoder", "libx264"),
                 "--server 'ftp://farm:21' is not the main worker's URL")


def _start_dashboard(root: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", "storyreel.cli", "dashboard", str(root), "--listen",
                             "127.0.0.1:0"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        found = re.search(r"Dashboard at http://127\.0\.0\.1:(\d+)/dashboard", line)
        if found:
            return proc, int(found.group(1))
    proc.kill()
    raise AssertionError("the dashboard did not start")


def test_a_node_pointed_at_the_dashboard_without_a_scheme_is_told_so(tmp_path: Path):
    root = init_project(tmp_path / "farm")
    dashboard, port = _start_dashboard(root)
    try:
        token = (root / ".storyreel/token").read_text().strip()
        started = time.monotonic()
        done = storyreel("render", "--server", f"127.0.0.1:{port}", "--token", token, "--encoder", "libx264",
                         "--work-dir", tmp_path / "work", timeout=60)
    finally:
        dashboard.terminate()
        dashboard.wait(10)
    assert time.monotonic() - started < 30  # refused at once, not retried
    assert f"--server 127.0.0.1:{port} has no scheme: using http://127.0.0.1:{port}" in done.stderr
    _one_message(done, f"http://127.0.0.1:{port} is not a storyreel coordinator", "storyreel dashboard")


def test_status_watch_into_a_pipe_prints_one_document_per_interval(tmp_path: Path):
    root = init_project(tmp_path / "farm")
    proc = subprocess.Popen([sys.executable, "-m", "storyreel.cli", "status", str(root), "--watch",
                             "--interval", "0.3"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    watchdog = threading.Timer(60.0, proc.kill)  # a watch that never prints ends the read below
    watchdog.start()
    read = b""
    try:
        while read.count(b"storyreel farm at") < 2 and (line := proc.stdout.readline()):
            read += line
    finally:
        watchdog.cancel()
        proc.terminate()
    out, _ = proc.communicate(timeout=10)
    text = (read + out).decode("utf-8", errors="replace")
    assert text.count("storyreel farm at") >= 2
    assert "\x1b[" not in text  # no cursor moves or colours into a pipe
