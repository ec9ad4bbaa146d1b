"""Fixtures of the narration-over-the-farm tests (the story server lives in tests/crawlkit.py)."""

from crawlkit import story_server  # noqa: F401
