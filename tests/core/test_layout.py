from __future__ import annotations

import os
from pathlib import Path

import pytest

from storyreel.layout import (
    MAX_NAME_BYTES,
    NAME_MAX,
    REASON_SUFFIX,
    Layout,
    RawAsset,
    RawRejection,
    RawRole,
    TaskState,
    cut_to_bytes,
    fit_name,
    format_duration,
    is_ignored_name,
    name_problem,
    quoted,
    shown,
    storable,
)


@pytest.fixture()
def layout(tmp_path: Path) -> Layout:
    return Layout(tmp_path)


@pytest.mark.parametrize(
    ("rel", "role", "category", "story"),
    [
        ("video/action/abc.mp4", RawRole.VIDEO, "action", None),
        ("frame/action/abc.MP4", RawRole.FRAME, "action", None),
        ("music/calm/song.mp3", RawRole.MUSIC, "calm", None),
        ("story/fantasy/dragon_flight/voice/chapter_0001.mp3", RawRole.VOICE, "fantasy", "dragon_flight"),
        ("story/fantasy/dragon_flight/link/1234.txt", RawRole.LINK, "fantasy", "dragon_flight"),
    ],
)
def test_raw_places_are_recognised(layout: Layout, rel: str, role: RawRole, category: str, story: str | None):
    asset = layout.classify_raw(layout.raw / rel)
    assert isinstance(asset, RawAsset)
    assert (asset.role, asset.category, asset.story, asset.rel) == (role, category, story, Path(rel))


@pytest.mark.parametrize(
    ("rel", "why"),
    [
        ("video/action/abc.mov", "must be .mp4"),
        ("music/calm/song.wav", "must be .mp3"),
        ("video/abc.mp4", "unexpected place"),
        ("video/action/deeper/abc.mp4", "unexpected place"),
        ("story/fantasy/dragon/voice/intro.mp3", "chapter_NNNN.mp3"),
        ("story/fantasy/dragon/link/a.html", "must be .txt"),
        ("video/action/-rf.mp4", "starts with '-'"),
        ("video/action/a..b.mp4", "'..'"),
        ("video/act\nion/a.mp4", "control"),
        ("video/action/bell\x07.mp4", "control"),
        ("notes.txt", "unexpected place"),
    ],
)
def test_misplaced_or_hostile_files_are_rejected(layout: Layout, rel: str, why: str):
    result = layout.classify_raw(layout.raw / rel)
    assert isinstance(result, RawRejection)
    assert why in result.reason


def test_scanned_names_follow_spec(layout: Layout):
    clip = layout.scanned_clip("video", "action", 3840, 2160, 12.44, "abc")
    assert clip == layout.root / "scanned/video/action/mp4_w3840_h2160/12.4_abc.mp4"
    music = layout.scanned_music("calm", 187.06, "song")
    assert music == layout.root / "scanned/music/calm/mp3/187.1_song.mp3"
    assert layout.duration_from_scanned_name(music) == pytest.approx(187.1)
    assert layout.scanned_voice("fantasy", "dragon", "chapter_0001.mp3") == (
        layout.root / "scanned/story/fantasy/dragon/voice/chapter_0001.mp3"
    )
    assert layout.scanned_chunk("fantasy", "dragon", 2).name == "chunk_0002.txt"
    assert format_duration(0.04) == "0.0"


def test_a_story_folder_path_names_its_category_story_and_chapter(layout: Layout):
    voice = layout.scanned_voice("fantasy", "dragon", "chapter_0003.mp3")
    assert layout.story_of(voice) == ("fantasy", "dragon")
    assert layout.chapter_of(voice) == "scanned/story/fantasy/dragon/voice/chapter_0003.mp3"
    record = layout.link_record(layout.scanned_link_dir("fantasy", "dragon") / "links.txt")
    assert layout.story_of(record) == ("fantasy", "dragon")
    assert layout.link_of_record(record) == layout.scanned_link_dir("fantasy", "dragon") / "links.txt"
    with pytest.raises(ValueError):
        layout.story_of(layout.scanned_story("fantasy", "dragon"))
    with pytest.raises(ValueError):
        layout.story_of(layout.scanned_music("calm", 1.0, "song"))


