"""Fetch one story page safely: checked addresses, bounded time and size, retries.

Every hop of a fetch goes through `safety.check_url`, and the connection is made
to the address that check returned (the network backend below connects only to
pinned addresses, so a host name is never resolved a second time). Redirects are
followed here, one checked hop at a time. Each socket operation is bounded by the
read/connect timeouts *and* by the time left before the URL's overall deadline,
so a server that drips one byte a second is cut off at the deadline. The body is
counted after content decoding while it streams, so a lying Content-Length, an
endless body or a compression bomb stops at `max_bytes`.

The HTTP engine is httpcore with its network backend replaced (pinning and
deadline), so no connection is ever made outside these rules; environment proxy
settings are not used.
"""

from __future__ import annotations

import ssl
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Any

import httpcore

from storyreel.config import CrawlSettings
from storyreel.crawl.charset import decode_body
from storyreel.crawl.safety import (
    Policy,
    Resolver,
    Target,
    UnsafeURLError,
    check_url,
    system_resolver,
)
from storyreel.errors import FetchError
from storyreel.logs import MAIN_WORKER, get_logger
from storyreel.units import human_size

log = get_logger(MAIN_WORKER)

ALLOWED_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Worth another try: the server said "later" or failed on its side.
TRANSIENT_STATUSES = frozenset({408, 425, 429})
# Reads are sliced this short so a cancelled crawl (shutdown) stops promptly.
READ_SLICE_SECONDS = 0.5
@dataclass(frozen=True)
class Page:
    """A fetched page, decoded to text."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    media_type: str
    encoding: str  # the codec the body was decoded with
    text: str
    size: int  # body bytes after content decoding


@dataclass(frozen=True)
class Limits:
    """The crawl settings a fetch needs."""

    user_agent: str
    connect_timeout: float
    read_timeout: float
    deadline: float
    max_bytes: int
    max_redirects: int
    retries: int
    backoff: float
    policy: Policy

    @classmethod
    def from_settings(cls, s: CrawlSettings) -> Limits:
        return cls(
            user_agent=s.user_agent, connect_timeout=s.connect_timeout, read_timeout=s.read_timeout,
            deadline=s.deadline_seconds, max_bytes=s.max_bytes, max_redirects=s.max_redirects,
            retries=s.retries, backoff=s.retry_backoff_seconds,
            policy=Policy.from_settings(s.allow_private_networks, s.allow_networks),
        )


class _Clock:
    """The overall deadline of one URL and the crawl's cancel switch."""

    def __init__(self, seconds: float, cancel: threading.Event) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.cancel = cancel
        self.expired = False

    def left(self) -> float:
        return self.ends - time.monotonic()

    def budget(self, timeout: float | None) -> float:
        """Seconds allowed for the next socket operation; raises once time is up."""
        if self.cancel.is_set():
            raise httpcore.ReadTimeout("crawl cancelled")
        left = self.left()
        if left <= 0:
            self.expired = True
            raise httpcore.ReadTimeout(f"deadline of {self.seconds:g}s exceeded")
        return left if timeout is None else min(timeout, left)


class _GuardedStream(httpcore.NetworkStream):
    """A socket stream whose every read and write respects the URL's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, clock: _Clock) -> None:
        self._inner = inner
        self._clock = clock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        ends = time.monotonic() + self._clock.budget(timeout)
        while True:
            left = ends - time.monotonic()
            if left <= 0:
                self._clock.budget(None)  # raises when it was the deadline, not the read timeout
                raise httpcore.ReadTimeout(f"no data for {timeout:g}s" if timeout else "no data")
            try:
                return self._inner.read(max_bytes, min(READ_SLICE_SECONDS, left))
            except httpcore.ReadTimeout:
                self._clock.budget(None)  # cancelled or past the deadline: stop now

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._clock.budget(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname, self._clock.budget(timeout))
        return _GuardedStream(inner, self._clock)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects only to addresses that passed the safety check, never by name."""

    def __init__(self, clock: _Clock) -> None:
        self._inner = httpcore.SyncBackend()
        self._clock = clock
        self._pins: dict[tuple[str, int], str] = {}

    def pin(self, target: Target) -> None:
        self._pins[(target.host, target.port)] = target.address

    def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        address = self._pins.get((host, port))
        if address is None:
            raise httpcore.ConnectError(f"{host}:{port} was not checked")
        stream = self._inner.connect_tcp(
            address, port, timeout=self._clock.budget(timeout), local_address=local_address,
            socket_options=socket_options,
        )
        return _GuardedStream(stream, self._clock)

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
        raise httpcore.ConnectError("unix sockets are never used for story links")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _Decoder:
    """Content-Encoding (identity, gzip, deflate) with a cap on the decoded size."""

    def __init__(self, url: str, encoding: str) -> None:
        encoding = encoding.strip().lower()
        self._raw_deflate_fallback = encoding == "deflate"  # some servers send raw deflate
        if encoding in ("", "identity"):
            self._zlib = None
        elif encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            raise FetchError(url, f"unsupported content encoding {encoding!r}")
        self._url = url

    def feed(self, data: bytes, room: int) -> bytes:
        """Decode data, giving at most room + 1 bytes (one more means: too large)."""
        if self._zlib is None:
            return data
        try:
            out = self._zlib.decompress(data, room + 1)
        except zlib.error as exc:
            if not self._raw_deflate_fallback:
                raise FetchError(self._url, f"corrupt compressed body ({exc})") from exc
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            self._raw_deflate_fallback = False
            return self.feed(data, room)
        self._raw_deflate_fallback = False
        return out


