"""The story-link stage end to end: link file in raw/ → chunks in scanned/, or trash/invalid/ with a reason."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler

from crawlkit import (
    Reply,
    StoryServer,
    article_page,
    chunk_files,
    drop_link,
    endless,
    slow_drip,
    words,
)

from storyreel.ingest.story import LinkProcessor, recover
from storyreel.layout import RawAsset
from storyreel.logs import read_events
from storyreel.project import Project


def reason_of(project: Project, asset: RawAsset) -> dict:
    dest = project.layout.invalid_dest(asset.path)
    assert dest.is_file(), "the link file is kept in trash/invalid/"
    assert not asset.path.exists()
    return json.loads(project.layout.reason_file(dest).read_text())


def test_article_is_kept_and_boilerplate_dropped(
    crawl_project: Project, processor: LinkProcessor, story_server: StoryServer
) -> None:
    story = words(600, per_paragraph=60)
    story_server.routes["/dragon"] = Reply(article_page(story))
    asset = drop_link(crawl_project, ["# The dragon story", "", story_server.url("/dragon")])
    dest = processor.process(asset)

    layout = crawl_project.layout
    assert dest == layout.scanned_link_dir("fantasy", "dragon") / "links.txt"
    assert dest.read_text().endswith(story_server.url("/dragon") + "\n")
    assert not asset.path.exists()
    chunks = chunk_files(crawl_project)
    assert [c.name for c in chunks] == ["chunk_0001.txt"]
    text = chunks[0].read_text(encoding="utf-8")
    assert text == "The Dragon of Arden\n\n" + story
    for junk in ("COMMENTTEXT", "FOOTERTEXT", "SCRIPTTEXT", "ADTEXT", "NAVTEXT", "Category 7", "Privacy"):
        assert junk not in text
    record = json.loads(layout.link_record(dest).read_text())
    assert record["state"] == "done"
    assert record["urls"] == [story_server.url("/dragon")]
    assert record["chunks"] == ["chunk_0001.txt"]
    assert record["words"] == 604
    assert record["fetched_at"].endswith("Z")
    events = [e for e in read_events(layout.events_file) if e["event"] == "ingested"]
    assert events[-1]["kind"] == "link" and events[-1]["chunks"] == ["chunk_0001.txt"]
    log = layout.log_file.read_text()
    assert 'INFO main_worker "Moved file raw/story/fantasy/dragon/link/links.txt → scanned/story/fantasy/dragon/link/links.txt"' in log


def test_25000_word_story_becomes_three_chunks(
    crawl_project: Project, processor: LinkProcessor, story_server: StoryServer
) -> None:
    story = words(25_000, per_paragraph=100, per_sentence=10)
    story_server.routes["/long.txt"] = Reply(story, content_type="text/plain; charset=utf-8")
    processor.process(drop_link(crawl_project, [story_server.url("/long.txt")]))
    chunks = [c.read_text(encoding="utf-8") for c in chunk_files(crawl_project)]
    assert [len(c.split()) for c in chunks] == [10_000, 10_000, 5_000]
    assert "".join(chunks) == story


def test_story_over_three_pages_in_reading_order(
    crawl_project: Project, processor: LinkProcessor, story_server: StoryServer
) -> None:
    pages = [words(300, seed=i, per_paragraph=50) for i in range(3)]
    for i, page in enumerate(pages, 1):
        story_server.routes[f"/chapter/{i}"] = Reply(article_page(page, title=f"Chapter {i}"))
    processor.process(drop_link(crawl_project, [story_server.url(f"/chapter/{i}") for i in (1, 2, 3)]))
    (chunk,) = chunk_files(crawl_project)
    expected = "\n".join(f"Chapter {i}\n\n{page}" for i, page in enumerate(pages, 1))
    assert chunk.read_text(encoding="utf-8") == expected
    record = json.loads(crawl_project.layout.link_record(
        crawl_project.layout.scanned_link_dir("fantasy", "dragon") / "links.txt").read_text())
    assert [p["words"] for p in record["pages"]] == [302, 302, 302]


def test_chunk_numbers_continue_and_never_overwrite(
    crawl_project: Project, processor: LinkProcessor, story_server: StoryServer
) -> None:
    story_server.routes["/a.txt"] = Reply(words(250, seed=1), content_type="text/plain")
    story_server.routes["/b.txt"] = Reply(words(150, seed=2), content_type="text/plain")
    crawl_project.settings.crawl.chunk_words = 100
    story_dir = crawl_project.layout.scanned_story("fantasy", "dragon")
    story_dir.mkdir(parents=True)
    (story_dir / "chunk_0001.txt").write_text("operator's own chunk\n")
    processor.process(drop_link(crawl_project, [story_server.url("/a.txt")], name="a.txt"))
    processor.process(drop_link(crawl_project, [story_server.url("/b.txt")], name="a.txt"))
    names = [c.name for c in chunk_files(crawl_project)]
    assert names == [f"chunk_{n:04d}.txt" for n in range(1, 7)]
    assert (story_dir / "chunk_0001.txt").read_text() == "operator's own chunk\n"
    link_dir = crawl_project.layout.scanned_link_dir("fantasy", "dragon")
    assert sorted(p.name for p in link_dir.iterdir()) == ["a.1.txt", "a.1.txt.record.json", "a.txt", "a.txt.record.json"]
    assert json.loads((link_dir / "a.txt.record.json").read_text())["chunks"] == ["chunk_0002.txt", "chunk_0003.txt", "chunk_0004.txt"]
    assert json.loads((link_dir / "a.1.txt.record.json").read_text())["chunks"] == ["chunk_0005.txt", "chunk_0006.txt"]


def test_windows_1252_and_plain_text_pages_become_utf8(
    crawl_project: Project, processor: LinkProcessor, story_server: StoryServer
) -> None:
    crawl_project.settings.crawl.min_words = 5
    html = "<html><body><article><h1>Noël</h1><p>Le café “Déjà vu” coûte 3 €.</p></article></body></html>"
    story_server.routes["/fr"] = Reply(html.encode("cp1252"), content_type="text/html; charset=windows-1252")
    story_server.routes["/plain"] = Reply(b"Line one\r\nwrapped\tthere.\r\n\r\n\r\nSecond   paragraph.", content_type="text/plain")
    processor.process(drop_link(crawl_project, [story_server.url("/fr"), story_server.url("/plain")]))
    (chunk,) = chunk_files(crawl_project)
    assert chunk.read_bytes().decode("utf-8") == (
        "Noël\n\nLe café “Déjà vu” coûte 3 €.\n\nLine one wrapped there.\n\nSecond paragraph.\n"
    )


def test_failures_end_in_trash_with_a_reason_naming_the_url(
    crawl_project: Project, story_server: StoryServer
) -> None:
    crawl_project.settings.crawl.max_bytes = 200_000
    crawl_project.settings.crawl.deadline_seconds = 1.0
    processor = LinkProcessor(crawl_project)
    story_server.routes["/ok"] = Reply(article_page(words(100)))
    story_server.routes["/bin"] = Reply(b"\x89PNG\r\n", content_type="image/png")
    story_server.routes["/empty"] = Reply("<html><body><script>var story = 'SCRIPTTEXT';</script></body></html>")
    story_server.routes["/nav"] = Reply("<html><body><nav><a href='/'>Home</a> <a href='/about'>About us</a></nav></body></html>")
    story_server.routes["/endless"] = endless
    story_server.routes["/drip"] = slow_drip
    story_server.routes["/a"] = Reply(status=302, headers={"Location": "/b"}, content_type=None)
    story_server.routes["/b"] = Reply(status=302, headers={"Location": "/a"}, content_type=None)
    cases = {
        "missing": (["/ok", "/missing"], "cannot fetch {url}/missing: HTTP 404"),
        "binary": (["/bin"], "cannot fetch {url}/bin: wrong content type 'image/png' (want text/html, application/xhtml+xml, text/plain)"),
        "empty": (["/empty"], "cannot extract {url}/empty: no text found"),
        "nav": (["/nav"], "cannot extract {url}/nav: no story text found (3 words, at least 20 wanted)"),
        "endless": (["/endless"], "cannot fetch {url}/endless: too large: body is over 200.0 kB"),
        "drip": (["/drip"], "cannot fetch {url}/drip: deadline of 1s exceeded"),
        "loop": (["/a"], "cannot fetch {url}/a: redirect loop back to {url}/a"),
    }
    base = story_server.url("")
    for story, (paths, reason) in cases.items():
        asset = drop_link(crawl_project, [base + p for p in paths], story=story)
        processor.process(asset)
        assert reason_of(crawl_project, asset)["reason"] == reason.format(url=base)
        assert chunk_files(crawl_project, story=story) == []
    processor.close()
    assert story_server.hits("/ok") == 1


def test_bad_link_files_end_in_trash(crawl_project: Project, processor: LinkProcessor) -> None:
    cases = {
        "file": (["file:///etc/passwd"], "line 1: cannot fetch file:///etc/passwd: scheme 'file' is not allowed (only http and https)"),
        "ftp": (["# comment", "ftp://example.com/story.txt"], "line 2: cannot fetch ftp://example.com/story.txt: scheme 'ftp' is not allowed (only http and https)"),
        "none": (["# only a comment", ""], "link file holds no URL"),
        "two": (["http://a.example/ http://b.example/"], "line 1 holds more than one URL: 'http://a.example/ http://b.example/'"),
    }
    for story, (lines, reason) in cases.items():
        asset = drop_link(crawl_project, lines, story=story)
        processor.process(asset)
        assert reason_of(crawl_project, asset)["reason"] == reason
    path = crawl_project.layout.raw / "story/fantasy/latin1/link/l.txt"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"http://caf\xe9.example/\n")
    asset = crawl_project.layout.classify_raw(path)
    processor.process(asset)
    assert reason_of(crawl_project, asset)["reason"].startswith("link file is not UTF-8 text")


def test_submit_runs_in_the_background_in_name_order(
    crawl_project: Project, processor: LinkProcessor, story_server: StoryServer
) -> None:
    """While the story's first link crawls, c, a, b are queued; they are taken a, b, c."""
    crawl_project.settings.crawl.chunk_words = 100
    release = threading.Event()

    def held(handler: BaseHTTPRequestHandler) -> None:
        release.wait(30)
        Reply("Story 0. " + words(50), content_type="text/plain").send(handler)

    story_server.routes["/0.txt"] = held
    for name in ("c", "a", "b"):
        story_server.routes[f"/{name}.txt"] = Reply(f"Story {name}. " + words(50), content_type="text/plain")
    assets = [drop_link(crawl_project, [story_server.url(f"/{n}.txt")], name=f"{n}.txt") for n in ("0", "c", "a", "b")]
    other = drop_link(crawl_project, [story_server.url("/a.txt")], story="other")
    processor.submit(assets[0])
    deadline = time.monotonic() + 30
    while story_server.hits("/0.txt") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    for asset in [*assets[1:], assets[1], assets[0], other]:
        processor.submit(asset)
    while other.path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [c.name for c in chunk_files(crawl_project, story="other")] == ["chunk_0001.txt"]
    release.set()
    while processor.busy() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not processor.busy()
    firsts = [c.read_text().split(".")[0] for c in chunk_files(crawl_project)]
    assert firsts == ["Story 0", "Story a", "Story b", "Story c"]
    assert story_server.hits("/0.txt") == 1 and story_server.hits("/c.txt") == 1
    assert not any(a.path.exists() for a in assets)


