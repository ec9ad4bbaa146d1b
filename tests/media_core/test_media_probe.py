from __future__ import annotations

from pathlib import Path

import pytest

from storyreel.errors import MediaError, ToolMissingError
from storyreel.media import tools
from storyreel.media.probe import parse, probe


def test_probe_reads_video_and_audio(media):
    info = probe(media.clip(width=160, height=90, seconds=2, fps=25))
    assert info.first_video is not None and info.first_audio is not None
    assert (info.first_video.width, info.first_video.height) == (160, 90)
    assert info.first_video.fps == pytest.approx(25)
    assert info.duration == pytest.approx(2.0, abs=0.1)


def test_rotated_clip_reports_display_size(media):
    info = probe(media.clip(width=160, height=90, seconds=1, audio=False, rotate=90))
    assert abs(info.first_video.rotation) == 90
    assert info.first_video.display_size == (90, 160)


def test_hostile_names_are_passed_as_files(tmp_path: Path, media):
    odd = tmp_path / "-a:b.mp4"
    media.copy(media.clip(seconds=1, audio=False), odd)
    assert probe(odd).first_video is not None


def test_unreadable_file_raises_with_ffprobe_reason(tmp_path: Path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 10)
    with pytest.raises(MediaError) as err:
        probe(junk)
    assert str(junk) in str(err.value)
    assert "cannot probe" in str(err.value)


def test_parse_handles_missing_fields_and_cover_art():
    info = parse(
        {
            "format": {"format_name": "mp3"},
            "streams": [
                {"index": 0, "codec_type": "audio", "codec_name": "mp3", "duration": "3.5"},
                {"index": 1, "codec_type": "video", "codec_name": "png", "width": 10, "height": 10,
                 "disposition": {"attached_pic": 1}},
            ],
        },
        "x.mp3",
    )
    assert info.video == [] and info.duration == 3.5 and info.first_audio.codec == "mp3"


def test_missing_ffmpeg_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("FFPROBE", "/nonexistent/ffprobe")
    tools.forget()
    try:
        with pytest.raises(ToolMissingError) as err:
            tools.ffprobe()
        assert "FFPROBE=/nonexistent/ffprobe" in str(err.value)
        monkeypatch.delenv("FFPROBE")
        monkeypatch.setenv("PATH", "/nonexistent")
        tools.forget()
        with pytest.raises(ToolMissingError) as err:
            tools.ffprobe()
        assert "apt-get install ffmpeg" in str(err.value)
    finally:
        tools.forget()
