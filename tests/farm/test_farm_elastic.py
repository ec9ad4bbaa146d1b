"""The elastic-fleet drill: an autoscaler that reads the main worker's /metrics, as KEDA's
Prometheus scaler would, scales `storyreel render --exit-when-idle` processes from 0 to 4
and back to 0 while 20 tasks drain. Scale-in is a SIGTERM, as on Kubernetes; the node's
grace period lets it finish the render it is in."""

from __future__ import annotations

import math
import signal
import subprocess
import time
from dataclasses import dataclass, field

import httpx
import pytest
from farmkit import Farm
from prometheus_client.parser import text_string_to_metric_families
from test_farm_nodes import make_farm, no_partial_files, rendering  # noqa: F401 (a fixture)

from storyreel.layout import TaskState

pytestmark = pytest.mark.slow

TASKS = 20
MAX_NODES = 4
# KEDA's threshold: queued tasks per node (a node holds one render and one prefetch).
TASKS_PER_NODE = 2
# How often the autoscaler looks (s); KEDA's pollingInterval, shortened.
POLL = 0.5
# Scaling to zero waits this long with an empty queue (KEDA's cooldownPeriod, shortened):
# meanwhile idle nodes leave by themselves (--exit-when-idle).
COOLDOWN = 8.0
IDLE_SECONDS = 2
# The whole drill, bounded: about 20 s on a quiet 2-core machine.
DRILL_SECONDS = 150.0


def queued_tasks(farm: Farm) -> int:
    """`storyreel_folder_items{folder="tasks"}` from /metrics: the query the ScaledObject uses."""
    text = httpx.get(f"{farm.url}/metrics", headers={"Authorization": f"Bearer {farm.token}"},
                     timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "storyreel_folder_items" and sample.labels.get("folder") == "tasks":
                return int(sample.value)
    raise AssertionError("/metrics has no storyreel_folder_items{folder=\"tasks\"}")


@dataclass
class Autoscaler:
    """Starts nodes up to ceil(queued / TASKS_PER_NODE), at most MAX_NODES; stops the newest
    rendering one with SIGTERM when fewer are wanted, and none at all after COOLDOWN."""

    farm: Farm
    running: dict[str, subprocess.Popen] = field(default_factory=dict)
    leaving: dict[str, subprocess.Popen] = field(default_factory=dict)  # SIGTERM sent
    exits: dict[str, int] = field(default_factory=dict)
    cut_candidates: list[tuple[str, str]] = field(default_factory=list)  # (node, task rendering)
    most: int = 0
    started: int = 0
    empty_since: float | None = None

    def step(self) -> None:
        self._reap()
        queued = queued_tasks(self.farm)
        want = min(MAX_NODES, math.ceil(queued / TASKS_PER_NODE))
        now = time.monotonic()
        self.empty_since = (self.empty_since or now) if queued == 0 else None
        if want == 0 and now - (self.empty_since or now) < COOLDOWN:
            want = len(self.running)  # scale to zero only after the cooldown
        while len(self.running) < want:
            self._start()
        while len(self.running) > want:
            self._stop()
        self.most = max(self.most, len(self.running))

    def alive(self) -> bool:
        self._reap()
        return bool(self.running or self.leaving)

    def _start(self) -> None:
        self.started += 1
        name = f"elastic-{self.started}"
        self.running[name] = self.farm.start_node(name, "--copy-inputs", "--exit-when-idle",
                                                  str(IDLE_SECONDS), "--grace", "60")

    def _stop(self) -> None:
        """Stop the newest node that is rendering (the scale-in a render must survive)."""
        busy = {name: task for name in self.running if (task := rendering(self.farm, name))}
        name = next((n for n in reversed(self.running) if n in busy), next(reversed(self.running)))
        if name in busy:
            self.cut_candidates.append((name, busy[name]))
        proc = self.leaving[name] = self.running.pop(name)
        proc.send_signal(signal.SIGTERM)  # the node process only, as a kubelet stops a container

    def _reap(self) -> None:
        for table in (self.running, self.leaving):
            for name, proc in list(table.items()):
                if proc.poll() is not None:
                    self.exits[name] = proc.returncode
                    del table[name]


def test_elastic_fleet_scales_zero_to_four_to_zero_and_loses_nothing(make_farm) -> None:  # noqa: F811
    farm = make_farm(tasks=TASKS, voice_seconds=4.0, lease=10.0, heartbeat=0.5)
    tasks = farm.ids(TaskState.QUEUED)
    farm.start_main()
    scaler = Autoscaler(farm)
    deadline = time.monotonic() + DRILL_SECONDS
    while not (farm.drained() and not scaler.alive()):
        assert time.monotonic() < deadline, f"the drill did not drain in {DRILL_SECONDS:.0f} s"
        assert farm.main.poll() is None, "the main worker died"
        scaler.step()
        time.sleep(POLL)

    assert scaler.most == MAX_NODES and not scaler.running and not scaler.leaving
    assert set(scaler.exits.values()) == {0}, scaler.exits
    # Every task exactly once in output/, each rendered once: no render was cut and redone.
    completed = [e["task_id"] for e in farm.events("completed")]
    assert sorted(completed) == sorted(tasks) == sorted(farm.ids(TaskState.DONE))
    assert sorted(e["task_id"] for e in farm.events("rendered")) == sorted(tasks)
    assert not farm.events("requeued"), "a lease was lost"
    assert not farm.events("failed") and not farm.ids(TaskState.FAILED)
    # Scale-in came mid-render at least once, and each such node finished that render itself.
    assert scaler.cut_candidates, "the autoscaler never stopped a node that was rendering"
    for node, task_id in scaler.cut_candidates:
        assert farm.events("completed", task_id=task_id, node=node), (node, task_id)
    logs = {name: farm.node_log(name).read_text() for name in scaler.exits}
    assert not [name for name, text in logs.items() if "Stopping now" in text]
    assert any("nothing held for 2 s: exiting" in text for text in logs.values())
    assert not no_partial_files(farm.project.layout.root)