def test_a_killed_commit_is_undone_and_crawled_again(
    crawl_project: Project, processor: LinkProcessor, story_server: StoryServer
) -> None:
    """The state a kill after the record and two of three chunks leaves behind."""
    crawl_project.settings.crawl.chunk_words = 100
    story_server.routes["/s.txt"] = Reply(words(250), content_type="text/plain")
    asset = drop_link(crawl_project, [story_server.url("/s.txt")])
    layout = crawl_project.layout
    story_dir = layout.scanned_story("fantasy", "dragon")
    (story_dir / "link").mkdir(parents=True)
    (story_dir / "chunk_0001.txt").write_text("partial one\n")
    (story_dir / "chunk_0002.txt").write_text("partial two\n")
    (story_dir / "link" / "links.txt.record.json").write_text(json.dumps(
        {"state": "committing", "chunks": ["chunk_0001.txt", "chunk_0002.txt", "chunk_0003.txt"]}
    ))
    assert recover(crawl_project) == [story_dir / "link" / "links.txt.record.json"]
    assert chunk_files(crawl_project) == []
    processor.process(asset)
    chunks = [c.read_text() for c in chunk_files(crawl_project)]
    assert "".join(chunks) == words(250) and len(chunks) == 3
    assert 'WARN main_worker "Undid the interrupted commit of scanned/story/fantasy/dragon/link/links.txt' in layout.log_file.read_text()


