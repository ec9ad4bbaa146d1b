"""The sound's settings: defaults, bounds, their place in every task, the retired gains."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from storyreel.config import Settings, load
from storyreel.errors import ConfigError
from storyreel.taskmeta import RenderSpec


def test_defaults_are_the_platforms_loudness_with_ducking_on():
    render = Settings().render
    assert (render.loudness_lufs, render.loudness_true_peak) == (-14.0, -1.0)
    assert render.ducking is True and render.music_under_voice_lu == 12.0
    spec = RenderSpec.from_settings(render, "")
    assert spec.model_dump()["duck_release_ms"] == 250.0  # every task carries them


@pytest.mark.parametrize(("line", "named"), [
    ("loudness_lufs = -3.0", "[render] loudness_lufs = -3.0"),
    ("loudness_true_peak = 2.0", "[render] loudness_true_peak = 2.0"),
    ("duck_ratio = 30.0", "[render] duck_ratio = 30.0"),
    ("ducking = \"yes\"", "expected true or false"),
])
def test_a_bad_sound_setting_is_one_clear_message(tmp_path, line, named):
    path = tmp_path / "storyreel.toml"
    path.write_text(f"[render]\n{line}\n")
    with pytest.raises(ConfigError, match=None) as caught:
        load(path)
    assert named in str(caught.value)


def test_the_retired_gains_still_load_and_a_changed_one_is_named(tmp_path, caplog):
    path = tmp_path / "storyreel.toml"
    path.write_text("[render]\nmusic_volume = 0.25\nvoice_volume = 1.0\n")
    with caplog.at_level(logging.WARNING):
        assert load(path).render.loudness_lufs == -14.0
    assert not caplog.records
    path.write_text("[render]\nmusic_volume = 0.5\n")
    with caplog.at_level(logging.WARNING):
        settings = load(path)
    assert "music_volume" not in settings.render.model_dump()
    assert [r.getMessage() for r in caplog.records] == [
        "[render] music_volume is no longer used: the music sits music_under_voice_lu under the "
        "narration and every output is brought to loudness_lufs"]
    # A task planned by an earlier version still reads.
    assert RenderSpec.model_validate({"music_volume": 0.25, "voice_volume": 1.0}).ducking


def test_init_writes_the_sound_settings_and_not_the_retired_gains(tmp_path):
    root = tmp_path / "root"
    done = subprocess.run([sys.executable, "-m", "storyreel.cli", "init", str(root)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    text = (root / "storyreel.toml").read_text()
    assert "loudness_lufs = -14.0" in text and "duck_threshold = -24.0" in text
    assert "music_volume" not in text and "voice_volume" not in text