def parse_content_type(value: str) -> tuple[str, str | None]:
    """`text/html; charset="utf-8"` → ("text/html", "utf-8")."""
    media_type, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset" and val.strip():
            charset = val.strip().strip("\"'").strip()
    return media_type.strip().lower(), charset


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether exc was raised because of (or wraps) an exception of this kind."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind) or any(isinstance(arg, kind) for arg in seen.args):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class Fetcher:
    """Fetches story pages under the crawl limits; one instance serves many threads."""

    def __init__(
        self, limits: Limits, *, resolver: Resolver = system_resolver,
        cancel: threading.Event | None = None, ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.limits = limits
        self.resolver = resolver
        self.cancel = cancel or threading.Event()
        # Certificates are verified against the URL's host name, not the pinned address.
        self._ssl = ssl_context or ssl.create_default_context()

    def fetch(self, url: str) -> Page:
        """Fetch a URL, retrying timeouts, resets and 5xx with backoff within its deadline."""
        clock = _Clock(self.limits.deadline, self.cancel)
        delay = self.limits.backoff
        attempt = 0
        while True:
            try:
                return self._attempt(url, clock)
            except FetchError as exc:
                attempt += 1
                if not exc.transient or attempt > self.limits.retries or clock.left() <= delay:
                    raise
                log.info("Retrying %s in %.1fs after: %s", url, delay, exc.reason)
                if self.cancel.wait(delay):
                    raise FetchError(url, "crawl cancelled") from exc
                delay *= 2

    def _attempt(self, url: str, clock: _Clock) -> Page:
        """One try: follow redirects, each hop checked and pinned, up to the page."""
        backend = _PinnedBackend(clock)
        with httpcore.ConnectionPool(ssl_context=self._ssl, network_backend=backend, retries=0) as pool:
            current, seen = url, {url}
            while True:
                try:
                    target = check_url(current, self.limits.policy, self.resolver)
                except UnsafeURLError as exc:
                    raise FetchError(current, exc.reason) from exc
                backend.pin(target)
                try:
                    answer = self._request(pool, target, url)
                except httpcore.TimeoutException as exc:
                    reason = str(exc) if clock.expired else f"timed out ({exc or 'no answer'})"
                    raise FetchError(current, reason, transient=not clock.expired) from exc
                except httpcore.NetworkError as exc:
                    certificate = _caused_by(exc, ssl.SSLCertVerificationError)
                    raise FetchError(current, f"connection failed ({exc})", transient=not certificate) from exc
                except httpcore.ProtocolError as exc:
                    raise FetchError(current, f"bad HTTP response ({exc})", transient=True) from exc
                if isinstance(answer, Page):
                    return answer
                if answer in seen:
                    raise FetchError(url, f"redirect loop back to {answer}")
                if len(seen) > self.limits.max_redirects:
                    raise FetchError(url, f"more than {self.limits.max_redirects} redirects")
                seen.add(answer)
                log.debug("Redirect %s → %s", current, answer)
                current = answer

    def _request(self, pool: httpcore.ConnectionPool, target: Target, asked: str) -> Page | str:
        """One GET: a Page, or the next URL when the answer is a redirect."""
        url = str(target.url)
        host = f"[{target.host}]" if ":" in target.host else target.host
        default_port = 443 if target.url.scheme == "https" else 80
        host_header = host if target.port == default_port else f"{host}:{target.port}"
        request = httpcore.Request(
            "GET",
            httpcore.URL(
                scheme=target.url.scheme.encode(), host=target.host.encode("ascii"), port=target.port,
                target=target.url.raw_path,
            ),
            headers=[
                (b"Host", host_header.encode("ascii")),
                (b"User-Agent", self.limits.user_agent.encode("latin-1", "replace")),
                (b"Accept", b"text/html, application/xhtml+xml, text/plain;q=0.9"),
                (b"Accept-Encoding", b"gzip, deflate"),
            ],
            extensions={"timeout": {
                "connect": self.limits.connect_timeout, "read": self.limits.read_timeout,
                "write": self.limits.read_timeout, "pool": self.limits.connect_timeout,
            }},
        )
        response = pool.handle_request(request)
        try:
            status = response.status
            if status in REDIRECT_STATUSES:
                location = _header(response.headers, b"location")
                if not location:
                    raise FetchError(url, f"HTTP {status} redirect without a Location header")
                return str(target.url.join(location.strip()))
            if status >= 500 or status in TRANSIENT_STATUSES:
                raise FetchError(url, f"HTTP {status}", transient=True)
            if not 200 <= status < 300:
                raise FetchError(url, f"HTTP {status}")
            media_type, charset = parse_content_type(_header(response.headers, b"content-type") or "")
            if media_type not in ALLOWED_TYPES:
                shown = media_type or "none"
                raise FetchError(url, f"wrong content type {shown!r} (want {', '.join(ALLOWED_TYPES)})")
            length = _header(response.headers, b"content-length")
            if length and length.strip().isdigit() and int(length) > self.limits.max_bytes:
                raise FetchError(url, f"too large: Content-Length {human_size(int(length))} is over {human_size(self.limits.max_bytes)}")
            decoder = _Decoder(url, _header(response.headers, b"content-encoding") or "")
            parts: list[bytes] = []
            size = 0
            for raw in response.iter_stream():
                data = decoder.feed(raw, self.limits.max_bytes - size)
                size += len(data)
                if size > self.limits.max_bytes:
                    raise FetchError(url, f"too large: body is over {human_size(self.limits.max_bytes)}")
                parts.append(data)
            body = b"".join(parts)
        finally:
            response.close()
        text, encoding = decode_body(body, charset, media_type)
        return Page(url=asked, final_url=url, media_type=media_type, encoding=encoding, text=text, size=size)
