"""Address classification, URL checks, and refusals that never reach the network."""

from __future__ import annotations

import pytest
from crawlkit import STORY_HOST, Certificate, Reply, StoryServer, drop_link

from storyreel.crawl.fetch import Fetcher, Limits
from storyreel.crawl.safety import Policy, check_url, classify, parse_url, refusal
from storyreel.errors import FetchError, UnsafeURLError
from storyreel.ingest.story import LinkProcessor
from storyreel.project import Project


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "CGNAT"),
        ("100.127.255.254", "CGNAT"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.10.10", "link-local"),
        ("224.0.0.251", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::5", "private"),
        ("fd00:ec2::254", "cloud metadata"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback 127.0.0.1 inside IPv6"),
        ("::ffff:169.254.169.254", "cloud metadata 169.254.169.254 inside IPv6"),
        ("::ffff:10.1.1.1", "private 10.1.1.1 inside IPv6"),
        ("2002:7f00:1::", "loopback 127.0.0.1 inside IPv6"),
        ("64:ff9b::a9fe:a9fe", "cloud metadata 169.254.169.254 inside IPv6"),
    ],
)
def test_non_public_addresses_are_classified(address: str, kind: str) -> None:
    assert classify(address) == kind
    assert refusal(address) == f"blocked address {address} ({kind})" or refusal(address).startswith("blocked address")


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert classify(address) is None
    assert refusal(address) is None


def test_private_switch_allows_intranets_but_never_metadata_or_link_local() -> None:
    intranet = Policy(allow_private=True)
    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.7", "100.64.3.3", "fd12::1", "::1"):
        assert refusal(address, intranet) is None, address
    for address in ("169.254.169.254", "169.254.3.3", "fe80::1", "224.0.0.1", "0.0.0.0", "fd00:ec2::254"):
        assert refusal(address, intranet) is not None, address


def test_allowed_networks_are_narrow_and_never_cover_metadata() -> None:
    policy = Policy.from_settings(False, ["10.1.2.0/24", "169.254.0.0/16"])
    assert refusal("10.1.2.9", policy) is None
    assert refusal("10.1.3.9", policy) == "blocked address 10.1.3.9 (private)"
    assert refusal("169.254.169.254", policy) == "blocked address 169.254.169.254 (cloud metadata)"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("ftp://example.com/story.txt", "scheme 'ftp' is not allowed"),
        ("gopher://example.com/", "scheme 'gopher' is not allowed"),
        ("javascript:alert(1)", "scheme 'javascript' is not allowed"),
        ("http://user:secret@example.com/", "credentials in URLs are not allowed"),
        ("http:///nohost", "URL has no host"),
        ("http://2130706433/", "unusual IPv4 spelling '2130706433'"),
        ("http://0x7f.1/", "unusual IPv4 spelling '0x7f.1'"),
        ("http://0x7f000001/", "unusual IPv4 spelling '0x7f000001'"),
        ("http://127.1/", "unusual IPv4 spelling '127.1'"),
        ("http://127.0.0.1./", "unusual IPv4 spelling '127.0.0.1.'"),
        ("http://0177.0.0.1/", "0177.0.0.1"),
        ("http://exa mple.com/", "bad host name"),
        ("http://example.com:0/", "port 0 is out of range"),
    ],
)
def test_bad_urls_are_refused_before_any_lookup(url: str, reason: str) -> None:
    with pytest.raises(UnsafeURLError) as caught:
        parse_url(url)
    assert reason in str(caught.value)


