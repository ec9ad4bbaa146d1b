from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from storyreel import config
from storyreel.errors import ConfigError


def test_default_toml_round_trips_every_default():
    text = config.default_toml()
    parsed = config.Settings.model_validate(tomllib.loads(text))
    assert parsed == config.Settings()
    # Every field is documented by a comment line above it.
    assert text.count("\n# ") >= len(config.RenderSettings.model_fields)


def test_missing_file_gives_defaults(tmp_path: Path):
    assert config.load(tmp_path / "nope.toml").render.resolution == "3840x2160"


def test_values_are_read(tmp_path: Path):
    path = tmp_path / "storyreel.toml"
    path.write_text('[render]\nresolution = "1280x720"\nframe_rate = 25\n')
    settings = config.load(path)
    assert settings.render.size == (1280, 720)
    assert settings.render.frame_rate == 25


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[render]\nresolution = "big"\n', "render.resolution"),
        ('[render]\nresolution = "1281x720"\n', "even"),
        ("[ingest]\nstable_seconds = -1\n", "ingest.stable_seconds"),
        ("[render]\nnot_a_setting = 1\n", "render.not_a_setting"),
        ("[render\n", "cannot parse"),
    ],
)
def test_bad_settings_name_the_file_and_field(tmp_path: Path, text: str, needle: str):
    path = tmp_path / "storyreel.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        config.load(path)
    assert str(path) in str(err.value)
    assert needle in str(err.value)
