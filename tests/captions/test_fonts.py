"""The caption font is found by family name, copied into the task, or fails clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from storyreel.captions import copy_font, find_font
from storyreel.errors import CaptionError, FontMissing


def test_a_missing_font_family_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(FontMissing) as caught:
        copy_font("Storyreel Nonexistent Sans", tmp_path / "fonts")
    message = str(caught.value)
    assert "cannot find the font Storyreel Nonexistent Sans" in message
    assert "fontconfig has no family 'Storyreel Nonexistent Sans'" in message
    assert isinstance(caught.value, CaptionError)
    assert not (tmp_path / "fonts").exists()


def test_the_font_is_copied_into_the_task_folder(tmp_path: Path) -> None:
    regular = find_font("DejaVu Sans")
    bold = find_font("dejavu sans", bold=True)  # family names match without regard to case
    assert regular.name == "DejaVuSans.ttf" and bold.name == "DejaVuSans-Bold.ttf"
    folder = copy_font("DejaVu Sans", tmp_path / "task" / "fonts", bold=True)
    assert sorted(p.name for p in folder.iterdir()) == ["DejaVuSans-Bold.ttf", "DejaVuSans.ttf"]
    assert (folder / "DejaVuSans.ttf").read_bytes() == regular.read_bytes()
