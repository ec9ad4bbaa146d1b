"""The full-disk drill: a real `storyreel main` on a small tmpfs root and a real render
node. The disk fills up while the node renders; its upload is asked again with 507 while
its lease holds on renewals kept in memory; once the filler is removed the render lands in
output/ exactly once, attempt 1, and nothing goes to trash/failed/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from diskkit import SmallDisk, small_disk_at
from farmkit import Farm, farm_project, wait_for

from storyreel.layout import TaskState

pytestmark = pytest.mark.slow

# Room for the project, its media and logs and a few renders of the farm's tiny tasks.
SMALL_DISK = "24m"
# The floor is off: the disk is let to fill up to the last byte, the case under test.
DISK_TOML = "\n[disk]\nlow_space_gb = 0.0\nfloor_gb = 0.0\n"
# 507s answered to the node's upload before the filler goes: at 5 s apart, several leases.
REFUSALS = 2


@pytest.fixture()
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with small_disk_at(tmp_path / "small", SMALL_DISK) as small:
        yield small


@pytest.fixture()
def farm(disk: SmallDisk, tmp_path: Path, media) -> Iterator[Farm]:
    project = farm_project(disk.root / "root", media, tasks=1, voice_seconds=6.0, lease=2.0, heartbeat=0.4,
                           extra_toml=DISK_TOML)
    farm = Farm(project, tmp_path)
    yield farm
    farm.stop()


def main_lines(farm: Farm, pattern: str) -> list[str]:
    return [line for line in farm.main_log.read_text().splitlines() if re.search(pattern, line)]


def test_a_render_finished_on_a_full_disk_lands_once_when_space_returns(disk: SmallDisk, farm: Farm) -> None:
    task_id = farm.ids(TaskState.QUEUED)[0]
    main = farm.start_main()
    node = farm.start_node("n1")
    wait_for("the claim", lambda: farm.events("claimed", task_id=task_id), procs=[main, node])
    disk.fill()
    assert not farm.events("uploaded"), "the render was uploaded before the disk was full"
    # The thumbnail goes first (a sidecar), then the video: either may be the one refused.
    upload = rf"WARN main_worker \"Refused PUT /api/v1/tasks/{task_id}/(output|sidecars/\S+) from n1"
    wait_for("the upload to be asked again", lambda: len(main_lines(farm, upload)) >= REFUSALS,
             timeout=40, procs=[main, node])
    # Several lease periods went by on a full disk: the lease held on renewals in memory.
    assert main_lines(farm, "Cannot write the lease of task")
    assert not main_lines(farm, "expired|Refused heartbeat|Refused POST") and "Lost the lease" not in \
        farm.node_log("n1").read_text()
    assert farm.ids(TaskState.PROCESSING) == [task_id]

    disk.free()
    wait_for("the render in output/", lambda: farm.events("completed", task_id=task_id), procs=[main, node])
    assert farm.ids(TaskState.DONE) == [task_id] and farm.project.layout.output_file(task_id).is_file()
    assert [(e["node"], e["attempt"]) for e in farm.events("completed")] == [("n1", 1)]
    assert not farm.ids(TaskState.FAILED) and not farm.ids(TaskState.PROCESSING)
    assert not farm.events("failed") and not farm.events("requeued")
    # Heartbeats were answered 200 (or 507), never 500; no traceback anywhere.
    log = farm.main_log.read_text()
    assert "Traceback" not in log and "Exception in ASGI" not in log and not main_lines(farm, r"Request \S+ \S+ failed")
    assert main.poll() is None and node.poll() is None
