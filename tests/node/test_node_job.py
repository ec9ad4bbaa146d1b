"""A held task's stage: the values heartbeats report are read by the coordinator, `status`,
the dashboard and /metrics, so they are pinned here."""

from __future__ import annotations

from pathlib import Path

from storyreel.layout import TaskState
from storyreel.node.job import PREFETCH_STAGES, FailedStage, Job, JobStage
from storyreel.render.job import Progress


def test_stage_wire_values_are_unchanged() -> None:
    assert {stage.name: stage.value for stage in JobStage} == {
        "CLAIMED": "claimed",
        "DOWNLOADING": "downloading",
        "WAITING_TO_RENDER": "queued",
        "RENDERING": "rendering",
        "RENDERED": "rendered",
        "UPLOADING": "uploading",
    }
    # "download": a grant refused before its inputs were fetched (node/names.py).
    assert {stage.value for stage in FailedStage} == {"download", "render", "upload"}


def test_no_node_stage_is_named_like_a_task_state() -> None:
    assert not set(JobStage.__members__) & set(TaskState.__members__)


def test_a_first_stop_cancels_only_tasks_not_yet_fetched() -> None:
    assert {JobStage.CLAIMED, JobStage.DOWNLOADING} == PREFETCH_STAGES


def test_the_heartbeat_report_carries_the_stage_value_and_progress(tmp_path: Path) -> None:
    job = Job("T1", 2, {}, [], tmp_path)
    assert job.report() == {"stage": "claimed", "percent": None, "eta_seconds": None, "speed": None}
    job.stage = JobStage.RENDERING
    job.progress = Progress(out_seconds=3.0, total_seconds=10.0, speed=2.0)
    report = job.report()
    assert type(report["stage"]) is str and report["stage"] == "rendering"
    assert report == {"stage": "rendering", "percent": 30.0, "eta_seconds": 3.5, "speed": 2.0}
    assert job.label == "T1 (attempt 2)"
