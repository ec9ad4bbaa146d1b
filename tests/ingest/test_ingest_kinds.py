"""Every row of the ingest table, and the files that must be rejected, with real ffmpeg."""

from __future__ import annotations

import os

import pytest
from ingest_helpers import drop, files_under, ingest_all, log_messages, reason_of

from storyreel.media.audio import measure_loudness
from storyreel.media.probe import probe


def test_video_clip_is_filed_under_size_and_duration(project, media):
    drop(project, "video/action/abc.mp4", media.clip(seconds=2.0))
    ingest_all(project)
    dst = project.layout.scanned / "video/action/mp4_w160_h90/2.0_abc.mp4"
    assert dst.is_file()
    assert not (project.layout.raw / "video/action/abc.mp4").exists()
    info = probe(dst)
    assert (info.first_video.width, info.first_video.height) == (160, 90)
    assert f"{info.duration:.1f}" == "2.0"
    assert "Moved file raw/video/action/abc.mp4 → scanned/video/action/mp4_w160_h90/2.0_abc.mp4" in log_messages(
        project, "INFO")


def test_frame_clip_is_filed(project, media):
    drop(project, "frame/nature/f1.mp4", media.clip(seconds=1.0, width=96, height=64, audio=False))
    ingest_all(project)
    assert (project.layout.scanned / "frame/nature/mp4_w96_h64/1.0_f1.mp4").is_file()


def test_rotated_phone_clip_uses_size_after_rotation(project, media):
    drop(project, "video/phone/portrait.mp4", media.clip(seconds=1.0, rotate=90))
    ingest_all(project)
    assert (project.layout.scanned / "video/phone/mp4_w90_h160/1.0_portrait.mp4").is_file()


@pytest.mark.parametrize("volume_db", [0.0, -25.0])
def test_music_is_normalised_to_target_loudness(project, media, volume_db):
    src = media.tone(seconds=6.0, volume_db=volume_db)
    drop(project, "music/calm/song.mp3", src)
    ingest_all(project)
    dst = project.layout.scanned / "music/calm/mp3/6.0_song.mp3"
    assert dst.is_file(), files_under(project.layout.root)
    assert not (project.layout.raw / "music/calm/song.mp3").exists()
    target = project.settings.ingest.loudness_lufs
    assert abs(measure_loudness(dst).integrated - target) <= 1.0
    assert abs(measure_loudness(src).integrated - target) > 1.0  # it really changed
    info = probe(dst)
    assert info.first_audio.codec == "mp3"
    assert abs(info.duration - 6.0) < 0.1
    assert not [p for p in files_under(project.layout.scanned) if p.name.startswith(".")]


def test_short_music_is_rejected(project, media):
    drop(project, "music/calm/jingle.mp3", media.tone(seconds=2.0))
    ingest_all(project)
    trashed = project.layout.invalid / "music/calm/jingle.mp3"
    assert trashed.is_file()
    assert "music too short" in reason_of(trashed)["reason"]


def test_voice_chapter_keeps_its_name(project, media):
    drop(project, "story/fantasy/dragon_flight/voice/chapter_0001.mp3", media.speech())
    ingest_all(project)
    dst = project.layout.scanned / "story/fantasy/dragon_flight/voice/chapter_0001.mp3"
    assert dst.is_file()
    assert probe(dst).first_audio.codec == "mp3"


def test_silent_voice_is_rejected(project, media):
    drop(project, "story/fantasy/quiet/voice/chapter_0001.mp3", media.silence(3.0))
    ingest_all(project)
    trashed = project.layout.invalid / "story/fantasy/quiet/voice/chapter_0001.mp3"
    assert trashed.is_file()
    assert reason_of(trashed)["reason"].startswith("silent")


