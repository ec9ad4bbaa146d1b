"""A render node in its own network namespace, with its own address, reaching the main
worker over a veth link: the farm across "machines" on one host (needs root)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from farmkit import Farm, farm_project, wait_for

from storyreel.layout import TaskState

pytestmark = [pytest.mark.netns, pytest.mark.slow]

MAIN_ADDRESS = "10.231.77.1"
NODE_ADDRESS = "10.231.77.2"


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


@pytest.fixture()
def namespace():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need root and iproute2")
    name = f"srfarm{os.getpid()}"
    host_end, node_end = f"srh{os.getpid()}"[:15], f"srn{os.getpid()}"[:15]
    if _ip("netns", "add", name).returncode != 0:
        pytest.skip("this machine does not allow network namespaces")
    try:
        steps = [
            ("link", "add", host_end, "type", "veth", "peer", "name", node_end),
            ("link", "set", node_end, "netns", name),
            ("addr", "add", f"{MAIN_ADDRESS}/30", "dev", host_end),
            ("link", "set", host_end, "up"),
            ("netns", "exec", name, "ip", "addr", "add", f"{NODE_ADDRESS}/30", "dev", node_end),
            ("netns", "exec", name, "ip", "link", "set", node_end, "up"),
            ("netns", "exec", name, "ip", "link", "set", "lo", "up"),
        ]
        for step in steps:
            done = _ip(*step)
            if done.returncode != 0:
                pytest.skip(f"cannot set up the namespace link: ip {' '.join(step)}: {done.stderr.strip()}")
        yield name
    finally:
        _ip("netns", "del", name)
        _ip("link", "del", host_end)


def test_node_in_its_own_namespace_renders_over_the_link(namespace: str, tmp_path: Path, media) -> None:
    project = farm_project(tmp_path / "root", media, tasks=2)
    farm = Farm(project, tmp_path)
    farm.host = MAIN_ADDRESS
    try:
        farm.start_main()
        node = farm.start_node("remote", "--copy-inputs", prefix=("ip", "netns", "exec", namespace))
        wait_for("both tasks", lambda: len(farm.events("completed")) == 2, procs=[node, farm.main])
    finally:
        farm.stop()
    assert len(project.layout.task_ids(TaskState.DONE)) == 2
    assert "registered from" in farm.main_log.read_text() and f"at {NODE_ADDRESS}" in farm.main_log.read_text()
    assert {e["node"] for e in farm.events("completed")} == {"remote"}
    assert all(e["bytes"] > 0 and not e["in_place"] for e in farm.events("downloaded"))
