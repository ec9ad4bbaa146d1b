"""A render node writes downloads only under plain names: a compromised coordinator that
grants a task naming `../evil` or `/etc/x` cannot make it write outside its work folder.
The coordinator here is a loopback fake, since the real one never hands out such names."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from faultserver import FakeCoordinator, grant

from storyreel.node.names import MAX_NAME_BYTES, files_problem, lease_problem, name_problem
from storyreel.protocol import TaskFile, TaskGrant

PLAIN = ["voice.mp3", "music.mp3", "video_0001.mp4", "video_list.txt", "metadata.json", "a b.mp4",
         "é" * 125, "x" * MAX_NAME_BYTES, "chapter-1.mp3", "v.1.mp4"]
HOSTILE = ["", ".", "..", "../evil", "../../../evil", "/etc/x", "a/b", "a\\b", "..\\evil", "a\0b",
           ".hidden", "-i", "x" * (MAX_NAME_BYTES + 1), "😀" * 63, "a..b", "\udcff.mp4", 7, None]


@pytest.mark.parametrize("name", PLAIN)
def test_plain_names_are_accepted(name: str) -> None:
    assert name_problem(name) is None
    assert files_problem([TaskFile.model_construct(name=name)]) is None


@pytest.mark.parametrize("name", HOSTILE)
def test_names_that_are_not_plain_are_refused(name: object) -> None:
    assert name_problem(name)
    assert repr(name) in files_problem([TaskFile.model_construct(name="voice.mp3"), TaskFile.model_construct(name=name)])


def test_a_name_leaves_room_for_the_part_suffix_within_255_bytes() -> None:
    assert MAX_NAME_BYTES + len(".part") == 255


@pytest.mark.parametrize(("task_id", "attempt"), [
    ("../../evil", 1), ("/etc", 1), (f"{uuid.uuid4()}\n", 1), (str(uuid.uuid4()).upper(), 1),
    (str(uuid.uuid4()), "1/../../x"), (str(uuid.uuid4()), 0), (str(uuid.uuid4()), True), (None, 1),
])
def test_a_grant_whose_task_id_or_attempt_is_no_folder_name_is_refused(task_id, attempt) -> None:
    assert lease_problem(TaskGrant.model_construct(task_id=task_id, attempt=attempt))
    assert lease_problem(TaskGrant.model_construct(task_id=str(uuid.uuid4()), attempt=3)) is None


def failure_reports(coordinator: FakeCoordinator) -> list:
    return [request for request, _ in coordinator.server.requests("POST", r"/tasks/.+/failure")]


def test_a_node_refuses_hostile_grants_writes_nothing_outside_and_keeps_running(tmp_path: Path) -> None:
    work = tmp_path / "a" / "b" / "c" / "work"  # `../../..` of it is still in tmp_path
    outside = tmp_path / "outside.txt"
    escaping = ["../evil", "../../../evil", str(outside), "/etc/x"]
    assert not Path("/etc/x").exists()
    tasks = [str(uuid.uuid4()) for _ in escaping]
    coordinator = FakeCoordinator([
        grant("../../../evil-task", ["voice.mp3"]),  # would name a scratch folder outside
        grant(str(uuid.uuid4()), ["voice.mp3"], attempt="1/../../../evil-attempt"),
        *(grant(task, ["voice.mp3", name]) for task, name in zip(tasks, escaping, strict=True)),
    ])
    log = tmp_path / "node.log"
    with open(log, "wb") as out:
        node = subprocess.Popen(
            [sys.executable, "-m", "storyreel.cli", "render", "--server", coordinator.url, "--token", "t",
             "--node-id", "n1", "--work-dir", str(work), "--encoder", "libx264"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while coordinator.grants_left() or len(failure_reports(coordinator)) < len(escaping):
            assert node.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the node did not refuse every grant in time"
            time.sleep(0.1)
        assert node.poll() is None  # the node carries on, asking for the next task
    finally:
        node.send_signal(signal.SIGTERM)
        code = node.wait(30)
        coordinator.close()
    assert code == 0, log.read_text()

    reports = [request.json() for request in failure_reports(coordinator)]
    assert [r["stage"] for r in reports] == ["download"] * len(escaping)
    for report, name in zip(reports, escaping, strict=True):
        assert repr(name) in report["reason"] and "not a plain file name" in report["reason"]
    assert sorted(request.route.split("/")[2] for request in failure_reports(coordinator)) == sorted(tasks)
    assert not coordinator.server.requests("GET", r".*"), "a hostile grant was downloaded"
    text = log.read_text()
    assert text.count("Refused a task from the coordinator") == 2 and "not a plain file name" in text
    # Nothing outside the work folder, and nothing left in it.
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != log]
    assert written == [], written
    assert not Path("/etc/x").exists() and not outside.exists()
