"""A full disk on the main worker: the coordinator answers 507 with Retry-After, and a render
node keeps its finished render and its lease and sends again after that wait, spending no
upload try. A real main worker and a real node process; between them a loopback proxy
answers chosen requests 507, as a real coordinator cannot be made to on demand without
filling a disk."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from farm.farmkit import Farm, farm_project, storyreel, wait_for
from faultserver import FullDiskProxy

from storyreel.layout import TaskState

pytestmark = pytest.mark.slow

UPLOAD = r"/tasks/[^/]+/output"
FAILURE = r"/tasks/[^/]+/failure"
HEARTBEAT = r"/tasks/[^/]+/heartbeat"
# 507 answers in a row, each asking for a 1 s wait: more than the farm's tries (1 + 3
# retries) and, at about 5 s, longer than its 2 s lease.
FULL_SPELL = 5
# The least gap between two tries that honour `Retry-After: 1` (s).
WAITED = 0.9


@pytest.fixture()
def farm(tmp_path: Path, media):
    farm = Farm(farm_project(tmp_path / "root", media, tasks=1, lease=2.0, heartbeat=0.4), tmp_path)
    farm.start_main()
    yield farm
    farm.stop()


@pytest.fixture()
def proxy(farm: Farm):
    proxy = FullDiskProxy(farm.url)
    yield proxy
    proxy.close()


def start_node(farm: Farm, proxy: FullDiskProxy, env: dict[str, str] | None = None) -> subprocess.Popen:
    """A node that reaches the coordinator through the proxy."""
    proc = storyreel("render", "--server", proxy.url, "--token", farm.token, "--node-id", "n1",
                     "--work-dir", str(farm.tmp / "work-n1"), env=env, log=farm.node_log("n1"))
    farm.nodes["n1"] = proc
    return proc


def full_disk_warnings(farm: Farm) -> list[str]:
    return [line for line in farm.node_log("n1").read_text().splitlines()
            if " WARN " in line and "disk" in line]


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in zip(times, times[1:], strict=False)]


def test_an_upload_answered_507_goes_again_with_no_try_spent_and_the_lease_kept(farm, proxy) -> None:
    task_id = farm.ids(TaskState.QUEUED)[0]
    proxy.arm("PUT", UPLOAD, FULL_SPELL, retry_after="1")
    node = start_node(farm, proxy)
    wait_for("the upload, or the task to fail",
             lambda: farm.events("uploaded", task_id=task_id) or farm.events("failed", task_id=task_id),
             procs=[node, farm.main])

    puts = proxy.server.requests("PUT", UPLOAD)
    assert [status for _, status in puts] == [507] * FULL_SPELL + [201]
    assert not farm.events("failed") and not farm.events("requeued")
    assert farm.events("uploaded", task_id=task_id)[0]["tries"] == 1
    assert [(e["node"], e["attempt"]) for e in farm.events("completed")] == [("n1", 1)]
    assert farm.project.layout.output_file(task_id).is_file()
    # Each 507 is waited out for its Retry-After, and the lease is renewed meanwhile.
    times = [request.at for request, _ in puts]
    assert min(gaps(times)) >= WAITED, gaps(times)
    beats = [r for r, status in proxy.server.requests("POST", HEARTBEAT)
             if status == 200 and times[0] < r.at < times[-1] and task_id in r.route]
    assert len(beats) >= 3
    log = farm.node_log("n1").read_text()
    assert len(full_disk_warnings(farm)) == 1, full_disk_warnings(farm)
    assert "Upload of task" not in log and "has disk space again" in log
    assert node.poll() is None


def test_a_render_waiting_out_a_full_disk_is_dropped_once_its_lease_is_really_lost(farm, proxy) -> None:
    task_id = farm.ids(TaskState.QUEUED)[0]
    proxy.arm("PUT", UPLOAD, 1000, retry_after="1")
    node = start_node(farm, proxy)
    wait_for("the first upload", lambda: proxy.server.requests("PUT", UPLOAD), procs=[node, farm.main])
    proxy.arm("POST", HEARTBEAT, 1000)  # renewals are not kept either: the lease runs out
    wait_for("the lease to run out", lambda: farm.events("requeued", task_id=task_id), procs=[node, farm.main])
    proxy.disarm()
    wait_for("the second attempt to be uploaded", lambda: farm.events("uploaded", task_id=task_id),
             procs=[node, farm.main])

    statuses = [(request.path.split("attempt=")[1], status) for request, status in
                proxy.server.requests("PUT", UPLOAD)]
    assert statuses[-2:] == [("1", 409), ("2", 201)] and {s for a, s in statuses[:-2]} == {507}
    assert "Lost the lease on task" in farm.node_log("n1").read_text()
    assert [(e["node"], e["attempt"]) for e in farm.events("completed")] == [("n1", 2)]
    assert [e["attempt"] for e in farm.events("uploaded")] == [2] and not farm.events("failed")
    assert node.poll() is None


def test_a_failure_report_answered_507_is_sent_again_after_its_retry_after(farm, proxy) -> None:
    task_id = farm.ids(TaskState.QUEUED)[0]
    proxy.arm("POST", FAILURE, 3, retry_after="1")
    # Every upload try is refused (a wrong sha256): the node reports the task failed.
    node = start_node(farm, proxy, env={"STORYREEL_FAULT_UPLOAD_FAILURES": "4"})
    # The proxy records a request once its answer went back: wait for the fourth as well.
    wait_for("the failure to be filed", lambda: farm.events("failed", task_id=task_id)
             and len(proxy.server.requests("POST", FAILURE)) >= 4, procs=[node, farm.main])

    reports = proxy.server.requests("POST", FAILURE)
    assert [status for _, status in reports] == [507, 507, 507, 200]
    assert min(gaps([request.at for request, _ in reports])) >= WAITED
    failed = farm.project.layout.task_dir(task_id, TaskState.FAILED)
    assert "upload failed 4 times" in (failed / "reason.json").read_text()
    assert len(full_disk_warnings(farm)) == 1, full_disk_warnings(farm)
    assert node.poll() is None