def test_voice_with_too_little_speech_is_rejected(project, media):
    cfg = project.layout.config_file
    cfg.write_text(cfg.read_text().replace("min_voice_seconds = 1.0", "min_voice_seconds = 30.0"))
    from storyreel.project import Project

    project = Project.open(project.layout.root)
    drop(project, "story/fantasy/short/voice/chapter_0002.mp3", media.speech())
    ingest_all(project)
    trashed = project.layout.invalid / "story/fantasy/short/voice/chapter_0002.mp3"
    assert "too little speech" in reason_of(trashed)["reason"]


def test_story_link_goes_to_the_crawler_or_waits_in_raw(project):
    try:
        import storyreel.ingest.story  # noqa: F401
    except ImportError:
        crawler = False
    else:
        crawler = True
    link = project.layout.raw / "story/fantasy/dragon_flight/link/abc.txt"
    link.parent.mkdir(parents=True)
    link.write_text("http://127.0.0.1:9/story\n")  # refused by the crawler's safety rules
    ingest_all(project)  # returns only once the crawler is idle
    if crawler:
        assert not link.exists()
        assert (project.layout.invalid / "story/fantasy/dragon_flight/link/abc.txt").is_file()
    else:
        assert link.is_file()


def test_truncated_mp4_is_rejected_with_ffprobe_error(project, media):
    whole = media.clip(seconds=2.0).read_bytes()
    raw = project.layout.raw / "video/action/cut.mp4"
    raw.parent.mkdir(parents=True)
    raw.write_bytes(whole[: len(whole) * 2 // 3])
    ingest_all(project)
    trashed = project.layout.invalid / "video/action/cut.mp4"
    assert trashed.is_file()
    reason = reason_of(trashed)
    assert reason["file"] == "raw/video/action/cut.mp4"
    assert "moov atom not found" in reason["detail"]
    assert reason["rejected_at"].endswith("Z")


def test_truncated_faststart_mp4_fails_the_end_decode(project, media, tmp_path):
    import subprocess

    faststart = tmp_path / "fs.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(media.clip(seconds=2.0)), "-c", "copy",
                    "-movflags", "+faststart", str(faststart)], check=True)
    whole = faststart.read_bytes()
    raw = project.layout.raw / "video/action/half.mp4"
    raw.parent.mkdir(parents=True)
    raw.write_bytes(whole[: len(whole) * 6 // 10])
    assert probe(raw).duration > 1.5  # the headers alone look fine
    ingest_all(project)
    trashed = project.layout.invalid / "video/action/half.mp4"
    assert trashed.is_file()
    assert reason_of(trashed)["reason"].startswith("corrupt video")


def test_zero_byte_file_is_rejected(project):
    raw = project.layout.raw / "video/action/empty.mp4"
    raw.parent.mkdir(parents=True)
    raw.touch()
    ingest_all(project)
    assert reason_of(project.layout.invalid / "video/action/empty.mp4")["reason"] == "empty file (0 bytes)"


def test_wav_renamed_to_mp3_is_rejected(project, media):
    drop(project, "music/calm/fake.mp3", media.wav())
    drop(project, "story/fantasy/s/voice/chapter_0001.mp3", media.wav())
    ingest_all(project)
    for rel in ("music/calm/fake.mp3", "story/fantasy/s/voice/chapter_0001.mp3"):
        reason = reason_of(project.layout.invalid / rel)["reason"]
        assert reason.startswith("not MP3 audio") and "pcm_s16le" in reason


def test_audio_renamed_to_mp4_is_rejected(project, media):
    drop(project, "video/action/sound.mp4", media.tone(seconds=2.0))
    ingest_all(project)
    assert "not an MP4 file" in reason_of(project.layout.invalid / "video/action/sound.mp4")["reason"]


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("video/action/clip.mov", "must be .mp4"),
        ("video/clip.mp4", "unexpected place"),
        ("video/action/deeper/clip.mp4", "unexpected place"),
        ("notes.txt", "unexpected place"),
        ("music/calm/song.wav", "must be .mp3"),
        ("story/fantasy/s/voice/intro.mp3", "chapter_NNNN.mp3"),
        ("video/action/-rf.mp4", "starts with '-'"),
        ("video/action/two\nlines.mp4", "control"),
        ("video/action/up..sneaky.mp4", "'..'"),
        ("video/action/bell\x07.mp4", "control"),
        ("video/-evil/clip.mp4", "starts with '-'"),
    ],
)
def test_bad_places_and_hostile_names_go_to_trash(project, media, rel, expected):
    raw = drop(project, rel, media.clip(seconds=1.0))
    ingest_all(project)
    assert not raw.exists()
    trashed = project.layout.invalid / rel
    assert trashed.is_file()
    assert expected in reason_of(trashed)["reason"]
    warns = log_messages(project, "WARN")  # every line parses, newline or not
    assert any(m.startswith(f"Rejected raw/{rel} → trash/invalid/{rel}") for m in warns)


