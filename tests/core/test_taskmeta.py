"""metadata.json's render block is the project's render settings, resolved, with the same bounds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from storyreel.config import RenderSettings
from storyreel.errors import TaskMetaError
from storyreel.taskmeta import RenderSpec, TaskMeta, read, write


def meta(render: RenderSpec) -> TaskMeta:
    return TaskMeta(
        task_id="0b7e4f0e-9c1a-4c1e-8d0f-3f1f2a6b9c10", category="fantasy", story_name="dragon",
        voice_file="voice.mp3", voice_duration=12.5, music_file="music.mp3",
        video_files=["video_0001.mp4"], render=render,
    )


def test_a_task_carries_every_render_setting_with_the_logo_as_its_own_copy():
    settings = RenderSettings(resolution="1280x720", logo="brand/logo.png", quality=30, music_under_voice_lu=18.0)
    spec = RenderSpec.from_settings(settings, "logo.png")
    assert spec.model_dump() == {**settings.model_dump(), "logo": "logo.png"}
    assert spec.size == (1280, 720)


def test_metadata_starts_with_spec_fields_and_round_trips(tmp_path: Path):
    written = meta(RenderSpec(resolution="1920x1080", logo="logo.png"))
    write(tmp_path, written)
    render = json.loads((tmp_path / "metadata.json").read_text())["render"]
    assert list(render)[:4] == ["resolution", "frame_rate", "logo", "output_format"]
    assert set(render) == set(RenderSettings.model_fields)
    assert read(tmp_path) == written


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("loudness_lufs", -50.0),
        ("duck_ratio", 0.5),
        ("output_format", "mkv"),
        ("resolution", "1281x720"),
        ("frame_rate", 0),
        ("quality", 52),
        ("logo", "../logo.png"),
    ],
)
def test_a_task_is_held_to_the_settings_bounds(tmp_path: Path, field: str, value: object):
    with pytest.raises(ValidationError):
        RenderSpec.model_validate({field: value})
    data = json.loads(meta(RenderSpec()).model_dump_json())
    data["render"][field] = value
    (tmp_path / "metadata.json").write_text(json.dumps(data))
    with pytest.raises(TaskMetaError, match=f"render.{field}"):
        read(tmp_path)


def test_render_keys_of_a_newer_planner_are_ignored_and_the_block_is_frozen():
    spec = RenderSpec.model_validate({"resolution": "640x360", "captions": True})
    assert spec.resolution == "640x360" and not hasattr(spec, "captions")
    with pytest.raises(ValidationError):
        spec.quality = 10  # type: ignore[misc]
