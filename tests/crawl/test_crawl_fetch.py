"""Fetching over real HTTP on loopback: statuses, redirects, limits, types, charsets."""

from __future__ import annotations

import pytest
from crawlkit import Reply, StoryServer, endless, gzip_bomb, slow_drip

from storyreel.crawl.charset import decode_body
from storyreel.crawl.fetch import Fetcher, Limits, parse_content_type
from storyreel.errors import FetchError
from storyreel.project import Project


def fetcher(project: Project, **changes: object) -> Fetcher:
    crawl = project.settings.crawl
    for key, value in changes.items():
        setattr(crawl, key, value)
    return Fetcher(Limits.from_settings(crawl))


def test_404_is_not_retried(crawl_project: Project, story_server: StoryServer) -> None:
    with pytest.raises(FetchError) as caught:
        fetcher(crawl_project).fetch(story_server.url("/missing"))
    assert caught.value.reason == "HTTP 404"
    assert story_server.hits("/missing") == 1


def test_500_then_200_is_retried(crawl_project: Project, story_server: StoryServer) -> None:
    story_server.routes["/flaky"] = [Reply("oops", status=500), Reply("oops", status=503), Reply("Story text.", content_type="text/plain")]
    page = fetcher(crawl_project).fetch(story_server.url("/flaky"))
    assert page.text == "Story text."
    assert story_server.hits("/flaky") == 3


def test_persistent_500_gives_up_after_the_retries(crawl_project: Project, story_server: StoryServer) -> None:
    story_server.routes["/down"] = Reply("down", status=502)
    with pytest.raises(FetchError) as caught:
        fetcher(crawl_project, retries=2).fetch(story_server.url("/down"))
    assert caught.value.reason == "HTTP 502"
    assert story_server.hits("/down") == 3


def test_redirect_chain_is_followed(crawl_project: Project, story_server: StoryServer) -> None:
    story_server.routes["/r1"] = Reply(status=301, headers={"Location": "/r2"}, content_type=None)
    story_server.routes["/r2"] = Reply(status=302, headers={"Location": story_server.url("/r3")}, content_type=None)
    story_server.routes["/r3"] = Reply(status=307, headers={"Location": "final?x=1"}, content_type=None)
    story_server.routes["/final?x=1"] = Reply("Arrived.", content_type="text/plain")
    page = fetcher(crawl_project).fetch(story_server.url("/r1"))
    assert page.text == "Arrived."
    assert page.final_url == story_server.url("/final?x=1")
    assert page.url == story_server.url("/r1")


def test_redirect_loop_is_refused(crawl_project: Project, story_server: StoryServer) -> None:
    story_server.routes["/a"] = Reply(status=302, headers={"Location": "/b"}, content_type=None)
    story_server.routes["/b"] = Reply(status=302, headers={"Location": "/a"}, content_type=None)
    with pytest.raises(FetchError) as caught:
        fetcher(crawl_project).fetch(story_server.url("/a"))
    assert caught.value.reason == f"redirect loop back to {story_server.url('/a')}"
    assert story_server.hits("/a") == 1 and story_server.hits("/b") == 1


def test_more_than_five_redirects_are_refused(crawl_project: Project, story_server: StoryServer) -> None:
    for i in range(7):
        story_server.routes[f"/hop{i}"] = Reply(status=302, headers={"Location": f"/hop{i + 1}"}, content_type=None)
    with pytest.raises(FetchError) as caught:
        fetcher(crawl_project).fetch(story_server.url("/hop0"))
    assert caught.value.reason == "more than 5 redirects"
    assert story_server.hits("/hop5") == 1 and story_server.hits("/hop6") == 0


def test_binary_content_type_is_refused(crawl_project: Project, story_server: StoryServer) -> None:
    story_server.routes["/bin"] = Reply(b"\x00\x01\x02PK", content_type="application/octet-stream")
    with pytest.raises(FetchError, match="wrong content type 'application/octet-stream'"):
        fetcher(crawl_project).fetch(story_server.url("/bin"))


def test_missing_content_type_is_refused(crawl_project: Project, story_server: StoryServer) -> None:
    story_server.routes["/none"] = Reply(b"text", content_type=None)
    with pytest.raises(FetchError, match="wrong content type 'none'"):
        fetcher(crawl_project).fetch(story_server.url("/none"))


def test_declared_oversize_is_refused_before_reading(crawl_project: Project, story_server: StoryServer) -> None:
    story_server.routes["/big"] = Reply("x" * 50_000, content_type="text/plain")
    with pytest.raises(FetchError, match="too large: Content-Length 50.0 kB is over 10.0 kB"):
        fetcher(crawl_project, max_bytes=10_000).fetch(story_server.url("/big"))


def test_endless_body_is_cut_off_at_the_size_limit(crawl_project: Project, story_server: StoryServer) -> None:
    story_server.routes["/endless"] = endless
    with pytest.raises(FetchError, match="too large: body is over 300.0 kB"):
        fetcher(crawl_project, max_bytes=300_000).fetch(story_server.url("/endless"))


def test_compression_bomb_is_cut_off_while_inflating(crawl_project: Project, story_server: StoryServer) -> None:
    story_server.routes["/bomb"] = gzip_bomb(50_000_000)
    with pytest.raises(FetchError, match="too large: body is over 300.0 kB"):
        fetcher(crawl_project, max_bytes=300_000).fetch(story_server.url("/bomb"))


