"""`storyreel main` as a real process: a mixed drop of 50 assets, a SIGKILL mid-run,
missing tools and the low-disk warning."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ingest_helpers import drop, files_under, log_messages, reason_of

from storyreel.layout import TEMP_PREFIX, Layout
from storyreel.media.probe import probe
from storyreel.project import Project

STORYREEL = [sys.executable, "-m", "storyreel.cli"]
# Upper bound for one `main --once` over a tiny drop; typical runs take a few seconds.
RUN_LIMIT = 240.0


def run_main(root: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*STORYREEL, "main", str(root), *args], capture_output=True, text=True, timeout=RUN_LIMIT,
        env=env, stdin=subprocess.DEVNULL,
    )


def mixed_drop(project: Project, media) -> dict[str, str | None]:
    """50 assets; maps each raw path to where it must end (None: stays in raw/ or the crawler's)."""
    s = "scanned/"
    t = "trash/invalid/"
    expect: dict[str, str | None] = {}
    clip, short = media.clip(seconds=2.0), media.clip(seconds=1.0, width=96, height=64, audio=False)
    for i in range(9):
        cat = ("action", "nature")[i % 2]
        drop(project, f"video/{cat}/v{i:02d}.mp4", clip)
        expect[f"video/{cat}/v{i:02d}.mp4"] = f"{s}video/{cat}/mp4_w160_h90/2.0_v{i:02d}.mp4"
    for i in range(6):
        drop(project, f"frame/nature/f{i}.mp4", short)
        expect[f"frame/nature/f{i}.mp4"] = f"{s}frame/nature/mp4_w96_h64/1.0_f{i}.mp4"
    drop(project, "video/phone/rot.mp4", media.clip(seconds=1.0, rotate=90))
    expect["video/phone/rot.mp4"] = f"{s}video/phone/mp4_w90_h160/1.0_rot.mp4"
    tone = media.tone(seconds=6.0)
    for i in range(8):
        drop(project, f"music/calm/m{i}.mp3", tone)
        expect[f"music/calm/m{i}.mp3"] = f"{s}music/calm/mp3/6.0_m{i}.mp3"
    speech = media.speech()
    for i in range(1, 11):
        rel = f"story/fantasy/dragon/voice/chapter_{i:04d}.mp3"
        drop(project, rel, speech)
        expect[rel] = s + rel
    link = project.layout.raw / "story/fantasy/dragon/link/l1.txt"
    link.parent.mkdir(parents=True)
    # A loopback link: the crawler (when installed) refuses it at once, without a network.
    link.write_text("http://127.0.0.1:9/dragon\n")
    expect["story/fantasy/dragon/link/l1.txt"] = None
    bad = {
        "video/action/trunc.mp4": clip.read_bytes()[:5000],
        "video/action/zero.mp4": b"",
        "music/calm/wav.mp3": media.wav().read_bytes(),
        "story/fantasy/quiet/voice/chapter_0001.mp3": media.silence(2.0).read_bytes(),
        "video/action/-dash.mp4": clip.read_bytes(),
        "video/action/new\nline.mp4": clip.read_bytes(),
        "music/calm/esc\x1b[31m.mp3": tone.read_bytes(),
        "video/action/clip.avi": clip.read_bytes(),
        "music/calm/song.ogg": tone.read_bytes(),
        "video/loose.mp4": clip.read_bytes(),
        "readme.txt": b"hello",
        "music/calm/short.mp3": media.tone(seconds=2.0).read_bytes(),
        "story/fantasy/dragon/voice/prologue.mp3": speech.read_bytes(),
        "frame/nature/text.mp4": b"not a video at all",
    }
    for rel, data in bad.items():
        path = project.layout.raw / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        expect[rel] = t + rel
    # Two raw names with one scanned name: whichever is filed second is a duplicate.
    drop(project, "frame/nature/f0.MP4", short)
    expect["frame/nature/f0.MP4"] = None
    expect["frame/nature/f0.mp4"] = None
    assert len(expect) == 50
    return expect


def temp_files(project: Project) -> list[Path]:
    return [p for p in files_under(project.layout.root) if p.name.startswith(TEMP_PREFIX)]


def assert_nothing_lost(project: Project, rels: list[str]) -> None:
    """Each dropped file is in exactly one of raw/, scanned/, trash/ (temp copies aside)."""
    everything = [
        p for top in (project.layout.raw, project.layout.scanned, project.layout.trash)
        for p in files_under(top) if not p.name.endswith(".reason.json") and not p.name.startswith(TEMP_PREFIX)
    ]
    for rel in rels:
        stem = Path(rel).stem
        folder = Path(rel).parent.name if "voice" not in rel else Path(rel).parts[2]
        homes = [p for p in everything if (p.stem == stem or p.stem.endswith(f"_{stem}")
                                           or p.name == Path(rel).name)
                 and (folder in p.parts) and p.suffix.lower() == Path(rel).suffix.lower()]
        assert len(homes) == 1, (rel, homes)


@pytest.mark.slow
def test_main_once_files_a_mixed_drop_of_50_assets(project, media):
    expect = mixed_drop(project, media)
    done = run_main(project.layout.root, "--once")
    assert done.returncode == 0, done.stderr
    root = project.layout.root
    for rel, home in expect.items():
        if home is None:
            continue
        assert (root / home).is_file(), (rel, home, done.stderr[-3000:])
        assert not (project.layout.raw / rel).exists()
        if home.startswith("trash/"):
            assert reason_of(root / home)["reason"]
    assert (root / "scanned/frame/nature/mp4_w96_h64/1.0_f0.mp4").is_file()
    twins = files_under(project.layout.invalid / "frame/nature")
    assert [p.name for p in twins if p.name.lower() == "f0.mp4"] in (["f0.mp4"], ["f0.MP4"])
    assert [reason_of(p)["reason"] for p in twins if p.name.lower() == "f0.mp4"] == ["duplicate"]
    moved = [m for m in log_messages(project, "INFO") if m.startswith("Moved file ")]
    assert len(moved) == 34
    assert f"Moved file raw/video/action/v00.mp4 → {expect['video/action/v00.mp4']}" in moved
    assert len(log_messages(project, "WARN")) >= 15
    # stderr carries the same SPEC §9 lines as the log file
    assert '"Moved file raw/video/action/v00.mp4 → ' in done.stderr


def _normalising(project: Project) -> bool:
    return any(p.name.startswith(TEMP_PREFIX) for p in (project.layout.scanned / "music").rglob("*"))


def _moved_count(project: Project) -> int:
    log = project.layout.log_file
    if not log.exists():
        return 0
    return log.read_text(encoding="utf-8", errors="replace").count('"Moved file ')


@pytest.mark.slow
def test_main_worker_killed_mid_run_loses_nothing(project, media):
    rels = []
    clip, speech = media.clip(seconds=2.0), media.speech()
    # Longer music keeps a normalised copy half-written for long enough to be killed.
    tones = [media.tone(seconds=15.0), media.tone(seconds=6.0)]
    for i in range(4):
        rels.append(str(drop(project, f"music/calm/k{i}.mp3", tones[i % 2]).relative_to(project.layout.raw)))
        rels.append(str(drop(project, f"video/action/k{i}.mp4", clip).relative_to(project.layout.raw)))
        rels.append(str(drop(project, f"story/s/k{i}/voice/chapter_0001.mp3", speech)
                        .relative_to(project.layout.raw)))
    (project.layout.raw / "video/action/bad.mp4").write_bytes(b"\0" * 4096)
    rels.append("video/action/bad.mp4")
    # First kill while a normalised copy is being written (if we catch one), the
    # second a few moves into the restarted run.
    for more_moves, or_when in ((9, _normalising), (3, lambda _p: False)):
        kill_after = _moved_count(project) + more_moves
        argv = [*STORYREEL, "main", str(project.layout.root), "--listen", "127.0.0.1:0"]
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + RUN_LIMIT
            while (_moved_count(project) < kill_after and not or_when(project)
                   and files_under(project.layout.raw) and time.monotonic() < deadline):
                assert proc.poll() is None
                time.sleep(0.01)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        assert_nothing_lost(project, rels)
    done = run_main(project.layout.root, "--once")
    assert done.returncode == 0, done.stderr
    assert_nothing_lost(project, rels)
    assert temp_files(project) == []
    assert files_under(project.layout.raw) == []
    assert os.listdir(project.layout.journal) == []
    for path in files_under(project.layout.scanned):
        if path.name.startswith("."):  # a voice chapter's duration record, beside its voice
            assert Layout.voice_record(path.with_name(path.name[1:].removesuffix(".json"))) == path
            assert path.with_name(path.name[1:].removesuffix(".json")).is_file()
            continue
        info = probe(path)  # nothing truncated: every file probes and has its full length
        expected = {
            ".mp3": Layout.duration_from_scanned_name(path) if "music" in path.parts else probe(speech).duration,
            ".mp4": 2.0,
        }[path.suffix]
        assert abs(info.duration - expected) < 0.15, path
    assert reason_of(project.layout.invalid / "video/action/bad.mp4")["reason"]


def test_missing_ffprobe_is_a_clear_error_and_moves_nothing(project, media):
    raw = drop(project, "video/action/a.mp4", media.clip(seconds=1.0))
    env = {**os.environ, "FFPROBE": "/nonexistent/ffprobe"}
    done = run_main(project.layout.root, "--once", env=env)
    assert done.returncode == 2
    assert "FFPROBE=/nonexistent/ffprobe is not an executable program" in done.stderr
    assert raw.is_file()


def test_ffmpeg_not_on_path_gives_an_install_hint(project, media, tmp_path):
    raw = drop(project, "video/action/a.mp4", media.clip(seconds=1.0))
    env = {k: v for k, v in os.environ.items() if k not in ("FFMPEG", "FFPROBE")}
    env["PATH"] = str(tmp_path / "empty-bin")
    done = run_main(project.layout.root, "--once", env=env)
    assert done.returncode == 2
    assert "apt-get install ffmpeg" in done.stderr
    assert raw.is_file()


def test_low_disk_space_is_warned_once(project, media):
    cfg = project.layout.config_file
    cfg.write_text(cfg.read_text().replace("low_space_gb = 5.0", "low_space_gb = 1000000000.0"))
    drop(project, "video/action/a.mp4", media.clip(seconds=1.0))
    done = run_main(project.layout.root, "--once")
    assert done.returncode == 0, done.stderr
    warns = [m for m in log_messages(project, "WARN") if m.startswith("Low disk space: ")]
    assert len(warns) == 1
    assert warns[0].endswith("GB remaining")
    float(warns[0].removeprefix("Low disk space: ").removesuffix("GB remaining"))


def test_main_on_a_folder_that_is_not_a_project_says_what_to_do(tmp_path):
    done = run_main(tmp_path / "nowhere", "--once")
    assert done.returncode == 2
    assert "storyreel init" in done.stderr
