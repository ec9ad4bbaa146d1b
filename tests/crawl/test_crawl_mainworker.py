"""`storyreel main --once` as a real process crawls dropped links into chunks."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

from crawlkit import STORY_HOST, Reply, StoryServer, article_page, drop_link, words

from storyreel.project import Project

# Upper bound for one `main --once` over two links on loopback.
RUN_LIMIT = 120.0


def test_main_once_crawls_links_and_rejects_refused_ones(
    project: Project, story_server: StoryServer, forbidden_server: StoryServer
) -> None:
    config = project.layout.config_file
    text = config.read_text()
    assert "allow_networks = []" in text
    config.write_text(text.replace("allow_networks = []", f'allow_networks = ["{STORY_HOST}/32"]'))
    story = words(12_000, per_paragraph=100, per_sentence=10)
    story_server.routes["/dragon"] = Reply(article_page(story, title="Dragon Flight"))
    good = drop_link(project, [story_server.url("/dragon")], story="dragon_flight", name="a.txt")
    bad = drop_link(project, [forbidden_server.url("/secret")], story="dragon_flight", name="b.txt")

    run = subprocess.run(
        [sys.executable, "-m", "storyreel.cli", "main", str(project.layout.root), "--once"],
        capture_output=True, text=True, timeout=RUN_LIMIT, stdin=subprocess.DEVNULL,
    )
    assert run.returncode == 0, run.stderr

    layout = project.layout
    chunks = layout.scanned_chunks("fantasy", "dragon_flight")
    assert [c.name for c in chunks] == ["chunk_0001.txt", "chunk_0002.txt"]
    texts = [c.read_text(encoding="utf-8") for c in chunks]
    assert "".join(texts) == "Dragon Flight\n\n" + story
    assert [len(t.split()) for t in texts] == [9_902, 2_100]
    link = layout.scanned_link_dir("fantasy", "dragon_flight") / "a.txt"
    assert not good.path.exists() and link.is_file()
    assert json.loads(layout.link_record(link).read_text())["chunks"] == ["chunk_0001.txt", "chunk_0002.txt"]

    trashed = layout.invalid_dest(bad.path)
    reason = json.loads(layout.reason_file(trashed).read_text())["reason"]
    assert reason == (f"cannot fetch {forbidden_server.url('/secret')}: blocked address 127.0.0.1 (loopback); "
                      "to crawl an intranet set [crawl] allow_private_networks = true, "
                      "or list its network in [crawl] allow_networks")
    assert forbidden_server.requests == []
    assert story_server.hits("/dragon") == 1


def test_main_killed_mid_commit_never_duplicates_chunks(project: Project, story_server: StoryServer) -> None:
    """SIGKILL `storyreel main` as soon as the first chunk appears, then run it again."""
    config = project.layout.config_file
    text = config.read_text().replace("allow_networks = []", f'allow_networks = ["{STORY_HOST}/32"]')
    config.write_text(text.replace("chunk_words = 10000", "chunk_words = 100"))
    story = words(30_000, per_paragraph=50, per_sentence=10)
    story_server.routes["/long.txt"] = Reply(story, content_type="text/plain")
    asset = drop_link(project, [story_server.url("/long.txt")])
    story_dir = project.layout.scanned_story("fantasy", "dragon")
    argv = [sys.executable, "-m", "storyreel.cli", "main", str(project.layout.root), "--once"]

    first = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + RUN_LIMIT
        while first.poll() is None and time.monotonic() < deadline:
            if (story_dir / "chunk_0001.txt").exists():
                first.send_signal(signal.SIGKILL)
                break
            time.sleep(0.001)
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(timeout=RUN_LIMIT)
    partial = len(project.layout.scanned_chunks("fantasy", "dragon"))

    again = subprocess.run(argv, capture_output=True, text=True, timeout=RUN_LIMIT, stdin=subprocess.DEVNULL)
    assert again.returncode == 0, again.stderr
    chunks = project.layout.scanned_chunks("fantasy", "dragon")
    assert [c.name for c in chunks] == [f"chunk_{n:04d}.txt" for n in range(1, 301)]
    assert "".join(c.read_text(encoding="utf-8") for c in chunks) == story
    link = project.layout.scanned_link_dir("fantasy", "dragon") / "links.txt"
    assert not asset.path.exists() and link.is_file()
    assert json.loads(project.layout.link_record(link).read_text())["state"] == "done"
    assert not any(p.name.startswith(".") for p in story_dir.iterdir())
    if 0 < partial < 300:  # the kill landed mid-commit: the restart undid it and crawled again
        assert "Undid the interrupted commit" in again.stderr