def test_a_commit_killed_after_the_move_is_finished(crawl_project: Project) -> None:
    link_dir = crawl_project.layout.scanned_link_dir("fantasy", "dragon")
    link_dir.mkdir(parents=True)
    (link_dir.parent / "chunk_0001.txt").write_text("whole\n")
    (link_dir / "links.txt").write_text("http://x.example/\n")
    record = link_dir / "links.txt.record.json"
    record.write_text(json.dumps({"state": "committing", "chunks": ["chunk_0001.txt"]}))
    recover(crawl_project)
    assert json.loads(record.read_text())["state"] == "done"
    assert (link_dir.parent / "chunk_0001.txt").read_text() == "whole\n"


def test_a_slow_site_does_not_stall_other_stories_and_close_leaves_it_in_raw(
    crawl_project: Project, processor: LinkProcessor, story_server: StoryServer
) -> None:
    story_server.routes["/drip"] = slow_drip
    story_server.routes["/fast.txt"] = Reply(words(100), content_type="text/plain")
    slow = drop_link(crawl_project, [story_server.url("/drip")], story="slow")
    fast = drop_link(crawl_project, [story_server.url("/fast.txt")], story="fast")
    processor.submit(slow)
    deadline = time.monotonic() + 30
    while story_server.hits("/drip") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    processor.submit(fast)
    while fast.path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [c.name for c in chunk_files(crawl_project, story="fast")] == ["chunk_0001.txt"]
    assert processor.busy() and slow.path.exists()
    processor.close()
    assert slow.path.exists(), "a crawl stopped by shutdown leaves its link in raw/"
    assert not crawl_project.layout.invalid_dest(slow.path).exists()
    assert chunk_files(crawl_project, story="slow") == []
    assert not processor.busy()


