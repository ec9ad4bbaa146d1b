"""The hold store on its own: a hold starts with a claim, fences every other attempt,
is renewed with lease.json lagging, ends through `end`, and is found again after a
restart. No HTTP, no coordinator: a layout, a clock and the store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from coordkit import LEASE, START, held_elsewhere, lease_file, make_project

from storyreel import lifecycle
from storyreel.coordinator.holds import Hold, HoldStore, Outcome
from storyreel.errors import StaleLease, UnknownTask
from storyreel.layout import TaskState
from storyreel.protocol import TaskProgress


@pytest.fixture()
def held(tmp_path: Path):
    """A store holding the project's one task for n1, attempt 1, claimed at START."""
    project = make_project(tmp_path / "root", tasks=1)
    store = HoldStore(project.layout, LEASE)
    task_id = project.layout.task_ids(TaskState.QUEUED)[0]
    lease = store.grant(task_id, "n1", START)
    lifecycle.claim(project.layout, task_id)
    store.start(lease)
    return project, store, task_id


def test_a_claim_writes_its_lease_and_fences_every_other_attempt(held) -> None:
    project, store, task_id = held
    hold = store.held(task_id, "n1", 1)
    assert (hold.node, hold.attempt, hold.lease.deadline, hold.written) == ("n1", 1, START + LEASE, START + LEASE)
    assert hold.progress.stage == "claimed"
    on_disk = lease_file(project, task_id)
    assert (on_disk["node"], on_disk["attempt"], on_disk["state"], on_disk["deadline"]) == \
        ("n1", 1, "held", START + LEASE)
    for node, attempt in (("n2", 1), ("n1", 2)):
        with pytest.raises(StaleLease, match="held by n1 attempt 1") as refused:
            store.held(task_id, node, attempt)
        assert refused.value.status == 409
    with pytest.raises(UnknownTask):
        store.held("5679726c-1f79-441a-a214-af56456f98ce", "n1", 1)
    assert store.held(task_id, "n1", 1) is hold  # a refusal changes nothing


def test_renewals_reach_lease_json_once_it_trails_by_a_quarter_lease(held) -> None:
    project, store, task_id = held
    beat = TaskProgress(stage="rendering", percent=40.0)
    assert store.renew(task_id, "n1", 1, beat, START + 5).deadline == START + 5 + LEASE
    assert lease_file(project, task_id)["deadline"] == START + LEASE  # 5 s behind: not written
    store.renew(task_id, "n1", 1, beat, START + 7.5)
    assert lease_file(project, task_id)["deadline"] == START + 7.5 + LEASE  # a quarter: written
    hold = store.held(task_id, "n1", 1)
    assert hold.written == START + 7.5 + LEASE and hold.progress.percent == 40.0
    with pytest.raises(StaleLease):
        store.renew(task_id, "n1", 2, beat, START + 20)
    assert store.held(task_id, "n1", 1).lease.deadline == START + 7.5 + LEASE


@pytest.mark.parametrize(("outcome", "record", "expiries"), [
    (Outcome.RELEASED, "released", 0), (Outcome.EXPIRED, "expired", 1), (Outcome.ABANDONED, "expired", 1),
    (Outcome.COMPLETED, "held", 0), (Outcome.FAILED, "held", 0), (Outcome.VANISHED, "held", 0),
])
def test_end_is_the_one_door_and_leaves_a_record_only_for_a_task_that_goes_back(
        held, outcome: Outcome, record: str, expiries: int) -> None:
    project, store, task_id = held
    ended = store.end(task_id, outcome)
    assert isinstance(ended, Hold) and ended.attempt == 1
    assert store.task_ids() == set() and store.holds() == []
    on_disk = lease_file(project, task_id)
    assert (on_disk["state"], on_disk["expiries"], on_disk["attempt"]) == (record, expiries, 1)
    assert store.end(task_id, outcome) is None  # ending twice is harmless


def test_an_ended_hold_refuses_its_node(held) -> None:
    project, store, task_id = held
    store.end(task_id, Outcome.RELEASED)
    with pytest.raises(StaleLease, match="no longer current"):
        store.held(task_id, "n1", 1)
    lifecycle.release(project.layout, task_id)
    with pytest.raises(StaleLease, match=r"\(queued\)"):
        store.held(task_id, "n1", 1)


def test_a_hold_from_before_a_restart_is_read_from_lease_json(held) -> None:
    project, _, task_id = held
    successor = HoldStore(project.layout, LEASE)
    assert successor.task_ids() == set()
    hold = successor.held(task_id, "n1", 1)
    assert (hold.lease.deadline, hold.written) == (START + LEASE, START + LEASE)
    assert hold.progress.stage == ""  # unknown until the node reports again
    assert successor.task_ids() == {task_id}
    with pytest.raises(StaleLease):
        successor.held(task_id, "n2", 1)


def test_a_folder_moved_out_of_processing_by_hand_ends_its_hold(held) -> None:
    project, store, task_id = held
    layout = project.layout
    os.rename(layout.task_dir(task_id, TaskState.PROCESSING), layout.task_dir(task_id, TaskState.QUEUED))
    with pytest.raises(StaleLease):
        store.held(task_id, "n1", 1)
    assert store.task_ids() == set()


def test_a_renewal_that_need_not_wait_returns_at_once_while_a_move_holds_the_store(held) -> None:
    _, store, task_id = held
    with held_elsewhere(store.lock):
        assert store.renew(task_id, "n1", 1, TaskProgress(stage="rendering"), START + 10, wait=False) is None
    hold = store.held(task_id, "n1", 1)
    assert hold.lease.deadline == START + LEASE and hold.progress.stage == "claimed"  # nothing changed
    assert store.renew(task_id, "n1", 1, TaskProgress(), START + 10, wait=False).deadline == START + 10 + LEASE


def test_an_orphan_is_honoured_one_lease_period_then_held_by_a_lease_that_ran_out(held) -> None:
    project, _, task_id = held
    (project.layout.task_dir(task_id, TaskState.PROCESSING) / "lease.json").unlink()
    successor = HoldStore(project.layout, LEASE)
    assert successor.load(task_id) is None
    assert successor.orphan(task_id, START + 100) is None  # first seen now
    assert successor.orphan(task_id, START + 100 + LEASE - 1) is None
    stand_in = successor.orphan(task_id, START + 100 + LEASE)
    assert stand_in is not None and (stand_in.node, stand_in.attempt, stand_in.lease.expiries) == ("?", 1, 0)
    assert stand_in.lease.expired(START + 100 + LEASE)
    assert successor.end(task_id, Outcome.EXPIRED) is not None
    assert lease_file(project, task_id)["state"] == "expired"
