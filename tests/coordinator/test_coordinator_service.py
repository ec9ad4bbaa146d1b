"""The coordinator facade without HTTP: fencing of every task-scoped call, release, failure
reports, node rows derived from holds, and heartbeats that never wait for a claim."""

from __future__ import annotations

from pathlib import Path

import pytest
from coordkit import (
    LEASE,
    START,
    Clock,
    add_task,
    coordinator,
    events,
    held_elsewhere,
    lease_file,
    make_project,
)

from storyreel.coordinator import upload
from storyreel.errors import BadUpload, StaleLease, UnknownTask, UnregisteredNode
from storyreel.layout import TaskState


def test_a_claim_grants_the_oldest_task_with_its_files(tmp_path: Path) -> None:
    project = make_project(tmp_path / "root", tasks=0)
    newer = add_task(project, created_at="2026-01-02T00:00:00Z")
    older = add_task(project, created_at="2026-01-01T00:00:00Z")
    broken = add_task(project, created_at="2025-01-01T00:00:00Z")
    (project.layout.task_dir(broken) / "metadata.json").write_text("{not json")
    coord = coordinator(project, Clock(), "n1")
    with pytest.raises(UnregisteredNode):
        coord.claim("stranger")
    grant = coord.claim("n1")
    wire = grant.wire()
    assert (wire.task_id, wire.attempt, wire.deadline) == (older, 1, START + LEASE)
    assert wire.metadata["created_at"] == "2026-01-01T00:00:00Z"
    assert [f.name for f in wire.files] == ["metadata.json", "voice.mp3"]  # never lease.json
    assert coord.claim("n1").lease.task_id == newer
    assert coord.claim("n1") is None  # the one with unreadable metadata is never handed out
    assert project.layout.task_dir(broken).is_dir()


def test_every_task_scoped_call_is_fenced_by_node_and_attempt(claimed) -> None:
    project, coord, _, task_id = claimed
    calls = [
        lambda node, attempt: coord.heartbeat(task_id, node, attempt, {}),
        lambda node, attempt: coord.file_for(task_id, node, attempt, "voice.mp3"),
        lambda node, attempt: coord.upload_target(task_id, node, attempt),
        lambda node, attempt: coord.release(task_id, node, attempt),
        lambda node, attempt: coord.fail(task_id, node, attempt, "boom", ""),
    ]
    for node, attempt in (("n2", 1), ("n1", 2)):
        for call in calls:
            with pytest.raises(StaleLease) as refused:
                call(node, attempt)
            assert refused.value.status == 409
    assert project.layout.task_dir(task_id, TaskState.PROCESSING).is_dir()
    assert lease_file(project, task_id)["deadline"] == START + LEASE  # nothing renewed or moved
    path, entry = coord.file_for(task_id, "n1", 1, "voice.mp3")
    assert path.read_bytes() == b"voice " * 100 and entry.size == 600
    for name in ("lease.json", "../storyreel.toml", "missing.mp3"):
        with pytest.raises(UnknownTask):
            coord.file_for(task_id, "n1", 1, name)


def test_release_queues_the_task_again_for_the_next_attempt(claimed) -> None:
    project, coord, _, task_id = claimed
    coord.release(task_id, "n1", 1)
    record = lease_file(project, task_id, TaskState.QUEUED)
    assert (record["state"], record["attempt"], record["expiries"]) == ("released", 1, 0)
    assert task_id in list(coord.queue)
    with pytest.raises(StaleLease):
        coord.release(task_id, "n1", 1)  # a second release changes nothing
    again = coord.claim("n2")
    assert (again.lease.task_id, again.lease.attempt, again.lease.expiries) == (task_id, 2, 0)
    assert events(project, task_id) == [("claimed", 1), ("released", 1), ("claimed", 2)]


def test_a_failure_report_moves_the_task_to_trash_and_ends_the_hold(claimed) -> None:
    project, coord, _, task_id = claimed
    coord.settings.max_render_failures = 1  # the last render failure allowed
    dest = coord.fail(task_id, "n1", 1, "ffmpeg exited with code 1", "boom", {"stage": "render"})
    assert dest == project.layout.task_dir(task_id, TaskState.FAILED)
    assert (dest / "stderr.log").read_text() == "boom"
    assert coord.holds.task_ids() == set()
    with pytest.raises(StaleLease):
        coord.heartbeat(task_id, "n1", 1, {})
    assert events(project, task_id) == [("claimed", 1), ("failed", 1)]


def test_node_rows_are_derived_from_the_holds(claimed) -> None:
    project, coord, clock, task_id = claimed
    row = coord.nodes_snapshot()[0]
    assert row["node"] == "n1" and row["state"] == "busy" and row["progress"] is None
    assert row["current_tasks"] == [{"task_id": task_id, "attempt": 1, "stage": "claimed", "progress": None,
                                     "eta_seconds": None, "speed": None}]
    clock.now += 5
    coord.heartbeat(task_id, "n1", 1, {"stage": "rendering", "percent": 40, "eta_seconds": 12.5,
                                        "speed": "fast"})
    row = coord.nodes_snapshot()[0]
    assert (row["progress"], row["eta"], row["last_seen"]) == (40.0, 12.5, START + 5)
    assert row["current_tasks"][0]["speed"] is None  # not a number: unknown
    coord.register("n1", "test", ["libx264"], "t")  # registering again keeps what it holds
    assert coord.nodes_snapshot()[0]["current_tasks"][0]["task_id"] == task_id
    coord.release(task_id, "n1", 1)
    assert [(r["node"], r["state"], r["current_tasks"]) for r in coord.nodes_snapshot()] == \
        [("n1", "idle", []), ("n2", "idle", [])]


def test_a_heartbeat_never_waits_for_a_claim_and_only_briefly_for_a_move(claimed) -> None:
    _, coord, clock, task_id = claimed
    clock.now += 5
    # A claim listing tasks/ or hashing files holds the coordinator's lock, not the holds'.
    with held_elsewhere(coord._lock):
        lease = coord.heartbeat(task_id, "n1", 1, {}, wait=False)
    assert lease is not None and lease.deadline == START + 5 + LEASE
    clock.now += 5
    # A move holds the hold store: the event loop is told to try again from a thread.
    with held_elsewhere(coord.holds.lock):
        assert coord.heartbeat(task_id, "n1", 1, {}, wait=False) is None
    assert coord.holds.held(task_id, "n1", 1).lease.deadline == START + 5 + LEASE


def test_an_upload_is_checked_against_what_was_announced(claimed) -> None:
    project, coord, _, task_id = claimed
    part = coord.upload_target(task_id, "n1", 1)
    assert part.parent == project.layout.task_dir(task_id, TaskState.PROCESSING)
    part.write_bytes(b"not a video")
    receipt = upload.Receipt(size=11, sha256="ab" * 32)
    for size, sha in ((12, None), (11, "cd" * 32)):
        with pytest.raises(BadUpload) as refused:
            coord.finish_upload(task_id, "n1", 1, part, receipt, expected_size=size, expected_sha256=sha)
        assert refused.value.status == 422 and not part.exists()
        part.write_bytes(b"not a video")
    with pytest.raises(BadUpload, match="not a readable video"):
        coord.finish_upload(task_id, "n1", 1, part, receipt, expected_size=11, expected_sha256="AB" * 32)
    assert not part.exists() and coord.holds.task_ids() == {task_id}  # still held: the node may retry
    assert not project.layout.output_file(task_id).exists()
