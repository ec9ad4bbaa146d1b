"""The project's [captions] section: CaptionSettings read from storyreel.toml."""

from __future__ import annotations

import pytest

from storyreel.captions import CaptionPosition, CaptionSettings, CaptionStyle
from storyreel.config import CAPTION_HELP, Settings, load
from storyreel.errors import ConfigError


def test_captions_section_reads_styles_and_positions_as_text(tmp_path):
    toml = tmp_path / "storyreel.toml"
    toml.write_text('[captions]\nstyle = "words"\nposition = "top"\nsize = 0.05\n', encoding="utf-8")
    captions = load(toml).captions
    assert captions.style is CaptionStyle.WORDS and captions.position is CaptionPosition.TOP
    assert type(captions.resolved()) is CaptionSettings and captions.resolved().size == 0.05


def test_a_bad_caption_style_names_the_choices(tmp_path):
    toml = tmp_path / "storyreel.toml"
    toml.write_text('[captions]\nstyle = "word"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[captions\] style.*words, lines, karaoke"):
        load(toml)


def test_every_caption_setting_has_its_help_line():
    assert set(CAPTION_HELP) == set(CaptionSettings.model_fields)
    assert Settings().captions.enabled
