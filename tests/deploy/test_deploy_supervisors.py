"""deploy/systemd, deploy/launchd, deploy/hpc: each supervisor's file is well formed
(systemd-analyze verify, an XML plist parse, bash -n) and lets a render node stop the way
it must: SIGTERM to the node alone, and longer than its --grace before a kill."""

from __future__ import annotations

import plistlib
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from deploykit import DEPLOY, STOP_MARGIN, flag, unit_settings

SYSTEMD = DEPLOY / "systemd"
UNITS = (SYSTEMD / "storyreel-main.service", SYSTEMD / "storyreel-render@.service")
PLIST = DEPLOY / "launchd" / "com.storyreel.render.plist"
SLURM = DEPLOY / "hpc" / "storyreel-render.sbatch"
CONDOR = DEPLOY / "hpc" / "storyreel-render.sub"
INSTALLED = "/opt/storyreel/bin/storyreel"  # where the units expect storyreel


def verify(units: list[Path]) -> subprocess.CompletedProcess:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    return subprocess.run([analyze, "verify", "--man=no", *map(str, units)], capture_output=True,
                          text=True, timeout=60)


def here(tmp_path: Path, unit: Path, text: str | None = None) -> Path:
    """A copy of `unit` whose storyreel path exists on this machine (verify checks it)."""
    stub = tmp_path / "storyreel"
    stub.write_text("#!/bin/sh\n")
    stub.chmod(0o755)
    copy = tmp_path / unit.name
    copy.write_text((text or unit.read_text()).replace(INSTALLED, str(stub)))
    return copy


def test_systemd_units_verify(tmp_path: Path) -> None:
    done = verify([here(tmp_path, unit) for unit in UNITS])
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    # ... and verify does speak up about a unit it cannot use.
    (tmp_path / "bad").mkdir()
    bad = here(tmp_path / "bad", UNITS[1], UNITS[1].read_text().replace("KillMode=mixed", "KillMode=gently"))
    assert "kill mode" in verify([bad]).stderr.lower()


def test_the_render_unit_stops_the_node_alone_and_waits_out_its_grace() -> None:
    settings = unit_settings(UNITS[1])
    # Not the default control-group: that would SIGTERM the render's ffmpeg too.
    assert settings["KillMode"] == "mixed" and settings["KillSignal"] == "SIGTERM"
    grace = float(re.search(r"STORYREEL_GRACE=(\d+)", UNITS[1].read_text())[1])
    assert "--grace ${STORYREEL_GRACE}" in settings["ExecStart"]
    assert float(settings["TimeoutStopSec"]) >= grace + STOP_MARGIN
    assert settings["Restart"] == "on-failure"  # --max-tasks / --exit-when-idle exits stay stopped
    argv = shlex.split(settings["ExecStart"])
    assert argv[:2] == [INSTALLED, "render"] and flag(argv, "--token-file")
    assert unit_settings(UNITS[0])["KillMode"] == "mixed"


def test_launchd_plist_parses_and_waits_out_the_grace() -> None:
    with PLIST.open("rb") as handle:
        plist = plistlib.load(handle)  # an XML parse, no plutil needed
    args = plist["ProgramArguments"]
    assert plist["Label"] == "com.storyreel.render" and args[1] == "render"
    assert flag(args, "--encoder") == "h264_videotoolbox"
    assert plist["ExitTimeOut"] >= float(flag(args, "--grace")) + STOP_MARGIN
    assert plist["KeepAlive"] == {"SuccessfulExit": False}


def test_slurm_script_parses_and_signals_the_node_before_the_time_limit() -> None:
    assert subprocess.run(["bash", "-n", str(SLURM)], capture_output=True).returncode == 0
    text = SLURM.read_text()
    directives = dict(re.findall(r"^#SBATCH --([\w-]+)=?(\S*)", text, flags=re.MULTILINE))
    warning = re.fullmatch(r"B:TERM@(\d+)", directives["signal"])  # the batch shell only
    assert warning, directives["signal"]
    grace = float(re.search(r"GRACE=\$\{STORYREEL_GRACE:-(\d+)\}", text)[1])
    assert int(warning[1]) >= grace + STOP_MARGIN
    assert re.search(r'^exec "\$STORYREEL" render ', text, flags=re.MULTILINE)  # the shell becomes the node
    assert "--max-tasks" in text and "--exit-when-idle" in text


def condor_submit() -> dict[str, str]:
    lines = [line for line in CONDOR.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return dict(re.match(r"(\w+)\s*=\s*(.*)", line).groups() for line in lines if "=" in line)


def test_condor_submit_file_runs_a_batch_node_and_waits_out_the_grace() -> None:
    submit = condor_submit()
    assert submit["universe"] == "vanilla" and submit["kill_sig"] == "SIGTERM"
    assert re.search(r"^queue \d+$", CONDOR.read_text(), flags=re.MULTILINE)
    args = shlex.split(shlex.split(submit["arguments"])[0])
    assert args[0] == "render" and flag(args, "--max-tasks") and flag(args, "--exit-when-idle")
    assert int(submit["job_max_vacate_time"]) >= float(flag(args, "--grace")) + STOP_MARGIN
    assert flag(args, "--token-file") in submit["transfer_input_files"].split(",")
