"""Per-node tokens: made, listed and revoked by `storyreel token` (another process than the
coordinator), stored hashed, refused by the running coordinator from the next request on,
and bound to the node ids their name covers. The dashboard still takes the project token only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from coordkit import Clock, coordinator, make_project

from storyreel import tokens
from storyreel.coordinator import create_app
from storyreel.errors import ConfigError
from storyreel.protocol import API_PREFIX

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

REGISTER = {"host": "h", "encoders": ["libx264"], "version": "t"}


@pytest.fixture()
def farm(tmp_path: Path):
    from fastapi.testclient import TestClient

    project = make_project(tmp_path / "root", tasks=2)
    coord = coordinator(project, Clock())
    client = TestClient(create_app(coord, "0.0.0.0"), base_url="http://testserver")
    yield project, client
    client.close()


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _register(client, token: str, node: str) -> int:
    return client.post(f"{API_PREFIX}/nodes/register", json={"node": node, **REGISTER},
                       headers=_as(token)).status_code


def test_a_token_is_shown_once_and_stored_only_as_its_hash(tmp_path: Path) -> None:
    project = make_project(tmp_path / "root", tasks=0)
    layout = project.layout
    token = tokens.add(layout, "render-07")
    text = layout.node_tokens_file.read_text(encoding="utf-8")
    assert token not in text
    assert tokens.digest(token) in text
    assert stat.S_IMODE(os.stat(layout.node_tokens_file).st_mode) == 0o600
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    [listed] = tokens.listing(layout)
    assert (listed.name, listed.sha256) == ("render-07", tokens.digest(token))
    assert listed.created.endswith("+00:00")
    with pytest.raises(ConfigError, match="exists"):
        tokens.add(layout, "render-07")
    tokens.revoke(layout, "render-07")
    assert tokens.listing(layout) == []
    with pytest.raises(ConfigError, match="no node token"):
        tokens.revoke(layout, "render-07")


@pytest.mark.parametrize("name", ["", "..", "-x", "a/b", "a\nb", "n" * 101])
def test_a_token_name_must_be_a_usable_node_id(tmp_path: Path, name: str) -> None:
    project = make_project(tmp_path / "root", tasks=0)
    with pytest.raises(ConfigError, match="bad token name"):
        tokens.add(project.layout, name)
    assert not project.layout.node_tokens_file.exists()


def test_commands_adding_at_once_keep_every_token(tmp_path: Path) -> None:
    layout = make_project(tmp_path / "root", tasks=0).layout
    made: dict[str, str] = {}

    def add(name: str) -> None:
        made[name] = tokens.add(layout, name)

    threads = [threading.Thread(target=add, args=(f"n{i}",)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {t.name: t.sha256 for t in tokens.listing(layout)} == {n: tokens.digest(t) for n, t in made.items()}


def test_the_project_token_and_a_node_token_both_pass(farm) -> None:
    project, client = farm
    node_token = tokens.add(project.layout, "rack1")
    assert _register(client, project.token, "anything") == 200
    assert _register(client, node_token, "rack1") == 200
    assert _register(client, node_token, "rack1-4242") == 200
    assert _register(client, "not-a-token", "rack1") == 401
    assert _register(client, node_token + "x", "rack1") == 401


def test_a_node_token_acts_only_as_the_node_ids_its_name_covers(farm) -> None:
    project, client = farm
    node_token = tokens.add(project.layout, "rack1")
    for other in ("rack10", "rack", "other-rack1", "rack1_2"):
        answer = client.post(f"{API_PREFIX}/nodes/register", json={"node": other, **REGISTER},
                             headers=_as(node_token))
        assert answer.status_code == 403, other
        assert "rack1-…" in answer.json()["detail"]
    assert client.post(f"{API_PREFIX}/claim", json={"node": "rack2"}, headers=_as(node_token)).status_code == 403
    assert client.post(f"{API_PREFIX}/nodes/rack2/alive", headers=_as(node_token)).status_code == 403
    # The query names the node for downloads and uploads.
    assert _register(client, project.token, "rack2") == 200
    grant = client.post(f"{API_PREFIX}/claim", json={"node": "rack2"}, headers=_as(project.token)).json()["task"]
    url = f"{API_PREFIX}/tasks/{grant['task_id']}/files/voice.mp3"
    params = {"node": "rack2", "attempt": grant["attempt"]}
    assert client.get(url, params=params, headers=_as(node_token)).status_code == 403
    assert client.get(url, params=params, headers=_as(project.token)).status_code == 200
    # Its own node claims and sends events as before.
    assert _register(client, node_token, "rack1-1") == 200
    claimed = client.post(f"{API_PREFIX}/claim", json={"node": "rack1-1"}, headers=_as(node_token))
    assert claimed.status_code == 200 and claimed.json()["task"] is not None
    # The node table names no node and stays readable.
    assert client.get(f"{API_PREFIX}/nodes", headers=_as(node_token)).status_code == 200


def test_a_revoked_token_is_refused_on_the_very_next_request(farm) -> None:
    project, client = farm
    first = tokens.add(project.layout, "lost")
    kept = tokens.add(project.layout, "kept")
    assert _register(client, first, "lost") == 200
    tokens.revoke(project.layout, "lost")
    assert _register(client, first, "lost") == 401
    assert _register(client, kept, "kept") == 200
    assert _register(client, project.token, "lost") == 200  # the operator still can
    again = tokens.add(project.layout, "lost")
    assert _register(client, again, "lost") == 200
    assert _register(client, first, "lost") == 401


def test_an_unreadable_token_file_lets_no_node_token_pass(farm) -> None:
    project, client = farm
    node_token = tokens.add(project.layout, "rack1")
    assert _register(client, node_token, "rack1") == 200
    project.layout.node_tokens_file.write_text("{ half a file")
    assert _register(client, node_token, "rack1") == 401
    assert _register(client, project.token, "rack1") == 200


def test_the_dashboard_takes_the_project_token_only(farm) -> None:
    project, client = farm
    node_token = tokens.add(project.layout, "rack1")
    state = "/dashboard/api/state"
    assert client.get(state, headers=_as(node_token)).status_code == 401
    assert client.get(state, headers=_as(project.token)).status_code == 200
    login = client.post("/dashboard/login", data={"token": node_token}, follow_redirects=False)
    assert login.status_code == 401 and "set-cookie" not in login.headers
    login = client.post("/dashboard/login", data={"token": project.token}, follow_redirects=False)
    assert login.status_code == 303 and "set-cookie" in login.headers


def test_the_token_commands_change_what_a_running_coordinator_accepts(farm) -> None:
    project, client = farm
    root = str(project.layout.root)

    def storyreel(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "storyreel.cli", "token", *args], capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)

    added = storyreel("add", root, "gpu-box")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert "shown only now" in added.stderr
    assert _register(client, token, "gpu-box-17") == 200
    listed = storyreel("list", root)
    assert listed.returncode == 0 and "gpu-box" in listed.stdout and token not in listed.stdout
    assert storyreel("add", root, "gpu-box").returncode == 2
    assert storyreel("revoke", root, "gpu-box").returncode == 0
    assert _register(client, token, "gpu-box-17") == 401
    missing = storyreel("revoke", root, "gpu-box")
    assert missing.returncode == 2 and "no node token" in missing.stderr
