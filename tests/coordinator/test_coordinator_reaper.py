"""The reaper over the hold store, through the coordinator with a moved clock and no HTTP:
expiry → requeue as the next attempt → max_attempts → trash/failed, the restart grace,
folders without lease.json, holds moved away by hand and lost nodes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from coordkit import LEASE, START, Clock, coordinator, events, lease_file, make_project

from storyreel.errors import StaleLease
from storyreel.layout import TaskState


def test_an_expired_hold_goes_back_as_the_next_attempt_until_max_attempts(tmp_path: Path) -> None:
    project = make_project(tmp_path / "root", tasks=1, max_attempts=2)
    layout, clock = project.layout, Clock()
    coord = coordinator(project, clock, "n1", "n2")
    task_id = coord.claim("n1").lease.task_id
    clock.now += 20
    assert coord.heartbeat(task_id, "n1", 1, {"stage": "rendering"}).deadline == START + 20 + LEASE
    clock.now += LEASE - 1
    assert coord.reap() == []  # the heartbeat moved the deadline
    clock.now += 1
    assert coord.reap() == [task_id]
    record = lease_file(project, task_id, TaskState.QUEUED)
    assert (record["state"], record["attempt"], record["expiries"], record["node"]) == ("expired", 1, 1, "n1")
    assert all(row["current_tasks"] == [] for row in coord.nodes_snapshot())
    with pytest.raises(StaleLease):
        coord.heartbeat(task_id, "n1", 1, {})

    again = coord.claim("n2")
    assert (again.lease.task_id, again.lease.attempt, again.lease.expiries) == (task_id, 2, 1)
    clock.now += LEASE
    assert coord.reap() == [task_id]
    failed = layout.task_dir(task_id, TaskState.FAILED)
    reason = json.loads((failed / "reason.json").read_text())
    assert reason["reason"] == "abandoned: lease expired 2 times (max_attempts = 2); last holder n2"
    assert (reason["node"], reason["attempt"]) == ("n2", 2)
    assert events(project, task_id) == [("claimed", 1), ("requeued", 2), ("claimed", 2), ("failed", 2)]
    assert coord.reap() == [] and coord.holds.task_ids() == set()


def test_a_restarted_coordinator_honours_earlier_leases_for_one_more_period(tmp_path: Path) -> None:
    project = make_project(tmp_path / "root", tasks=2)
    clock = Clock()
    old = coordinator(project, clock, "n1").claim("n1").lease.task_id
    clock.now += 100  # the main worker was down far past the lease's deadline
    successor = coordinator(project, clock, "n1")
    assert successor.reap() == []
    fresh = successor.claim("n1").lease.task_id  # granted after the restart: its own deadline
    clock.now += LEASE - 1
    assert successor.reap() == []
    assert project.layout.task_dir(old, TaskState.PROCESSING).is_dir()
    clock.now += 1  # one lease period after the restart: the grace is over
    assert sorted(successor.reap()) == sorted([old, fresh])
    assert lease_file(project, old, TaskState.QUEUED)["state"] == "expired"


def test_a_lease_renewed_in_the_grace_lives_on_by_its_own_deadline(tmp_path: Path) -> None:
    project = make_project(tmp_path / "root", tasks=2)
    clock = Clock()
    old = coordinator(project, clock, "n1").claim("n1").lease.task_id
    clock.now += 100
    successor = coordinator(project, clock, "n1")
    fresh = successor.claim("n1").lease.task_id
    clock.now += 10
    successor.heartbeat(old, "n1", 1, {"stage": "rendering"})  # the node carries on
    clock.now += LEASE - 9
    assert successor.reap() == [fresh]
    clock.now += 8
    assert successor.reap() == []
    clock.now += 1
    assert successor.reap() == [old]


def test_a_held_folder_without_lease_json_is_honoured_one_period_then_requeued(tmp_path: Path) -> None:
    project = make_project(tmp_path / "root", tasks=1)
    clock = Clock()
    task_id = coordinator(project, clock, "n1").claim("n1").lease.task_id
    (project.layout.task_dir(task_id, TaskState.PROCESSING) / "lease.json").unlink()
    successor = coordinator(project, clock, "n1")
    clock.now += 5
    assert successor.reap() == []  # first seen without a lease now
    clock.now += LEASE - 1
    assert successor.reap() == []
    with pytest.raises(StaleLease):  # nobody holds it meanwhile
        successor.heartbeat(task_id, "n1", 1, {})
    clock.now += 1
    assert successor.reap() == [task_id]
    record = lease_file(project, task_id, TaskState.QUEUED)
    assert (record["state"], record["node"], record["attempt"], record["expiries"]) == ("expired", "?", 1, 1)
    assert successor.claim("n1").lease.attempt == 2


def test_an_orphan_on_its_last_attempt_goes_to_trash(tmp_path: Path) -> None:
    project = make_project(tmp_path / "root", tasks=1, max_attempts=1)
    clock = Clock()
    task_id = coordinator(project, clock, "n1").claim("n1").lease.task_id
    (project.layout.task_dir(task_id, TaskState.PROCESSING) / "lease.json").unlink()
    successor = coordinator(project, clock, "n1")
    assert successor.reap() == []
    clock.now += LEASE
    assert successor.reap() == [task_id]
    reason = json.loads((project.layout.task_dir(task_id, TaskState.FAILED) / "reason.json").read_text())
    assert reason["reason"].startswith("abandoned: lease expired 1 times") and reason["node"] == "?"


def test_a_hold_moved_out_by_hand_leaves_its_node_row_at_the_next_pass(tmp_path: Path) -> None:
    project = make_project(tmp_path / "root", tasks=1)
    layout, clock = project.layout, Clock()
    coord = coordinator(project, clock, "n1")
    task_id = coord.claim("n1").lease.task_id
    assert [t["task_id"] for t in coord.nodes_snapshot()[0]["current_tasks"]] == [task_id]
    aside = layout.root / "aside"
    aside.mkdir()
    os.rename(layout.task_dir(task_id, TaskState.PROCESSING), aside / task_id)
    assert coord.reap() == []
    row = coord.nodes_snapshot()[0]
    assert row["current_tasks"] == [] and row["state"] == "idle"


def test_a_silent_node_is_lost_once_and_back_on_its_next_word(tmp_path: Path, caplog) -> None:
    import logging

    project = make_project(tmp_path / "root", tasks=0)
    clock = Clock()
    coord = coordinator(project, clock, "n1")
    clock.now += 15  # three heartbeat periods: not yet
    coord.reap()
    assert coord.nodes_snapshot()[0]["state"] == "idle"
    clock.now += 1
    with caplog.at_level(logging.INFO, logger="storyreel"):
        coord.reap()
        coord.reap()
        assert coord.nodes_snapshot()[0]["state"] == "lost"
        coord.node_alive("n1")
    assert coord.nodes_snapshot()[0]["state"] == "idle"
    assert caplog.text.count("Render node n1 lost") == 1 and "Render node n1 is back" in caplog.text
    lost = [e for e in _all_events(project) if e["event"] == "node_lost"]
    assert [e["node"] for e in lost] == ["n1"]


def _all_events(project) -> list[dict]:
    from storyreel.logs import read_events

    return list(read_events(project.layout.events_file))
