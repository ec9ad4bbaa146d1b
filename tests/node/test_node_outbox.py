"""The node's event outbox, driven by a fake sender that injects what a real coordinator
cannot produce on demand: an unreachable spell, a 409 on one event, a refusal."""

from __future__ import annotations

import threading

import pytest

from storyreel.errors import CoordinatorFull, LeaseLost, NodeError, Refused, Unreachable
from storyreel.node.outbox import OUTBOX_LIMIT, Outbox
from storyreel.protocol import Downloaded, Rendered, StageEvent, Uploaded


class FakeSender:
    """Records delivered events; `down` makes every send unreachable, `faults` maps a task id
    to the error its next send raises."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str, str]] = []
        self.tries = 0
        self.down = False
        self.faults: dict[str, NodeError] = {}

    def event(self, event: StageEvent) -> None:
        self.tries += 1
        if self.down:
            raise Unreachable("cannot send: connection refused")
        if fault := self.faults.pop(event.task_id, None):
            raise fault
        self.delivered.append((event.event, event.task_id))


KINDS = {"downloaded": Downloaded, "rendered": Rendered, "uploaded": Uploaded}


def stage(kind: str, task_id: str) -> StageEvent:
    """A stage event of a made-up task (short ids read plainly; the sender is a fake)."""
    return KINDS[kind].model_construct(node="n1", task_id=task_id, attempt=1, started=1.0, ended=2.0,
                                       seconds=1.0)


@pytest.fixture()
def sender() -> FakeSender:
    return FakeSender()


def test_an_event_is_sent_at_once(sender: FakeSender) -> None:
    outbox = Outbox(sender)
    outbox.send(stage("downloaded", "T1"))
    assert sender.delivered == [("downloaded", "T1")] and len(outbox) == 0


def test_events_wait_while_the_coordinator_is_away_and_go_in_order_on_the_next_flush(sender) -> None:
    outbox = Outbox(sender)
    sender.down = True
    outbox.send(stage("downloaded", "T1"))
    outbox.send(stage("rendered", "T1"))
    assert sender.delivered == [] and len(outbox) == 2
    outbox.flush()  # a heartbeat while still away: nothing lost, nothing reordered
    assert len(outbox) == 2
    sender.down = False
    outbox.flush()
    assert sender.delivered == [("downloaded", "T1"), ("rendered", "T1")] and len(outbox) == 0


def test_a_new_event_queues_behind_the_waiting_ones(sender: FakeSender) -> None:
    outbox = Outbox(sender)
    sender.faults["T1"] = Unreachable("cannot send: coordinator error 503")
    outbox.send(stage("downloaded", "T1"))  # waits
    outbox.send(stage("downloaded", "T2"))  # the coordinator answers again: T1 goes first
    assert sender.delivered == [("downloaded", "T1"), ("downloaded", "T2")]


def test_a_flush_stops_at_the_first_event_that_must_wait(sender: FakeSender) -> None:
    outbox = Outbox(sender)
    sender.down = True
    for task in ("T1", "T2", "T3"):
        outbox.send(stage("uploaded", task))
    sender.tries = 0
    outbox.flush()
    assert sender.tries == 1 and len(outbox) == 3


def test_an_event_the_coordinator_has_no_disk_space_for_waits_and_goes_later(sender: FakeSender) -> None:
    outbox = Outbox(sender)
    sender.faults["T1"] = CoordinatorFull("cannot send the rendered event: the coordinator's disk is full", 5.0)
    outbox.send(stage("rendered", "T1"))
    assert sender.delivered == [] and len(outbox) == 1
    outbox.flush()  # the next heartbeat: space is back
    assert sender.delivered == [("rendered", "T1")] and len(outbox) == 0


def test_a_409_drops_that_event_and_the_rest_go_on(sender: FakeSender) -> None:
    outbox = Outbox(sender)
    sender.down = True
    outbox.send(stage("downloaded", "T1"))
    outbox.send(stage("downloaded", "T2"))
    sender.down = False
    sender.faults["T1"] = LeaseLost("cannot send the downloaded event: task moved on")
    outbox.flush()
    assert sender.delivered == [("downloaded", "T2")] and len(outbox) == 0


def test_a_refused_event_is_dropped_not_retried(sender: FakeSender) -> None:
    outbox = Outbox(sender)
    sender.faults["T1"] = Refused("cannot send the downloaded event: 400 bad event", 400)
    outbox.send(stage("downloaded", "T1"))
    outbox.send(stage("rendered", "T2"))
    assert sender.delivered == [("rendered", "T2")] and len(outbox) == 0


def test_close_flushes_what_waits(sender: FakeSender) -> None:
    outbox = Outbox(sender)
    sender.down = True
    outbox.send(stage("uploaded", "T1"))
    sender.down = False
    outbox.close()
    assert sender.delivered == [("uploaded", "T1")]


def test_the_outbox_keeps_at_most_its_limit_dropping_the_oldest(sender: FakeSender) -> None:
    outbox = Outbox(sender, limit=3)
    sender.down = True
    for task in ("T1", "T2", "T3", "T4", "T5"):
        outbox.send(stage("downloaded", task))
    assert len(outbox) == 3
    sender.down = False
    outbox.flush()
    assert [task for _, task in sender.delivered] == ["T3", "T4", "T5"]


def test_the_default_limit_holds_hours_of_events(sender: FakeSender) -> None:
    outbox = Outbox(sender)
    sender.down = True
    for number in range(OUTBOX_LIMIT + 5):
        outbox.send(stage("downloaded", f"T{number}"))
    assert len(outbox) == OUTBOX_LIMIT == 1000


def test_senders_on_several_threads_deliver_each_event_once(sender: FakeSender) -> None:
    outbox = Outbox(sender)
    sender.down = True
    outbox.send(stage("downloaded", "T0"))
    sender.down = False
    threads = [threading.Thread(target=outbox.send, args=(stage("rendered", f"T{n}"),)) for n in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outbox.flush()
    tasks = [task for _, task in sender.delivered]
    assert tasks[0] == "T0" and sorted(tasks) == sorted(f"T{n}" for n in range(9))
