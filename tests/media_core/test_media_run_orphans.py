"""A render's ffmpeg dies with the process that started it, even on SIGKILL: a real
process starts a real long render through storyreel.media.run and is killed with -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from storyreel.media import run

# How long a killed starter's ffmpeg may outlive it.
GONE_WITHIN = 5.0
# How long the starter may take to start its render.
START_LIMIT = 30.0

STARTER = textwrap.dedent("""
    import sys
    from storyreel.media import run
    from storyreel.media.tools import ffmpeg

    if sys.argv[2] == "fallback":  # as on a system without setpriv: leftovers are noted
        run.die_with_parent = lambda: ()
    out = sys.argv[1]
    argv = [ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-re", "-f", "lavfi",
            "-i", "testsrc2=s=160x90:r=25:d=600", "-c:v", "libx264", "-preset", "ultrafast",
            "-progress", "pipe:1", "-nostats", "-y", "file:" + out]
    job = run.Streaming(argv, verb="render", path=out)
    print(job.proc.pid, flush=True)
    for line in job.lines():
        pass
    job.wait(check=False)
""")


def _running(pid: int) -> bool:
    """True while `pid` runs (a zombie nobody has reaped yet counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def _start_render(tmp_path: Path, mode: str) -> tuple[subprocess.Popen, int]:
    script = tmp_path / "starter.py"
    script.write_text(STARTER)
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    starter = subprocess.Popen([sys.executable, str(script), str(tmp_path / "out.mp4"), mode],
                               stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    pid = int(starter.stdout.readline())
    deadline = time.monotonic() + START_LIMIT
    while not (tmp_path / "out.mp4").exists() or "ffmpeg" not in _command(pid).split(" ", 1)[0]:
        assert time.monotonic() < deadline, "the render did not start"
        time.sleep(0.05)
    return starter, pid


def _kill_and_reap(starter: subprocess.Popen) -> None:
    os.kill(starter.pid, signal.SIGKILL)
    starter.wait()
    starter.stdout.close()


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _running(pid)


@pytest.mark.skipif(not sys.platform.startswith("linux") or not run.die_with_parent(),
                    reason="needs Linux with util-linux setpriv --pdeathsig")
def test_sigkilled_starter_takes_its_ffmpeg_render_with_it(tmp_path: Path):
    starter, pid = _start_render(tmp_path, "linux")
    try:
        assert _running(pid)
        _kill_and_reap(starter)
        assert _gone_within(pid, GONE_WITHIN), f"ffmpeg {pid} outlived its killed starter"
    finally:
        if _running(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_without_setpriv_the_next_starter_kills_the_leftover(tmp_path: Path):
    starter, pid = _start_render(tmp_path, "fallback")
    try:
        (note,) = (tmp_path / f"storyreel-running-{os.getuid()}").glob("*.json")
        assert json.loads(note.read_text())["pid"] == pid
        _kill_and_reap(starter)
        time.sleep(1.0)
        assert _running(pid)  # nothing ties it to its starter: it would render to the end
        done = subprocess.run(
            [sys.executable, "-c", "from storyreel.media import run; print(run.kill_leftovers())"],
            capture_output=True, text=True, env={**os.environ, "TMPDIR": str(tmp_path)}, check=True,
        )
        assert done.stdout.strip() == f"[{pid}]"
        assert _gone_within(pid, GONE_WITHIN)
        assert not note.exists()
    finally:
        if _running(pid):
            os.kill(pid, signal.SIGKILL)


def test_leftovers_of_a_live_starter_or_a_reused_pid_are_left_alone(tmp_path: Path):
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                 stdin=subprocess.DEVNULL)
    dead = subprocess.Popen([sys.executable, "-c", ""])
    dead.wait()
    try:
        notes = tmp_path / "notes"
        notes.mkdir()
        for name, owner in (("live", os.getpid()), ("reused", dead.pid)):
            record = {"owner": owner, "pid": bystander.pid, "argv": ["ffmpeg", f"file:/x/{name}.mp4"]}
            (notes / f"{name}.json").write_text(json.dumps(record))
        assert run.kill_leftovers(notes) == []
        assert bystander.poll() is None
        assert sorted(p.name for p in notes.iterdir()) == ["live.json"]
    finally:
        bystander.kill()
        bystander.wait()


def test_a_program_that_cannot_start_is_a_media_error(tmp_path: Path):
    from storyreel.errors import MediaError

    with pytest.raises(MediaError) as err:
        run.Streaming([str(tmp_path / "no-ffmpeg"), "-version"], verb="render", path=tmp_path)
    assert "cannot start" in str(err.value)
