"""A render node's limits for elastic fleets, as real processes against a real main worker:
`--max-tasks`, `--exit-when-idle` and the stop signal's `--grace`."""

from __future__ import annotations

import signal
import time

import pytest
from farmkit import Farm, wait_for
from test_farm_nodes import make_farm, no_partial_files, rendering  # noqa: F401 (a fixture)

from storyreel.layout import TaskState

pytestmark = pytest.mark.slow

# Renders that outlast a short grace period by far (about 10 s at 160x90 here).
LONG_VOICE = 40.0


def served_until_exit(farm: Farm, node: str, *flags: str) -> Farm:
    """Run node `node` with `flags` against the farm's main worker until it exits by itself (0)."""
    if farm.main is None:
        farm.start_main()
    assert farm.start_node(node, *flags).wait(90) == 0
    return farm


def test_max_tasks_finishes_its_claims_and_claims_no_more(make_farm) -> None:  # noqa: F811
    farm = served_until_exit(make_farm(tasks=3), "n1", "--max-tasks", "2")
    claimed = farm.events("claimed", node="n1")
    assert len(claimed) == 2, "the prefetch claimed past --max-tasks"
    assert sorted(e["task_id"] for e in farm.events("completed")) == sorted(e["task_id"] for e in claimed)
    assert not farm.events("released")  # the prefetched second task was rendered, not handed back
    assert len(farm.ids(TaskState.QUEUED)) == 1 and not farm.ids(TaskState.PROCESSING)
    assert "the most allowed (--max-tasks)" in farm.node_log("n1").read_text()


def test_exit_when_idle_drains_the_queue_then_exits(make_farm) -> None:  # noqa: F811
    farm = served_until_exit(make_farm(tasks=2), "n1", "--exit-when-idle", "1.5")
    assert len(farm.events("completed", node="n1")) == 2 and farm.drained()
    last_upload = max(e["ended"] for e in farm.events("uploaded", node="n1"))
    # The idle clock starts once the last task is gone, not when the node started.
    assert time.time() - last_upload >= 1.5 - 0.5
    assert "nothing held for 1.5 s: exiting" in farm.node_log("n1").read_text()


def test_an_idle_node_with_an_empty_queue_exits_at_once(make_farm) -> None:  # noqa: F811
    farm = served_until_exit(make_farm(tasks=1), "n1", "--max-tasks", "1")
    started = time.monotonic()
    served_until_exit(farm, "n2", "--exit-when-idle", "1")
    assert time.monotonic() - started >= 1.0
    assert not farm.events("claimed", node="n2")


def test_grace_over_hands_back_the_render_and_exits(make_farm) -> None:  # noqa: F811
    farm = make_farm(tasks=1, voice_seconds=LONG_VOICE)
    farm.start_main()
    node = farm.start_node("n1", "--grace", "1")
    task_id = wait_for("n1 to render", lambda: rendering(farm, "n1"), procs=[node])
    stopped = time.monotonic()
    node.send_signal(signal.SIGTERM)  # one signal only: the grace period brings the hard stop
    assert node.wait(60) == 0
    assert time.monotonic() - stopped < 15, "the node outlived its grace period by far"
    assert "grace period of 1 s is over" in farm.node_log("n1").read_text()
    assert farm.events("released", task_id=task_id, node="n1")
    assert not farm.events("rendered") and not farm.events("requeued")
    assert farm.project.layout.task_dir(task_id, TaskState.QUEUED).is_dir()
    assert not no_partial_files(farm.project.layout.root)


def test_within_the_grace_the_first_stop_finishes_the_render(make_farm) -> None:  # noqa: F811
    farm = make_farm(tasks=1, voice_seconds=6.0)
    farm.start_main()
    node = farm.start_node("n1", "--grace", "60")
    task_id = wait_for("n1 to render", lambda: rendering(farm, "n1"), procs=[node])
    node.send_signal(signal.SIGTERM)
    assert node.wait(60) == 0
    assert farm.events("completed", task_id=task_id) and not farm.events("released")
