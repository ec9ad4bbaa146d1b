"""The stage events the node's verbs send: the typed protocol models, built from the job's
lease and a span of its own clock; one the coordinator would refuse is never sent."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

from storyreel.node.job import Job
from storyreel.node.stages import Stages
from storyreel.protocol import EVENT_BODY, Downloaded, Rendered, StageEvent


class Collected:
    """Stands in for the outbox: keeps what would be sent."""

    def __init__(self) -> None:
        self.sent: list[StageEvent] = []

    def send(self, event: StageEvent) -> None:
        self.sent.append(event)


def stages(outbox: Collected) -> Stages:
    return Stages(client=SimpleNamespace(node="n1"), held=None, outbox=outbox, halt=threading.Event(), stopping=threading.Event(),  # type: ignore[arg-type]
                  encoders=["libx264"], upload_retries=3, retry_backoff_seconds=0.1)


def test_a_stage_event_is_the_protocol_model_of_the_job_and_its_span(tmp_path: Path) -> None:
    outbox = Collected()
    job = Job(str(uuid.uuid4()), 2, {}, [], tmp_path)
    stages(outbox)._event(Rendered, job, time.time() - 2.0, media_seconds=3.0, encoder="libx264")
    (event,) = outbox.sent
    assert isinstance(event, Rendered) and (event.node, event.task_id, event.attempt) == ("n1", job.task_id, 2)
    assert 2.0 <= event.seconds < 60 and abs(event.ended - event.started - event.seconds) < 0.002
    assert EVENT_BODY.validate_json(event.model_dump_json()) == event  # what the coordinator reads


def test_an_event_out_of_bounds_is_logged_and_not_sent(tmp_path: Path, caplog) -> None:
    outbox = Collected()
    job = Job(str(uuid.uuid4()), 1, {}, [], tmp_path)
    caplog.set_level(logging.WARNING, logger="storyreel")
    stages(outbox)._event(Downloaded, job, time.time() + 60.0, bytes=5)  # the clock stepped back
    stages(outbox)._event(Downloaded, job, time.time(), bytes=-1)
    assert outbox.sent == []
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [
        f"Not sending the downloaded event of task {job.label}"] * 2