def test_every_resolved_address_must_be_allowed() -> None:
    def mixed(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.5"]

    with pytest.raises(UnsafeURLError, match=r"blocked address 10\.0\.0\.5 \(private\)"):
        check_url("http://rebind.example/", resolver=mixed)
    target = check_url("https://good.example/a?b=1", resolver=lambda h, p: ["93.184.216.34"])
    assert (target.host, target.port, target.address) == ("good.example", 443, "93.184.216.34")


def test_names_resolving_to_loopback_are_refused() -> None:
    with pytest.raises(UnsafeURLError, match="loopback"):
        check_url("http://localhost/")


def _limits(project: Project) -> Limits:
    return Limits.from_settings(project.settings.crawl)


@pytest.mark.parametrize(
    "template",
    [
        "http://127.0.0.1:{port}/secret",
        "http://localhost:{port}/secret",
        "http://[::ffff:127.0.0.1]:{port}/secret",
        "http://2130706433:{port}/secret",
        "http://0x7f.0.0.1:{port}/secret",
        "http://0177.0.0.1:{port}/secret",
        "http://127.1:{port}/secret",
    ],
)
def test_direct_links_to_refused_addresses_send_nothing(
    crawl_project: Project, forbidden_server: StoryServer, template: str
) -> None:
    url = template.format(port=forbidden_server.port)
    with pytest.raises(FetchError):
        Fetcher(_limits(crawl_project)).fetch(url)
    assert forbidden_server.requests == []


@pytest.mark.parametrize(
    ("location", "blocked"),
    [
        ("http://127.0.0.1:{port}/secret", "blocked address 127.0.0.1 (loopback)"),
        ("http://169.254.169.254/latest/meta-data/iam/", "blocked address 169.254.169.254 (cloud metadata)"),
        ("http://[::1]:{port}/secret", "blocked address ::1 (loopback)"),
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
    ],
)
def test_redirects_to_refused_addresses_end_in_trash_and_send_nothing(
    crawl_project: Project, processor: LinkProcessor, story_server: StoryServer,
    forbidden_server: StoryServer, location: str, blocked: str,
) -> None:
    target = location.format(port=forbidden_server.port)
    story_server.routes["/story"] = Reply(status=302, headers={"Location": target}, content_type=None)
    asset = drop_link(crawl_project, [story_server.url("/story")])
    dest = processor.process(asset)
    assert dest == crawl_project.layout.invalid_dest(asset.path)
    reason = crawl_project.layout.reason_file(dest).read_text()
    assert story_server.url("/story") in reason and blocked in reason
    assert forbidden_server.requests == []
    assert story_server.hits("/story") == 1


def test_a_host_name_is_connected_at_the_checked_address(
    crawl_project: Project, story_server: StoryServer
) -> None:
    """`story.invalid` has no DNS record: the fetch works only by connecting to the checked address."""
    story_server.routes["/pinned"] = Reply("hello from the pinned address", content_type="text/plain")
    lookups: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        lookups.append(host)
        return [STORY_HOST]

    page = Fetcher(_limits(crawl_project), resolver=resolver).fetch(f"http://story.invalid:{story_server.port}/pinned")
    assert page.text == "hello from the pinned address"
    assert lookups == ["story.invalid"]
    assert story_server.requests[0][1]["Host"] == f"story.invalid:{story_server.port}"
    assert story_server.requests[0][1]["User-Agent"] == crawl_project.settings.crawl.user_agent


def test_https_verifies_the_host_name_while_connecting_to_the_checked_address(
    crawl_project: Project, tls_server: StoryServer, certificate: Certificate
) -> None:
    tls_server.routes["/story"] = Reply("A story over TLS.", content_type="text/plain")
    fetch = Fetcher(
        _limits(crawl_project), resolver=lambda host, port: [STORY_HOST], ssl_context=certificate.client_context()
    )
    page = fetch.fetch(f"https://{certificate.host}:{tls_server.port}/story")
    assert page.text == "A story over TLS."
    assert tls_server.requests[0][1]["Host"] == f"{certificate.host}:{tls_server.port}"

    with pytest.raises(FetchError) as caught:
        fetch.fetch(f"https://other.invalid:{tls_server.port}/story")
    assert "certificate verify failed" in caught.value.reason
    assert not caught.value.transient
    assert len(tls_server.requests) == 1