def test_gzip_pages_are_decoded(crawl_project: Project, story_server: StoryServer) -> None:
    import gzip

    story_server.routes["/gz"] = Reply(gzip.compress(b"Zipped story."), content_type="text/plain", headers={"Content-Encoding": "gzip"})
    assert fetcher(crawl_project).fetch(story_server.url("/gz")).text == "Zipped story."


def test_slow_drip_is_cut_off_at_the_deadline(crawl_project: Project, story_server: StoryServer) -> None:
    story_server.routes["/drip"] = slow_drip
    with pytest.raises(FetchError) as caught:
        fetcher(crawl_project, deadline_seconds=1.0, read_timeout=5.0).fetch(story_server.url("/drip"))
    assert caught.value.reason == "deadline of 1s exceeded"
    assert not caught.value.transient
    assert story_server.hits("/drip") == 1


def test_silent_server_times_out_and_is_retried(crawl_project: Project, story_server: StoryServer) -> None:
    import time

    def silent(handler: object) -> None:
        time.sleep(1.0)

    story_server.routes["/silent"] = silent
    with pytest.raises(FetchError, match="timed out"):
        fetcher(crawl_project, read_timeout=0.3, retries=1).fetch(story_server.url("/silent"))
    assert story_server.hits("/silent") == 2


def test_windows_1252_page_is_decoded(crawl_project: Project, story_server: StoryServer) -> None:
    text = "Café “déjà vu” — naïve façade, 25 €."
    story_server.routes["/cp1252"] = Reply(f"<p>{text}</p>".encode("cp1252"), content_type="text/html; charset=windows-1252")
    page = fetcher(crawl_project).fetch(story_server.url("/cp1252"))
    assert text in page.text and page.encoding == "cp1252"


def test_latin1_label_is_read_as_windows_1252(crawl_project: Project, story_server: StoryServer) -> None:
    story_server.routes["/latin1"] = Reply("“quoted”".encode("cp1252"), content_type="text/plain; charset=ISO-8859-1")
    assert fetcher(crawl_project).fetch(story_server.url("/latin1")).text == "“quoted”"


def test_shift_jis_from_meta_charset(crawl_project: Project, story_server: StoryServer) -> None:
    html = '<html><head><meta charset="Shift_JIS"></head><body><p>むかしむかし、竜がいました。</p></body></html>'
    story_server.routes["/sjis"] = Reply(html.encode("shift_jis"), content_type="text/html")
    page = fetcher(crawl_project).fetch(story_server.url("/sjis"))
    assert "むかしむかし、竜がいました。" in page.text and page.encoding == "shift_jis"


def test_undeclared_charset_is_detected() -> None:
    assert decode_body(b"plain ascii", None, "text/plain") == ("plain ascii", "utf-8")
    assert decode_body("naïve".encode(), None, "text/plain") == ("naïve", "utf-8")
    assert decode_body(b"\xef\xbb\xbfBOM", "latin-1", "text/plain") == ("BOM", "utf-8-sig")
    assert decode_body(b"<meta charset=base64><p>x</p>", None, "text/html")[1] == "utf-8"
    assert decode_body("Ça coûte très cher à Noël.".encode("cp1252"), "rot13", "text/plain")[1] == "cp1252"
    assert decode_body(b"caf\xe9", None, "text/plain")[1] != "utf-16-be"  # BOM-less UTF-16 is never guessed
    text, _ = decode_body("Ça coûte très cher à Noël, déjà.".encode("cp1252"), None, "text/plain")
    assert text == "Ça coûte très cher à Noël, déjà."


def test_content_type_parsing() -> None:
    assert parse_content_type('Text/HTML; Charset="UTF-8"') == ("text/html", "UTF-8")
    assert parse_content_type("text/plain") == ("text/plain", None)
    assert parse_content_type("") == ("", None)


def test_deflate_pages_are_decoded_with_or_without_zlib_header(
    crawl_project: Project, story_server: StoryServer
) -> None:
    import zlib

    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    story_server.routes["/zlib"] = Reply(zlib.compress(b"Deflated story."), content_type="text/plain", headers={"Content-Encoding": "deflate"})
    story_server.routes["/raw"] = Reply(raw.compress(b"Raw deflated story.") + raw.flush(), content_type="text/plain", headers={"Content-Encoding": "deflate"})
    story_server.routes["/br"] = Reply(b"\x0b\x02", content_type="text/plain", headers={"Content-Encoding": "br"})
    fetch = fetcher(crawl_project)
    assert fetch.fetch(story_server.url("/zlib")).text == "Deflated story."
    assert fetch.fetch(story_server.url("/raw")).text == "Raw deflated story."
    with pytest.raises(FetchError, match="unsupported content encoding 'br'"):
        fetch.fetch(story_server.url("/br"))


def test_ipv6_literal_hosts_work_when_allowed(crawl_project: Project) -> None:
    server = StoryServer("::1").start()
    try:
        server.routes["/v6"] = Reply("Over IPv6.", content_type="text/plain")
        with pytest.raises(FetchError, match=r"blocked address ::1 \(loopback\)"):
            fetcher(crawl_project).fetch(server.url("/v6"))
        assert server.requests == []
        page = fetcher(crawl_project, allow_networks=["::1/128"]).fetch(server.url("/v6"))
        assert page.text == "Over IPv6."
        assert server.requests[0][1]["Host"] == f"[::1]:{server.port}"
    finally:
        server.stop()
