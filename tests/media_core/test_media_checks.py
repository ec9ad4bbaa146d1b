"""The full decode check: damage anywhere in the video stream is found, in one ffmpeg run."""

from __future__ import annotations

from pathlib import Path

import pytest
from damaged import garble_middle

from storyreel.errors import MediaError
from storyreel.media import checks
from storyreel.media.probe import probe


def test_garbage_in_the_middle_fails_the_decode_while_both_ends_are_fine(media, tmp_path: Path):
    good = media.clip(seconds=4.0)
    bad = garble_middle(good, tmp_path / "bad.mp4")
    assert abs(probe(bad).duration - 4.0) < 0.1  # the headers alone look fine
    checks.check_decodes(good, 4.0)
    with pytest.raises(MediaError) as err:
        checks.check_decodes(bad, 4.0)
    assert err.value.verb == "decode" and err.value.returncode != 0
    assert err.value.stderr.strip()


def test_the_decode_is_one_ffmpeg_run_over_the_whole_stream_with_all_threads(monkeypatch, media):
    runs = []
    real = checks.runner.run

    def run(argv, **kw):
        runs.append((argv, kw))
        return real(argv, **kw)

    monkeypatch.setattr(checks.runner, "run", run)
    checks.check_decodes(media.clip(seconds=2.0), 2.0, stream="0:0")
    (argv, kw), = runs
    assert argv.count("-i") == 1 and "-ss" not in argv and "-t" not in argv and "-sseof" not in argv
    assert argv[argv.index("-threads") + 1] == "0" and argv.index("-threads") < argv.index("-i")
    assert "-xerror" in argv and argv[argv.index("-map") + 1] == "0:0"
    assert kw["timeout"] == checks.decode_timeout(2.0) > checks.DECODE_TIMEOUT


def _faststart_cut(media, tmp_path: Path) -> Path:
    import subprocess

    whole = tmp_path / "fs.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(media.clip(seconds=2.0)), "-c", "copy",
                    "-movflags", "+faststart", str(whole)], check=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 6 // 10])
    return cut


def test_the_probe_decodes_every_frame_in_the_same_ffprobe_run(monkeypatch, media):
    runs = []
    real = checks.runner.run

    def run(argv, **kw):
        runs.append(argv)
        return real(argv, **kw)

    monkeypatch.setattr(checks.runner, "run", run)
    decoded = checks.probe_decoding(media.clip(seconds=2.0, fps=25))
    (argv,) = runs
    assert Path(argv[0]).name == "ffprobe" and "-count_frames" in argv
    assert decoded.damage() is None and decoded.stderr == ""
    video = decoded.info.first_video
    assert video.frames_decoded == 50 and (video.width, video.height) == (160, 90)
    assert decoded.info.duration == pytest.approx(2.0, abs=0.1)
    assert decoded.info.audio == [] and decoded.info.streams == 2  # the picture alone is decoded


@pytest.mark.parametrize("damaged", ["middle", "cut"])
def test_the_decoding_probe_finds_damage_the_headers_hide(media, tmp_path: Path, damaged):
    good = media.clip(seconds=4.0)
    bad = garble_middle(good, tmp_path / "bad.mp4") if damaged == "middle" else _faststart_cut(media, tmp_path)
    assert probe(bad).duration > 1.5  # the headers alone look fine
    decoded = checks.probe_decoding(bad)
    assert decoded.info.first_video is not None
    damage = decoded.damage()
    assert damage is not None and damage.verb == "decode" and damage.stderr.strip()
    assert damage.reason.startswith(f"file:{bad}: not every frame decodes (")
    assert " @ 0x" not in damage.reason  # the decoder's name, not its address


def test_the_decoding_probe_counts_streams_it_does_not_list(media):
    decoded = checks.probe_decoding(media.tone(seconds=2.0))
    assert decoded.info.video == [] and decoded.info.streams == 1
    assert decoded.info.format_name == "mp3" and decoded.damage() is None
