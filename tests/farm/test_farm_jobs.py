"""The HPC job files of deploy/hpc run as jobs against a real main worker: the Slurm batch
script as Slurm would start it, the HTCondor submit file's arguments as HTCondor would.
Each job is a node that works its share and exits 0."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from test_farm_nodes import make_farm  # noqa: F401 (a fixture)

from storyreel.layout import TaskState

pytestmark = pytest.mark.slow

HPC = Path(__file__).resolve().parents[2] / "deploy" / "hpc"


def storyreel_launcher(tmp: Path) -> Path:
    """An executable `storyreel` that runs this checkout's storyreel (the jobs exec it)."""
    launcher = tmp / "storyreel"
    launcher.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m storyreel.cli "$@"\n')
    launcher.chmod(0o755)
    return launcher


def test_slurm_job_renders_its_max_tasks_and_exits(make_farm, tmp_path: Path) -> None:  # noqa: F811
    farm = make_farm(tasks=2)
    farm.start_main()
    token_file = tmp_path / "token"
    token_file.write_text(farm.token)
    env = {**os.environ, "STORYREEL": str(storyreel_launcher(tmp_path)), "STORYREEL_SERVER": farm.url,
           "STORYREEL_TOKEN_FILE": str(token_file), "STORYREEL_MAX_TASKS": "1",
           "SLURM_JOB_ID": "4242", "SLURM_ARRAY_TASK_ID": "3", "SLURM_TMPDIR": str(tmp_path)}
    job = subprocess.run(["bash", str(HPC / "storyreel-render.sbatch")], env=env, capture_output=True,
                         text=True, timeout=120)
    assert job.returncode == 0, job.stderr[-3000:]
    assert [e["node"] for e in farm.events("completed")] == ["slurm-4242-3"]
    assert len(farm.ids(TaskState.QUEUED)) == 1
    assert not list(tmp_path.glob("storyreel-*")), "the job left its scratch folder behind"


def test_condor_job_arguments_drain_the_queue_and_exit_when_idle(make_farm, tmp_path: Path) -> None:  # noqa: F811
    farm = make_farm(tasks=2)
    farm.start_main()
    submit = (HPC / "storyreel-render.sub").read_text()
    arguments = re.search(r'^arguments = "(.*)"$', submit, flags=re.MULTILINE)[1]
    arguments = (arguments.replace("$(Cluster)", "77").replace("$(Process)", "0")
                 .replace("http://farm-main:8765", farm.url)
                 .replace("--exit-when-idle 120", "--exit-when-idle 1"))  # a test waits less
    scratch = tmp_path / "scratch"  # the job's working directory, with its input files
    scratch.mkdir()
    (scratch / "token").write_text(farm.token)
    job = subprocess.run([str(storyreel_launcher(tmp_path)), *shlex.split(arguments)], cwd=scratch,
                         env={**os.environ, "TMPDIR": str(scratch)}, capture_output=True, text=True,
                         timeout=120)
    assert job.returncode == 0, job.stderr[-3000:]
    assert sorted(e["node"] for e in farm.events("completed")) == ["condor-77-0"] * 2 and farm.drained()
    assert "exiting" in job.stderr
