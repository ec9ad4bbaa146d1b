"""The README's configuration reference is the file `storyreel init` writes, word for word."""

from __future__ import annotations

from pathlib import Path

from storyreel.config import default_toml

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_shows_every_default_setting():
    assert "```toml\n" + default_toml() + "```" in README.read_text(encoding="utf-8")
