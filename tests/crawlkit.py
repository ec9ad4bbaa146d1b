"""Test kit for the crawl and story-link tests: a real HTTP server on loopback serving story pages.

The story server listens on 127.0.0.2, which the crawl settings allow by name
(`allow_networks`); private networks in general stay disallowed, so a redirect
to 127.0.0.1 or 169.254.169.254 is refused. A second server on 127.0.0.1 is the
"forbidden" target: tests assert it saw no request at all.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from storyreel.ingest.story import LinkProcessor
from storyreel.layout import RawAsset
from storyreel.project import Project

STORY_HOST = "127.0.0.2"
FORBIDDEN_HOST = "127.0.0.1"
# Servers that drip or stream forever give up after this, so no thread outlives a test for long.
SERVER_GIVE_UP_SECONDS = 20.0
# An endless body stops after this many bytes even if nobody hangs up.
ENDLESS_CAP_BYTES = 200_000_000


@dataclass
class Reply:
    """One canned answer."""

    body: bytes | str = b""
    status: int = 200
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    def send(self, handler: BaseHTTPRequestHandler) -> None:
        body = self.body.encode("utf-8") if isinstance(self.body, str) else self.body
        handler.send_response(self.status)
        if self.content_type is not None:
            handler.send_header("Content-Type", self.content_type)
        headers = {"Content-Length": str(len(body)), **self.headers}
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body)


Route = Reply | list[Reply] | Callable[[BaseHTTPRequestHandler], None]


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up early (size limits, deadlines) are expected, not errors."""

    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionResetError | BrokenPipeError):
            super().handle_error(request, client_address)


class _QuietServer6(_QuietServer):
    address_family = socket.AF_INET6


class StoryServer:
    """A threaded HTTP server whose routes the test fills in; it records every request."""

    def __init__(self, host: str, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append((self.path, dict(self.headers.items())))
                    count = server._served.get(self.path, 0)
                    server._served[self.path] = count + 1
                route = server.routes.get(self.path)
                try:
                    if route is None:
                        Reply("<h1>Not found</h1>", status=404).send(self)
                    elif isinstance(route, Reply):
                        route.send(self)
                    elif isinstance(route, list):
                        route[min(count, len(route) - 1)].send(self)
                    else:
                        route(self)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        server_class = _QuietServer6 if ":" in host else _QuietServer
        self.httpd = server_class((host, 0), Handler)
        if tls is not None:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.scheme = "https" if tls is not None else "http"
        self.host = host
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{path}"

    def hits(self, path: str) -> int:
        with self._lock:
            return self._served.get(path, 0)

    def start(self) -> StoryServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def slow_drip(handler: BaseHTTPRequestHandler) -> None:
    """Promises a page, then sends it a byte every 0.2 s."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.send_header("Content-Length", "100000")
    handler.end_headers()
    ends = time.monotonic() + SERVER_GIVE_UP_SECONDS
    while time.monotonic() < ends:
        handler.wfile.write(b"<")
        handler.wfile.flush()
        time.sleep(0.2)
    handler.close_connection = True


def endless(handler: BaseHTTPRequestHandler) -> None:
    """A chunked body that never ends (until the client hangs up)."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/plain")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    block = b"all work and no play makes jack a dull boy\n" * 1500
    sent, ends = 0, time.monotonic() + SERVER_GIVE_UP_SECONDS
    while sent < ENDLESS_CAP_BYTES and time.monotonic() < ends:
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(block), block))
        sent += len(block)
    handler.close_connection = True


def gzip_bomb(size: int) -> Reply:
    """A small gzip body, honestly labelled, that inflates to `size` bytes."""
    return Reply(
        gzip.compress(b"a" * size), content_type="text/plain",
        headers={"Content-Encoding": "gzip"},
    )


def words(count: int, *, seed: int = 0, per_paragraph: int = 120, per_sentence: int = 12) -> str:
    """Deterministic story prose: numbered words in sentences and paragraphs (paragraphs end with \\n\\n)."""
    vocabulary = ["dragon", "hill", "river", "lantern", "whisper", "stone", "ember", "castle", "night", "song"]
    paragraphs, sentence, paragraph = [], [], []
    for i in range(count):
        sentence.append(f"{vocabulary[(i + seed) % len(vocabulary)]}{i}")
        if len(sentence) == per_sentence or i == count - 1:
            paragraph.append(" ".join(sentence).capitalize() + ".")
            sentence = []
        if sum(len(s.split()) for s in paragraph) >= per_paragraph or i == count - 1:
            if paragraph:
                paragraphs.append(" ".join(paragraph))
            paragraph = []
    return "\n\n".join(paragraphs) + "\n"


