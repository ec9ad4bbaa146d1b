"""TLS without a proxy: `storyreel main --tls-cert --tls-key` serves HTTPS itself, a node
given the farm's CA (--ca-file) renders over it, a node without it stops with a clear
message, and `status` reaches the https coordinator. Certificates are made here with the
openssl command: a CA of the farm's own and a server certificate it signed."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from farmkit import PYTHON, Farm, farm_project, storyreel, wait_for

from storyreel import tokens
from storyreel.coordinator import Coordinator, CoordinatorServer
from storyreel.errors import ConfigError, Untrusted
from storyreel.layout import TaskState
from storyreel.node.client import CoordinatorClient
from storyreel.project import Project
from storyreel.tls import ServerTLS, client_context

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")

SERVER_EXT = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = IP:127.0.0.1, DNS:localhost
"""


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=60)


def make_certs(folder: Path, name: str = "farm") -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key); the server is 127.0.0.1 and localhost."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert, ext = (folder / f"{name}-{part}" for part in
                                       ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem", "ext.cnf"))
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
             "-subj", f"/CN={name} test CA")
    _openssl("req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    ext.write_text(SERVER_EXT)
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
             "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return ca, cert, key


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> tuple[Path, Path, Path]:
    return make_certs(tmp_path_factory.mktemp("certs"))


def test_a_node_with_the_ca_renders_over_https_and_one_without_stops_clearly(tmp_path: Path, media, certs) -> None:
    ca, cert, key = certs
    project = farm_project(tmp_path / "root", media, tasks=1)
    farm = Farm(project, tmp_path)
    root = str(project.layout.root)
    farm.main = storyreel("main", root, "--listen", f"127.0.0.1:{farm.port}", "--tls-cert", str(cert),
                          "--tls-key", str(key), log=farm.main_log)
    try:
        wait_for("the coordinator to listen", project.layout.coordinator_file.exists, procs=[farm.main])
        recorded = json.loads(project.layout.coordinator_file.read_text())
        assert recorded["url"] == f"https://127.0.0.1:{farm.port}"
        url = recorded["url"]
        # Without the farm's CA: a clear refusal, at once, and no traceback.
        refused = subprocess.run(
            [PYTHON, "-m", "storyreel.cli", "render", "--server", url, "--token", farm.token, "--node-id", "n0"],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
        assert refused.returncode == 2
        assert "TLS certificate is not trusted" in refused.stderr and "--ca-file" in refused.stderr
        assert "Traceback" not in refused.stderr
        # With it, over https end to end (a node token, so both changes meet).
        node_token = tokens.add(project.layout, "tls")
        node = storyreel("render", "--server", url, "--token", node_token, "--node-id", "tls-1", "--ca-file",
                         str(ca), "--work-dir", str(tmp_path / "work"), log=farm.node_log("tls-1"))
        farm.nodes["tls-1"] = node
        wait_for("the task to render over https", farm.drained, procs=[farm.main, node])
        [done] = farm.ids(TaskState.DONE)
        assert (project.layout.output / done / "final.mp4").stat().st_size > 0
        # `status` on this machine trusts the certificate its main worker serves.
        status = subprocess.run([PYTHON, "-m", "storyreel.cli", "status", root, "--json"], capture_output=True,
                                text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
        assert status.returncode == 0, status.stderr
        state = json.loads(status.stdout)
        assert state["coordinator"] is True
        assert "tls-1" in {row["node"] for row in state["nodes"]}
    finally:
        farm.stop()


@contextmanager
def https_coordinator(root: Path, media, certs, listen: str) -> Iterator[tuple[Project, str]]:
    """A coordinator thread serving HTTPS on `listen`; yields its project and URL."""
    _, cert, key = certs
    project = farm_project(root, media, tasks=1)
    server = CoordinatorServer(Coordinator(project), listen, tls=ServerTLS(cert, key))
    url = server.start()
    try:
        yield project, url
    finally:
        server.stop()


def test_the_login_rule_is_the_same_over_https(tmp_path: Path, media, certs) -> None:
    ca = certs[0]
    with https_coordinator(tmp_path / "root", media, certs, "0.0.0.0:0") as (project, url):
        assert url.startswith("https://127.0.0.1:")
        node_token = tokens.add(project.layout, "rack1")
        with httpx.Client(base_url=url, verify=client_context(ca), timeout=30) as http:
            state = "/dashboard/api/state"
            assert http.get(state).status_code == 401  # bound beyond loopback: the token, also from here
            assert http.get(state, headers={"Authorization": f"Bearer {node_token}"}).status_code == 401
            assert http.get(state, headers={"Authorization": f"Bearer {project.token}"}).status_code == 200
            login = http.post("/dashboard/login", data={"token": project.token}, follow_redirects=False)
            assert login.status_code == 303
            assert "secure" in login.headers["set-cookie"].lower()  # the cookie travels over TLS only
        with pytest.raises(httpx.TransportError):  # plain HTTP gets no answer
            httpx.get(url.replace("https://", "http://") + "/dashboard/api/state", timeout=5)


def test_a_client_without_the_ca_is_refused_at_once_not_retried(tmp_path: Path, media, certs) -> None:
    ca = certs[0]
    with https_coordinator(tmp_path / "root", media, certs, "127.0.0.1:0") as (project, url):
        trusted = CoordinatorClient(url, project.token, "n1", verify=client_context(ca))
        assert trusted.register("h", ["libx264"]).heartbeat_seconds > 0
        trusted.close()
        other_ca, _, _ = make_certs(tmp_path / "other", "other")
        for verify in (True, client_context(other_ca)):
            stranger = CoordinatorClient(url, project.token, "n2", verify=verify)
            began = time.monotonic()
            with pytest.raises(Untrusted, match="not trusted"):
                stranger.register("h", ["libx264"])  # patient, yet it does not wait
            assert time.monotonic() - began < 5  # the first retry alone would wait 0.2 s, then grow
            stranger.close()


def test_tls_options_are_checked_before_serving(tmp_path: Path, certs) -> None:
    ca, cert, key = certs
    with pytest.raises(ConfigError, match="both --tls-cert and --tls-key"):
        ServerTLS.from_options(cert, None)
    with pytest.raises(ConfigError, match="no such file"):
        ServerTLS.from_options(cert, tmp_path / "missing.key")
    with pytest.raises(ConfigError, match="cannot serve TLS"):
        ServerTLS.from_options(cert, ca)  # a certificate is no key
    assert ServerTLS.from_options(None, None) is None
    with pytest.raises(ConfigError, match="cannot read the CA file"):
        client_context(tmp_path / "missing.pem")
