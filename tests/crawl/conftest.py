"""Fixtures of the crawl tests (they live in tests/crawlkit.py)."""

from crawlkit import (  # noqa: F401
    certificate,
    crawl_project,
    forbidden_server,
    processor,
    story_server,
    tls_server,
)
