"""Every setting is checked when `main` or `run` starts: a bad value exits 2 with one
message naming the file, the setting, the value and what is allowed; never a traceback,
never a task that waits or fails at render time."""

from __future__ import annotations

from pathlib import Path

import pytest
from clikit import init_project, storyreel


@pytest.mark.parametrize(("toml", "needles"), [
    ('[render]\nencoder = "h265_turbo"\n',
     ['[render] encoder = \'h265_turbo\'', "expected auto or one of", "libx264"]),
    ('[render]\npreset = "ludicrous"\n', ["[render] preset = 'ludicrous'", "expected one of ultrafast"]),
    ('[render]\naudio_bitrate = "loud"\n', ['[render] audio_bitrate = "loud"', "like 192k"]),
    ('[render]\nframe_rate = "30"\n', ['[render] frame_rate = "30"', "write 30 without quotes"]),
    ('[ingest]\nstable_seconds = "3"\n', ['[ingest] stable_seconds = "3"', "not text"]),
    ('log_level = "LOUD"\n', ['log_level = "LOUD"', "expected DEBUG, INFO, WARN or ERROR"]),
    ('[render]\nencodr = "libx264"\n', ["[render] encodr", "is not a setting: did you mean encoder?"]),
    ('[rendr]\nencoder = "libx264"\n', ["rendr is not a setting: did you mean render?"]),
    ('[render]\nlogo = "brand/logo.png"\n', ["[render] logo = 'brand/logo.png'", "does not exist"]),
])
@pytest.mark.parametrize("command", ["main", "run"])
def test_a_bad_setting_stops_the_start_with_one_message(tmp_path: Path, command: str, toml: str,
                                                        needles: list[str]) -> None:
    root = init_project(tmp_path / "farm", toml)
    args = ["main", root, "--once"] if command == "main" else ["run", root, "--until-idle"]
    done = storyreel(*args)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    message = done.stderr.strip()
    assert message.startswith("storyreel: bad setting in ") and len(message.splitlines()) == 1
    assert str(root / "storyreel.toml") in message
    for needle in needles:
        assert needle in message


def test_a_logo_that_is_not_an_image_is_refused(tmp_path: Path) -> None:
    root = init_project(tmp_path / "farm", '[render]\nlogo = "logo.png"\n')
    (root / "logo.png").write_text("not a picture\n")
    done = storyreel("main", root, "--once")
    assert done.returncode == 2
    assert "[render] logo = 'logo.png'" in done.stderr and "is not an image" in done.stderr


def test_a_logo_that_is_an_image_passes(tmp_path: Path, media) -> None:
    root = init_project(tmp_path / "farm", '[render]\nlogo = "logo.png"\n')
    media.copy(media.logo(), root / "logo.png")
    done = storyreel("main", root, "--once")
    assert done.returncode == 0, done.stderr


def test_run_checks_its_encoder_override_instead_of_the_file(tmp_path: Path) -> None:
    root = init_project(tmp_path / "farm", '[render]\nencoder = "h265_turbo"\n')
    done = storyreel("run", root, "--until-idle", "--encoder", "libx264")
    assert done.returncode == 0, done.stderr
    bad = storyreel("run", init_project(tmp_path / "other"), "--until-idle", "--encoder", "x265_fast")
    assert bad.returncode == 2
    assert "storyreel: bad option: --encoder = 'x265_fast': expected auto or one of" in bad.stderr


def test_an_unreadable_toml_is_a_message(tmp_path: Path) -> None:
    root = init_project(tmp_path / "farm")
    (root / "storyreel.toml").write_bytes(b"log_level = \"\xff\"\n")
    done = storyreel("main", root, "--once")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"storyreel: cannot read {root / 'storyreel.toml'}" in done.stderr


def test_the_file_init_writes_passes_every_check(tmp_path: Path) -> None:
    done = storyreel("main", init_project(tmp_path / "farm"), "--once")
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
def test_run_with_an_encoder_override_renders_past_a_bad_file_encoder(project, media) -> None:
    """The case that once hung: a toml encoder this ffmpeg lacks is stored in every task;
    `run --encoder libx264` renders them and `--until-idle` exits with the video."""
    project.layout.config_file.write_text(
        '[ingest]\nstable_seconds = 0.0\nmin_music_seconds = 1.0\n\n'
        '[render]\nresolution = "160x90"\npreset = "ultrafast"\nencoder = "h265_turbo"\n')
    raw = project.layout.raw
    media.copy(media.speech(), raw / "story/fantasy/dragon_flight/voice/chapter_0001.mp3")
    media.copy(media.tone(seconds=2.0), raw / "music/fantasy/calm.mp3")
    media.copy(media.clip(seconds=2.0), raw / "video/fantasy/hills.mp4")
    assert storyreel("run", project.layout.root, "--until-idle").returncode == 2  # refused, not stuck
    done = storyreel("run", project.layout.root, "--until-idle", "--encoder", "libx264")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "[render] encoder = 'h265_turbo': expected auto or one of" in done.stderr
    assert "this run's tasks use --encoder libx264" in done.stderr
    assert len(list(project.layout.output.glob("*/final.mp4"))) == 1
