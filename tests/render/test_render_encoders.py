"""Encoder probing with real test encodes; a fake ffmpeg only to make every encoder fail."""

from __future__ import annotations

import json
import os
import stat

import pytest

from storyreel.errors import MediaError
from storyreel.media import tools
from storyreel.render import encoders


@pytest.fixture()
def cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_probe_finds_libx264_and_caches_per_ffmpeg_binary(cache_home):
    usable = encoders.usable_encoders()
    assert "libx264" in usable
    assert usable == [e for e in encoders.ENCODER_ORDER if e in usable]  # best first
    data = json.loads((cache_home / "storyreel" / "encoders.json").read_text())
    key = next(iter(data))
    assert key.startswith(os.path.realpath(tools.ffmpeg()) + ":")
    assert data[key] == usable
    assert encoders.choose("auto") == usable[0]


def test_a_forced_encoder_is_used_without_probing(cache_home):
    assert encoders.choose("h264_qsv") == "h264_qsv"
    assert not (cache_home / "storyreel" / "encoders.json").exists()


@pytest.fixture()
def failing_ffmpeg(tmp_path, monkeypatch):
    """An ffmpeg that counts its calls and fails every test encode (no encoder works)."""
    script = tmp_path / "ffmpeg"
    calls = tmp_path / "calls"
    script.write_text(f"#!/bin/sh\necho x >> {calls}\necho 'Unknown encoder' >&2\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("FFMPEG", str(script))
    tools.forget()
    yield calls
    monkeypatch.delenv("FFMPEG")
    tools.forget()


def test_no_working_encoder_is_a_clear_error_and_probed_once(cache_home, failing_ffmpeg):
    with pytest.raises(MediaError, match="no H.264 encoder works on this machine"):
        encoders.choose("auto")
    assert len(failing_ffmpeg.read_text().splitlines()) == len(encoders.ENCODER_ORDER)
    with pytest.raises(MediaError):
        encoders.choose("auto")
    assert len(failing_ffmpeg.read_text().splitlines()) == len(encoders.ENCODER_ORDER)  # cached


def test_test_encode_argv_is_one_second_to_null():
    argv = encoders.test_encode_argv("h264_vaapi", "ffmpeg")
    assert "testsrc2=s=256x144:r=30:d=1" in argv
    assert argv[-3:] == ["-f", "null", "-"]
    assert argv.index("-vaapi_device") < argv.index("-i")