def test_chunks_and_link_records_are_found_in_order(layout: Layout):
    assert layout.next_chunk_number("fantasy", "dragon") == 1
    for number in (2, 10):
        path = layout.scanned_chunk("fantasy", "dragon", number)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("words\n")
    assert layout.next_chunk_number("fantasy", "dragon") == 11
    records = [layout.link_record(layout.scanned_link_dir(c, "s") / "l.txt") for c in ("b", "a")]
    for record in records:
        record.parent.mkdir(parents=True)
        record.write_text("{}")
    (records[0].parent / "l.txt").write_text("http://x.example/\n")
    assert layout.link_records() == sorted(records)


def test_invalid_destination_keeps_raw_path(layout: Layout):
    raw = layout.raw / "video/action/abc.mp4"
    dest = layout.invalid_dest(raw)
    assert dest == layout.root / "trash/invalid/video/action/abc.mp4"
    assert layout.reason_file(dest).name == "abc.mp4.reason.json"


def test_task_states_map_to_folders(layout: Layout):
    task_id = "0b7e4f0e-9c1a-4c1e-8d0f-3f1f2a6b9c10"
    assert layout.task_dir(task_id) == layout.root / "tasks" / task_id
    assert layout.task_dir(task_id, TaskState.FAILED) == layout.root / "trash/failed" / task_id
    assert layout.output_file(task_id) == layout.root / "output" / task_id / "final.mp4"
    layout.task_dir(task_id, TaskState.PROCESSING).mkdir(parents=True)
    assert layout.find_task(task_id) == (TaskState.PROCESSING, layout.processing / task_id)
    assert layout.find_task("../etc") is None


def test_ignored_and_unsafe_names():
    for name in (".hidden.mp4", "clip.mp4.part", "a.tmp", "b.crdownload", ".storyreel-tmp-x"):
        assert is_ignored_name(name)
    assert not is_ignored_name("clip.mp4")
    assert name_problem("ok name (1).mp4") is None
    assert name_problem("x" * 300) is not None
    assert name_problem("bad\udcffname") is not None


@pytest.mark.parametrize("char", ["a", "é", "€", "😀"])
def test_fit_name_counts_bytes_and_keeps_long_names_apart(char: str):
    long_a, long_b = char * 300 + "a.mp4", char * 300 + "b.mp4"
    assert len(long_a) < 400  # characters; the bytes are what filesystems count
    for limit in (NAME_MAX, NAME_MAX - len(REASON_SUFFIX), 100):
        a, b = fit_name(long_a, limit), fit_name(long_b, limit)
        assert len(os.fsencode(a)) <= limit and len(os.fsencode(b)) <= limit
        assert a != b
        assert a.endswith(".mp4") and a.startswith(char)
    assert fit_name("short.mp4") == "short.mp4"
    assert cut_to_bytes(char * 10, 7) == char * (7 // len(char.encode()))


def test_names_not_utf8_are_shown_and_stored_escaped(layout: Layout):
    name = os.fsdecode(b"caf\xe9 \xff.mp4")
    assert shown(name) == "caf\\xe9 \\xff.mp4"
    assert quoted(name) == "'caf\\xe9 \\xff.mp4'"
    assert quoted("a\\" + name) == "'a\\\\caf\\xe9 \\xff.mp4'"
    assert storable(name) == "caf%E9 %FF.mp4"
    assert shown("café.mp4") == "café.mp4" and storable("café.mp4") == "café.mp4"
    raw = layout.raw / os.fsdecode(b"video/\xff/" + b"\xfe" * 250 + b".mp4")
    dest = layout.invalid_dest(raw)
    assert dest.parent == layout.invalid / "video/%FF"
    assert len(os.fsencode(layout.reason_file(dest).name)) <= NAME_MAX
    twin = layout.invalid_twin(dest, 12)
    assert twin != dest and len(os.fsencode(layout.reason_file(twin).name)) <= NAME_MAX


def test_a_240_byte_name_of_4_byte_characters_is_over_the_limit(layout: Layout):
    name = "😀" * 59 + ".mp4"
    assert len(name) < MAX_NAME_BYTES < len(os.fsencode(name)) == 240
    rejection = layout.classify_raw(layout.raw / "video/action" / name)
    assert isinstance(rejection, RawRejection)
    assert f"longer than {MAX_NAME_BYTES} bytes" in rejection.reason
