"""Fixtures of the story-link stage tests: the story server and crawl project of tests/crawlkit.py."""

from crawlkit import crawl_project, processor, story_server  # noqa: F401
