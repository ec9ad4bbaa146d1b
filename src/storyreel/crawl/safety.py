"""Which story URLs may be fetched, and at which address.

Story links come from outside, so a URL is checked before any connection:

- only `http` and `https`, no credentials in the URL, a port in 1..65535;
- host names are plain DNS names; IPv4 literals must be written as four decimal
  numbers (`2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1` are refused outright,
  because resolvers disagree about what they mean);
- the host is resolved once and *every* address it resolves to is classified;
  loopback, private, link-local, CGNAT, multicast, unspecified, reserved and
  cloud-metadata addresses are refused, including when hidden inside an IPv6
  address (IPv4-mapped, 6to4, NAT64, Teredo);
- the caller connects to the address returned here, not to the name again, so a
  second DNS answer cannot swap in another address (DNS rebinding).

`allow_private_networks` lets operators crawl an intranet: loopback, private
(RFC 1918, IPv6 ULA) and CGNAT addresses are then allowed. Link-local (where
cloud metadata services live), metadata, multicast, unspecified and reserved
addresses stay refused whatever the setting. `allow_networks` names narrower
networks (one intranet subnet) that are allowed with the switch off; cloud
metadata addresses are refused even there.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from storyreel.errors import UnsafeURLError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Resolves (host, port) to addresses; socket.getaddrinfo in production.
Resolver = Callable[[str, int], Sequence[str]]

ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

# Cloud instance-metadata services (AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba):
# the classic server-side request forgery target.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)

# (network, category) pairs, most specific first. `private` ones become
# reachable with allow_private_networks; the rest never are.
_PRIVATE_CATEGORIES = frozenset({"loopback", "private", "CGNAT"})
_NETWORKS: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(net), category)
    for net, category in (
        ("0.0.0.0/8", "unspecified"),
        ("127.0.0.0/8", "loopback"),
        ("10.0.0.0/8", "private"),
        ("172.16.0.0/12", "private"),
        ("192.168.0.0/16", "private"),
        ("100.64.0.0/10", "CGNAT"),
        ("169.254.0.0/16", "link-local"),
        ("192.0.0.0/24", "reserved"),
        ("192.0.2.0/24", "reserved"),
        ("198.18.0.0/15", "reserved"),
        ("198.51.100.0/24", "reserved"),
        ("203.0.113.0/24", "reserved"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("fc00::/7", "private"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "reserved"),
        ("ff00::/8", "multicast"),
        ("100::/64", "reserved"),
        ("2001:db8::/32", "reserved"),
    )
)

_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_CANONICAL_IPV4 = re.compile(r"^(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}$")


@dataclass(frozen=True)
class Policy:
    """Which non-public addresses an operator allows (CrawlSettings)."""

    allow_private: bool = False
    allow_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def from_settings(cls, allow_private: bool, networks: Sequence[str]) -> Policy:
        return cls(allow_private, tuple(ipaddress.ip_network(n, strict=False) for n in networks))


@dataclass(frozen=True)
class Target:
    """A checked URL and the one address to connect to for it."""

    url: httpx.URL
    host: str  # ASCII (IDNA) host name or IP literal, as sent in Host and SNI
    port: int
    address: str  # the checked IP address to connect to


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host, in its order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """An IPv4 address carried inside an IPv6 one (mapped, 6to4, Teredo, NAT64, compatible)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    packed = int(address)
    if address in ipaddress.ip_network("64:ff9b::/96") or address in ipaddress.ip_network("64:ff9b:1::/48"):
        return ipaddress.IPv4Address(packed & 0xFFFFFFFF)
    if packed >> 32 == 0 and packed > 1:  # deprecated IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(packed)
    return None


def classify(address: IPAddress | str) -> str | None:
    """The kind of non-public address this is ("loopback", "metadata", …), None when public."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "link-local"
        inner = _embedded_ipv4(ip)
        if inner is not None:
            kind = classify(inner)
            return f"{kind} {inner} inside IPv6" if kind else None
    if ip in METADATA_ADDRESSES:
        return "cloud metadata"
    for network, category in _NETWORKS:
        if ip.version == network.version and ip in network:
            return category
    if not ip.is_global:
        return "reserved"
    return None


def refusal(address: IPAddress | str, policy: Policy = Policy()) -> str | None:
    """Why connecting to this address is refused, or None when it is allowed."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    kind = classify(ip)
    if kind is None:
        return None
    if policy.allow_private and kind in _PRIVATE_CATEGORIES:
        return None
    if ip not in METADATA_ADDRESSES and any(
        ip.version == net.version and ip in net for net in policy.allow_networks
    ):
        return None
    return f"blocked address {ip} ({kind})"


def _unblock_hint(ip: IPAddress) -> str:
    """How an operator allows an address the policy refused, when one can be allowed."""
    if classify(ip) not in _PRIVATE_CATEGORIES:
        return ""
    return ("; to crawl an intranet set [crawl] allow_private_networks = true, "
            "or list its network in [crawl] allow_networks")


def parse_url(url: str) -> tuple[httpx.URL, str, int]:
    """Check a URL's form; return it parsed with its ASCII host and port."""
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL as exc:
        raise UnsafeURLError(url, f"not a valid URL ({exc})") from exc
    if parsed.scheme not in ALLOWED_SCHEMES:
        scheme = parsed.scheme or "no scheme"
        raise UnsafeURLError(url, f"scheme {scheme!r} is not allowed (only http and https)")
    if parsed.userinfo:
        raise UnsafeURLError(url, "credentials in URLs are not allowed")
    host = parsed.raw_host.decode("ascii").lower()
    if not host:
        raise UnsafeURLError(url, "URL has no host")
    port = DEFAULT_PORTS[parsed.scheme] if parsed.port is None else parsed.port
    if not 1 <= port <= 65535:
        raise UnsafeURLError(url, f"port {port} is out of range")
    if ":" in host:  # IPv6 literal (httpx removed the brackets)
        try:
            ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise UnsafeURLError(url, f"bad IPv6 address {host!r}") from exc
        return parsed, host, port
    labels = host.split(".")
    last = labels[-1] or (labels[-2] if len(labels) > 1 else "")
    if _NUMERIC_LABEL.match(last):
        if not _CANONICAL_IPV4.match(host):
            raise UnsafeURLError(url, f"unusual IPv4 spelling {host!r} (write it as four decimal numbers)")
        return parsed, host, port
    if host.endswith("."):
        labels = labels[:-1]
    if len(host) > 253 or not all(_DNS_LABEL.match(label) for label in labels):
        raise UnsafeURLError(url, f"bad host name {host!r}")
    return parsed, host, port


def check_url(url: str, policy: Policy = Policy(), resolver: Resolver = system_resolver) -> Target:
    """Check a URL and resolve its host; the Target names the address to connect to.

    Every address the name resolves to must be allowed, so a name that mixes a
    public and a private answer is refused.
    """
    parsed, host, port = parse_url(url)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = list(resolver(host, port))
        except (OSError, UnicodeError) as exc:
            raise UnsafeURLError(url, f"cannot resolve host {host!r} ({exc})") from exc
        if not addresses:
            raise UnsafeURLError(url, f"host {host!r} has no address")
    for address in addresses:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError as exc:
            raise UnsafeURLError(url, f"host {host!r} resolved to a bad address {address!r}") from exc
        problem = refusal(ip, policy)
        if problem:
            raise UnsafeURLError(url, problem + _unblock_hint(ip))
    return Target(url=parsed, host=host, port=port, address=addresses[0])