def test_a_link_file_edited_while_crawling_stays_in_raw(
    crawl_project: Project, processor: LinkProcessor, story_server: StoryServer
) -> None:
    release = threading.Event()

    def held(handler: BaseHTTPRequestHandler) -> None:
        release.wait(30)
        Reply(words(100), content_type="text/plain").send(handler)

    story_server.routes["/held.txt"] = held
    story_server.routes["/new.txt"] = Reply("The new story. " + words(100), content_type="text/plain")
    asset = drop_link(crawl_project, [story_server.url("/held.txt")])
    processor.submit(asset)
    deadline = time.monotonic() + 30
    while story_server.hits("/held.txt") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    asset.path.write_text(story_server.url("/new.txt") + "\n# edited\n")
    release.set()
    while processor.busy() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert asset.path.is_file()
    assert chunk_files(crawl_project) == []
    link_dir = crawl_project.layout.scanned_link_dir("fantasy", "dragon")
    assert not link_dir.exists() or list(link_dir.iterdir()) == []
    assert "changed while it was being checked" in crawl_project.layout.log_file.read_text()

    processor.submit(asset)
    while processor.busy() and time.monotonic() < deadline:
        time.sleep(0.02)
    (chunk,) = chunk_files(crawl_project)
    assert chunk.read_text().startswith("The new story. ")
