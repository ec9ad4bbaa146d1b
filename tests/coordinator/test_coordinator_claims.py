"""Claims without HTTP: oldest first, forced encoders only to nodes that have them (and one
warning while none has), attempts continued from the lease.json a task brings back."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from coordkit import Clock, add_task, coordinator, make_project

from storyreel.coordinator.claims import forced_encoder
from storyreel.layout import TaskState


def test_a_forced_encoder_waits_for_a_node_that_has_it(tmp_path: Path, caplog) -> None:
    project = make_project(tmp_path / "root", tasks=0)
    gpu_task = add_task(project, created_at="2026-01-01T00:00:00Z", encoder="h264_nvenc")
    cpu_task = add_task(project, created_at="2026-01-02T00:00:00Z")
    coord = coordinator(project, Clock(), "cpu")
    with caplog.at_level(logging.WARNING, logger="storyreel"):
        assert coord.claim("cpu").lease.task_id == cpu_task  # the older one needs another encoder
        assert coord.claim("cpu") is None
        assert coord.claim("cpu") is None
    assert caplog.text.count(f"Task {gpu_task} needs encoder h264_nvenc") == 1
    coord.register("gpu", "test", ["h264_nvenc"], "t")
    assert coord.claim("gpu").lease.task_id == gpu_task
    assert project.layout.task_ids(TaskState.QUEUED) == []


def test_a_task_brought_back_by_hand_continues_its_attempts(tmp_path: Path) -> None:
    project = make_project(tmp_path / "root", tasks=1)
    task_id = project.layout.task_ids(TaskState.QUEUED)[0]
    record = {"task_id": task_id, "node": "old", "attempt": 4, "state": "released", "deadline": 1.0,
              "claimed_at": 0.0, "renewed_at": 0.0, "expiries": 2}
    (project.layout.task_dir(task_id) / "lease.json").write_text(json.dumps(record))
    grant = coordinator(project, Clock(), "n1").claim("n1")
    assert (grant.lease.attempt, grant.lease.expiries, grant.lease.node) == (5, 2, "n1")


def test_only_a_named_encoder_is_forced() -> None:
    assert forced_encoder({"render": {"encoder": "h264_qsv"}}) == "h264_qsv"
    for metadata in ({"render": {"encoder": "auto"}}, {"render": {"encoder": ""}}, {"render": "x"}, {}):
        assert forced_encoder(metadata) is None
