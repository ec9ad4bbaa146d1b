"""Both sides of the wire: the node's client parses the coordinator's real answers into the
protocol models (the app runs in-process, no sockets), and refuses answers that are not."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from coordkit import LEASE, START, Clock, coordinator, make_project

from storyreel.coordinator import create_app
from storyreel.errors import LeaseLost, Refused
from storyreel.node.client import CoordinatorClient
from storyreel.protocol import (
    API_PREFIX,
    FarmSettings,
    HeartbeatReply,
    TaskFile,
    TaskGrant,
    TaskProgress,
)

# starlette's test client still speaks httpx and says so at import; it is the in-process transport.
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")


@pytest.fixture()
def wired(tmp_path: Path):
    project = make_project(tmp_path / "root", tasks=1)
    clock = Clock()
    coord = coordinator(project, clock)
    node = CoordinatorClient("http://testserver", project.token, "n1")
    serve(node, coord)
    yield project, coord, clock, node
    node.close()


def serve(node: CoordinatorClient, coord) -> None:
    """Point the node's client at `coord`'s app, in-process."""
    from fastapi.testclient import TestClient

    node.http.close()
    node.http = TestClient(create_app(coord, "127.0.0.1"), base_url="http://testserver" + API_PREFIX,
                           headers={"Authorization": f"Bearer {node.token}"})


def test_the_client_reads_every_answer_as_its_protocol_model(wired) -> None:
    project, coord, clock, node = wired
    settings = node.register("host", ["libx264"])
    assert isinstance(settings, FarmSettings)
    assert (settings.root, settings.lease_seconds, settings.heartbeat_seconds) == (str(project.layout.root), LEASE, 5.0)
    assert settings.upload_retries == project.settings.node.upload_retries
    grant = node.claim()
    assert isinstance(grant, TaskGrant) and grant.attempt == 1 and grant.deadline == START + LEASE
    assert all(isinstance(f, TaskFile) for f in grant.files) and grant.metadata["task_id"] == grant.task_id
    clock.now += 10
    beat = node.heartbeat(grant.task_id, 1, {"stage": "rendering", "percent": 12.0})
    assert beat == HeartbeatReply(deadline=START + 10 + LEASE, attempt=1, registered=True)
    assert coord.holds.held(grant.task_id, "n1", 1).progress == TaskProgress(stage="rendering", percent=12.0)
    with pytest.raises(LeaseLost):
        node.heartbeat(grant.task_id, 2, {})
    node.release(grant.task_id, 1)
    assert node.claim().attempt == 2
    assert node.claim() is None


def test_a_heartbeat_from_a_node_the_coordinator_forgot_asks_it_to_register(wired) -> None:
    project, coord, _, node = wired
    node.register("host", ["libx264"])
    grant = node.claim()
    successor = coordinator(project, Clock(START + 1))  # restarted: knows no node
    serve(node, successor)
    assert node.heartbeat(grant.task_id, 1, {}).registered is False
    node.register("host", ["libx264"])
    assert successor.nodes_snapshot()[0]["current_tasks"][0]["task_id"] == grant.task_id


def test_an_answer_that_is_not_the_protocol_is_a_refusal(wired) -> None:
    _, _, _, node = wired
    node.http = httpx.Client(base_url="http://testserver" + API_PREFIX,
                             transport=httpx.MockTransport(lambda _: httpx.Response(200, json={"task": 7})))
    with pytest.raises(Refused, match="not a ClaimReply"):
        node.claim()
