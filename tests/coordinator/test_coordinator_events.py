"""Stage events a node sends for the event log (SPEC §10's metrics come from them): only the
three stage kinds, typed and bounded, from the attempt that holds the task or ended its own
hold, each kind once per attempt; every refusal logs one line and records nothing."""

from __future__ import annotations

import json
import logging

import pytest
from coordkit import LEASE, events

from storyreel.errors import BadEvent, DuplicateEvent, StaleLease
from storyreel.layout import TaskState
from storyreel.logs import Event
from storyreel.protocol import EVENT_BODY, Downloaded, Rendered, Uploaded


def downloaded(task_id: str, node: str = "n1", attempt: int = 1, **figures) -> Downloaded:
    return Downloaded(node=node, attempt=attempt, task_id=task_id,
                      **({"started": 100.0, "ended": 101.5, "seconds": 1.5, "bytes": 600} | figures))


def raw(task_id: str, changes: dict) -> bytes:
    """A downloaded event as JSON, with fields changed or added by hand."""
    return json.dumps(downloaded(task_id).model_dump() | changes).encode()


def test_the_event_kinds_are_the_node_stage_events_of_the_log() -> None:
    kinds = {model.model_fields["event"].default for model in (Downloaded, Rendered, Uploaded)}
    assert kinds == {Event.DOWNLOADED, Event.RENDERED, Event.UPLOADED}


def test_the_holding_attempt_records_each_stage_once(claimed) -> None:
    project, coord, _, task_id = claimed
    recorded = coord.record_event(downloaded(task_id))
    assert recorded["node"] == "n1" and recorded["seconds"] == 1.5 and recorded["bytes"] == 600
    coord.record_event(Rendered(node="n1", attempt=1, task_id=task_id, started=102.0, ended=110.0,
                                seconds=8.0, media_seconds=3.0, encoder="libx264"))
    with pytest.raises(DuplicateEvent) as again:
        coord.record_event(downloaded(task_id, bytes=10**9))
    assert again.value.status == 409
    assert events(project, task_id) == [("claimed", 1), ("downloaded", 1), ("rendered", 1)]


@pytest.mark.parametrize("changes, problem", [
    ({"event": "completed"}, "does not match any of the expected tags"),
    ({"seconds": -1.5, "started": 101.5, "ended": 100.0}, "greater than or equal to 0"),
    ({"bytes": 1 << 50}, "less than or equal to"),
    ({"bytes": "600"}, "valid integer"),
    ({"seconds": 1e9, "ended": 100.0 + 1e9}, "less than or equal to"),
    ({"started": 105.0}, "is after ended"),
    ({"seconds": 0.5}, "is not ended − started"),
    ({"fields": {"seconds": 1.0}}, "Extra inputs are not permitted"),
    ({"task_id": "../../etc"}, "should match pattern"),
])
def test_a_body_that_is_no_stage_event_is_refused_with_one_line(claimed, caplog, changes, problem) -> None:
    project, coord, _, task_id = claimed
    caplog.set_level(logging.WARNING, logger="storyreel")
    with pytest.raises(BadEvent, match=problem) as refused:
        coord.record_event(raw(task_id, changes))
    assert refused.value.status == 422
    assert [r.getMessage() for r in caplog.records] == [f"Refused a stage event: {refused.value}"]
    assert events(project, task_id) == [("claimed", 1)]


def test_an_event_for_a_task_the_node_does_not_hold_is_refused(claimed, caplog) -> None:
    project, coord, _, task_id = claimed
    (other,) = project.layout.task_ids(TaskState.QUEUED)
    caplog.set_level(logging.WARNING, logger="storyreel")
    cases = [downloaded(task_id, node="n2"),  # another node's task
             downloaded(task_id, attempt=2),  # an attempt that is not the one holding it
             downloaded(other),  # a task still queued: never held
             downloaded("00000000-0000-4000-8000-000000000000")]  # no such task
    for event in cases:
        with pytest.raises(StaleLease) as refused:
            coord.record_event(event)
        assert refused.value.status == 409
    assert len(caplog.records) == len(cases)
    assert all(r.getMessage().startswith("Refused the downloaded event of task ") for r in caplog.records)
    assert events(project, task_id) == [("claimed", 1)] and events(project, other) == []


def test_the_ending_attempt_may_still_report_after_its_hold_ended(claimed) -> None:
    """The node sends `uploaded` after its upload ended the hold; its outbox may deliver
    earlier events late. A hold its node ended (failed, released) still takes them."""
    project, coord, _, task_id = claimed
    coord.fail(task_id, "n1", 1, "render failed", "boom")
    coord.record_event(downloaded(task_id))
    with pytest.raises(StaleLease):
        coord.record_event(downloaded(task_id, node="n2"))
    second = coord.claim("n2").lease.task_id
    coord.release(second, "n2", 1)
    coord.record_event(downloaded(second, node="n2"))
    assert events(project, task_id)[-1] == ("downloaded", 1)
    assert events(project, second)[-1] == ("downloaded", 1)


def test_an_attempt_whose_lease_ran_out_may_not_report(claimed) -> None:
    project, coord, clock, task_id = claimed
    clock.now += LEASE + 1
    assert task_id in coord.reap()
    with pytest.raises(StaleLease):
        coord.record_event(downloaded(task_id))
    assert ("downloaded", 1) not in events(project, task_id)


def test_the_wire_form_is_the_model_both_sides_use(claimed) -> None:
    _, _, _, task_id = claimed
    event = Uploaded(node="n1", attempt=1, task_id=task_id, started=1.0, ended=2.0, seconds=1.0,
                     bytes=5, tries=1)
    assert EVENT_BODY.validate_json(event.model_dump_json()) == event
    assert event.fields() == {"task_id": task_id, "attempt": 1, "started": 1.0, "ended": 2.0,
                              "seconds": 1.0, "bytes": 5, "tries": 1}