def test_symlink_is_rejected_not_followed(project, media, tmp_path):
    target = media.copy(media.clip(seconds=1.0), tmp_path / "outside.mp4")
    link = project.layout.raw / "video/action/link.mp4"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    ingest_all(project)
    trashed = project.layout.invalid / "video/action/link.mp4"
    assert trashed.is_symlink()
    assert target.is_file()
    assert "symbolic link" in reason_of(trashed)["reason"]


def test_duplicate_is_trashed_not_overwritten(project, media):
    clip = media.clip(seconds=2.0)
    drop(project, "video/action/same.mp4", clip)
    ingest_all(project)
    dst = project.layout.scanned / "video/action/mp4_w160_h90/2.0_same.mp4"
    before = dst.stat()
    drop(project, "video/action/same.mp4", clip)
    drop(project, "music/calm/tune.mp3", media.tone(seconds=6.0))
    ingest_all(project)
    drop(project, "music/calm/tune.mp3", media.tone(seconds=6.0))
    ingest_all(project)
    assert dst.stat().st_ino == before.st_ino
    reason = reason_of(project.layout.invalid / "video/action/same.mp4")
    assert reason["reason"] == "duplicate"
    assert reason["duplicate_of"] == "scanned/video/action/mp4_w160_h90/2.0_same.mp4"
    assert reason_of(project.layout.invalid / "music/calm/tune.mp3")["reason"] == "duplicate"


def test_rejecting_twice_keeps_both_files(project, media):
    for _ in range(2):
        raw = project.layout.raw / "video/action/empty.mp4"
        raw.parent.mkdir(parents=True, exist_ok=True)
        raw.touch()
        ingest_all(project)
    names = sorted(p.name for p in (project.layout.invalid / "video/action").iterdir())
    assert names == ["empty.1.mp4", "empty.1.mp4.reason.json", "empty.mp4", "empty.mp4.reason.json"]


def test_events_record_ingested_and_rejected(project, media):
    from storyreel.logs import read_events

    drop(project, "video/action/ok.mp4", media.clip(seconds=1.0))
    drop(project, "video/action/bad.mkv", media.clip(seconds=1.0))
    ingest_all(project)
    events = {e["event"]: e for e in read_events(project.layout.events_file)}
    assert events["ingested"]["dest"] == "scanned/video/action/mp4_w160_h90/1.0_ok.mp4"
    assert events["rejected"]["dest"] == "trash/invalid/video/action/bad.mkv"
    assert os.listdir(project.layout.journal) == []


def test_overlong_name_is_trashed_under_a_shorter_name(project, media):
    name = "x" * 245 + ".mp4"
    drop(project, f"video/action/{name}", media.clip(seconds=1.0))
    ingest_all(project)
    assert files_under(project.layout.raw) == []
    (trashed,) = [p for p in files_under(project.layout.invalid) if p.suffix == ".mp4"]
    reason = reason_of(trashed)
    assert reason["file"] == f"raw/video/action/{name}"
    assert "longer than" in reason["reason"]
