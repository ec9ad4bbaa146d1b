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
