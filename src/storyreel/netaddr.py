"""HOST:PORT, the one listen address type: the coordinator, the dashboard, `status` and the
settings all read `--listen 0.0.0.0:8765` (or `[::1]:8765`) through `Listen.parse`."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import Annotated

from pydantic import AfterValidator

from storyreel.errors import ConfigError

# Hosts that mean "every interface": a client on this machine reaches them on loopback.
_ANY_HOST = frozenset({"", "0.0.0.0", "::"})
_EXAMPLE = "127.0.0.1:8765"


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost: only this machine can connect."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@dataclass(frozen=True)
class Listen:
    """Where a server binds: `host` (IPv6 without brackets) and `port` (0: any free port)."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Listen:
        """`HOST:PORT` or `[v6]:PORT` into a Listen; ConfigError when it is neither."""
        host, sep, port = text.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise ConfigError(f"cannot listen on {text!r}: expected HOST:PORT, e.g. {_EXAMPLE}")
        return cls(host, int(port))

    def __str__(self) -> str:
        return f"{_bracketed(self.host)}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        return is_loopback(self.host)

    @property
    def url(self) -> str:
        """The URL a client on this machine uses to reach a server bound here."""
        host = "127.0.0.1" if self.host in _ANY_HOST else self.host
        return f"http://{_bracketed(host)}:{self.port}"

    def on_port(self, port: int) -> Listen:
        """The same host on the port a server actually bound (for `:0`)."""
        return replace(self, port=port)


def _checked(text: str) -> str:
    try:
        Listen.parse(text)
    except ConfigError as exc:
        raise ValueError(f"expected HOST:PORT, e.g. {_EXAMPLE}") from exc
    return text


# A settings field holding HOST:PORT: kept as the text the operator wrote, checked on load.
ListenText = Annotated[str, AfterValidator(_checked)]


# The schemes a render node can speak to the coordinator with.
_SERVER_SCHEMES = ("http", "https")


def server_url(text: str) -> tuple[str, bool]:
    """`--server` as a URL, and whether `http://` had to be put in front (`farm:8765`, as
    `--listen` is written); ConfigError at once for one that can never answer."""
    text = text.strip()
    scheme, sep, rest = text.partition("://")
    added = not sep
    if added:
        scheme, rest = "http", text
    rest = rest.rstrip("/")
    if scheme.lower() not in _SERVER_SCHEMES or not rest or rest.startswith(("/", ":")):
        raise ConfigError(f"--server {text!r} is not the main worker's URL: expected "
                          f"http://HOST:PORT, e.g. http://{_EXAMPLE}")
    return f"{scheme.lower()}://{rest}", added