def article_page(text: str, title: str = "The Dragon of Arden") -> str:
    """An article buried in navigation, ads, comments, scripts and a footer."""
    nav = "".join(f"<li><a href='/category/{i}'>Category {i}</a></li>" for i in range(40))
    paragraphs = "".join(f"<p>{p}</p>\n" for p in text.strip().split("\n\n"))
    comments = "".join(
        f"<div class='comment'><p class='author'>reader{i}</p><p>COMMENTTEXT number {i}: loved it, first!</p></div>"
        for i in range(5)
    )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{title} | Story Site</title>
<script>window.trackers = ['SCRIPTTEXT']; function ad() {{ return 'SCRIPTTEXT'; }}</script>
<style>.nav {{ color: red }}</style></head>
<body>
<header><div class="logo">Story Site</div><nav class="nav"><ul>{nav}</ul></nav></header>
<aside class="sidebar"><div class="ad">ADTEXT Buy cheap dragon insurance now! Limited offer!</div>
<ul><li><a href="/popular/1">NAVTEXT Most popular story</a></li><li><a href="/popular/2">NAVTEXT Second</a></li></ul></aside>
<main><article><h1>{title}</h1>
{paragraphs}</article></main>
<section id="comments" class="comments"><h2>Comments</h2>{comments}</section>
<footer class="footer"><p>FOOTERTEXT Copyright 2025 Story Site. All rights reserved.</p>
<a href="/privacy">Privacy</a> <a href="/terms">Terms</a></footer>
<script>console.log("SCRIPTTEXT");</script>
</body></html>"""


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for one host name."""

    host: str
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this certificate (and nothing else)."""
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    folder = tmp_path_factory.mktemp("tls")
    host = "story.invalid"
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", str(key),
         "-out", str(cert), "-subj", f"/CN={host}", "-addext", f"subjectAltName=DNS:{host}"],
        check=True, capture_output=True, stdin=subprocess.DEVNULL,
    )
    return Certificate(host, cert, key)


@pytest.fixture()
def tls_server(certificate: Certificate) -> Iterator[StoryServer]:
    server = StoryServer(STORY_HOST, tls=certificate.server_context()).start()
    yield server
    server.stop()


@pytest.fixture()
def story_server() -> Iterator[StoryServer]:
    server = StoryServer(STORY_HOST).start()
    yield server
    server.stop()


@pytest.fixture()
def forbidden_server() -> Iterator[StoryServer]:
    """A server on 127.0.0.1 that must never be reached."""
    server = StoryServer(FORBIDDEN_HOST).start()
    server.routes["/secret"] = Reply("<p>SECRET internal page that must never be fetched.</p>")
    yield server
    server.stop()


@pytest.fixture()
def crawl_project(project: Project) -> Project:
    """A project whose crawl allows only the story server's address, with short limits."""
    crawl = project.settings.crawl
    crawl.allow_private_networks = False
    crawl.allow_networks = [f"{STORY_HOST}/32"]
    crawl.retry_backoff_seconds = 0.05
    crawl.connect_timeout = 2.0
    crawl.read_timeout = 2.0
    crawl.deadline_seconds = 10.0
    return project


@pytest.fixture()
def processor(crawl_project: Project) -> Iterator[LinkProcessor]:
    links = LinkProcessor(crawl_project)
    yield links
    links.close()


def drop_link(project: Project, lines: list[str], *, category: str = "fantasy", story: str = "dragon",
              name: str = "links.txt") -> RawAsset:
    """Write a link file under raw/ and classify it as ingest would."""
    path = project.layout.raw / "story" / category / story / "link" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    asset = project.layout.classify_raw(path)
    assert isinstance(asset, RawAsset)
    return asset


def chunk_files(project: Project, category: str = "fantasy", story: str = "dragon") -> list[Path]:
    return project.layout.scanned_chunks(category, story)
