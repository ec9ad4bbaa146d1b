"""The sound's filters and gains as pure functions: balance, ducking, last gain, limiter, meters."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from storyreel.errors import MediaError
from storyreel.media.loudness import Level, parse_meters
from storyreel.render import audio
from storyreel.render.graph import RenderInputs
from storyreel.taskmeta import RenderSpec

T = Path("/t")
INPUTS = RenderInputs(videos=[T / "video_0001.mp4"], music=T / "music.mp3", voice=T / "voice.mp3",
                      logo=None, duration=12.5)
SPEC = RenderSpec()


PLAIN = audio.Mix()


def graph(spec: RenderSpec = SPEC, mix: audio.Mix = PLAIN) -> str:
    inputs = dataclasses.replace(INPUTS, sound=mix)
    return ";".join(audio.audio_graph(inputs, spec, music=1, voice=2))


def test_the_voice_is_levelled_to_the_target_and_the_music_set_under_it():
    mix = audio.balance(Level(-30.0), Level(-16.0), SPEC)
    assert mix.voice_db == pytest.approx(16.0)  # -30 → -14
    assert mix.music_db == pytest.approx(-10.0)  # -16 → -26: 12 LU under the voice
    loud = audio.balance(Level(-10.0), Level(-16.0), SPEC.model_copy(update={"music_under_voice_lu": 20.0}))
    assert (loud.voice_db, loud.music_db) == (pytest.approx(-4.0), pytest.approx(-18.0))


def test_silent_music_or_voice_is_left_as_it_is():
    mix = audio.balance(Level(-70.0), Level(-70.0), SPEC)
    assert (mix.voice_db, mix.music_db) == (0.0, 0.0)


def test_ducking_is_keyed_by_the_levelled_voice():
    text = graph(mix=audio.Mix(voice_db=16.0, music_db=-10.0))
    assert "[2:a]pan=stereo|c0=c0|c1=c0," in text and "volume=16dB,apad,asplit=2[vc][key]" in text
    assert "volume=-10dB[bg]" in text
    # -14 LUFS voice, threshold 24 dB under it: -38 dBFS.
    assert "[bg][key]sidechaincompress=threshold=0.012589:ratio=8:attack=20:release=250[under]" in text
    assert "[vc][under]amix=inputs=2:duration=first:dropout_transition=0:normalize=0" in text
    plain = graph(SPEC.model_copy(update={"ducking": False}))
    assert "sidechaincompress" not in plain and "asplit" not in plain
    assert "[vc][bg]amix=" in plain


def test_the_last_gain_reaches_the_target_and_a_limiter_only_where_the_peak_needs_it():
    # Samples under the limiter (-2 dBFS): it changed nothing; no limiter, the last gain only.
    quiet = audio.finish(audio.Mix(), Level(-15.2, sample_peak=-9.5), Level(-15.2, -9.0), SPEC)
    assert quiet.final_db == pytest.approx(1.2) and quiet.limit_db is None
    assert quiet.expected == Level(-14.0, pytest.approx(-7.8))
    assert "alimiter" not in graph(mix=quiet) and graph(mix=quiet).endswith("[mixed]volume=1.2dB[aout]")
    # Over the ceiling: the limiter (2 dB under it) first, then the gain the limited mix needs.
    hot = audio.finish(audio.Mix(), Level(-13.8, sample_peak=0.5), Level(-14.3, -1.8), SPEC)
    assert hot.final_db == pytest.approx(0.3) and hot.limit_db == pytest.approx(-2.0)
    assert "[mixed]alimiter=limit=0.794328:level=0:latency=1,volume=0.3dB[aout]" in graph(mix=hot)
    assert hot.tag_args() == ["-metadata", "loudness_integrated=-14.0", "-metadata", "loudness_true_peak=-1.5"]


def test_the_passes_read_the_music_looped_and_the_voice_for_its_length():
    first = audio.sources_argv(INPUTS)
    assert first[first.index("-stream_loop") + 3] == "file:/t/music.mp3"
    assert first[-8:] == ["-t", "12.5", "-f", "null", "-progress", "pipe:1", "-nostats", "-"]
    text = first[first.index("-filter_complex") + 1]
    assert text == ("[1:a]ebur128=framelog=verbose:dualmono=true[lv];"
                    "[0:a]atrim=duration=12.5,ebur128=framelog=verbose:dualmono=true[lm]")
    second = audio.mix_argv(INPUTS, SPEC, audio.Mix(voice_db=3.0))
    text = second[second.index("-filter_complex") + 1]
    assert "[mixed]asplit=2[plain][limited];[plain]ebur128=framelog=verbose:peak=sample[lx]" in text
    assert "[limited]alimiter=limit=0.794328:level=0:latency=1,ebur128=framelog=verbose:peak=true[ly]" in text
    assert second.count("-map") == 2


STDERR = """[Parsed_ebur128_2 @ 0x55] Summary:

  Integrated loudness:
    I:         -70.0 LUFS
    Threshold:   0.0 LUFS
[Parsed_ebur128_5 @ 0x56] Summary:

  Integrated loudness:
    I:         -70.0 LUFS
[Parsed_ebur128_5 @ 0x57] Summary:

  Integrated loudness:
    I:         -32.4 LUFS
    Threshold: -42.4 LUFS

  Sample peak:
    Peak:      -13.0 dBFS

  True peak:
    Peak:      -12.3 dBFS
[Parsed_ebur128_2 @ 0x58] Summary:

  Integrated loudness:
    I:         -47.0 LUFS
    Threshold: -57.1 LUFS
"""


def test_meters_are_read_in_graph_order_from_their_last_summary():
    assert parse_meters(STDERR, count=2) == [Level(-47.0), Level(-32.4, -12.3, -13.0)]
    with pytest.raises(MediaError, match="printed 0 ebur128 summaries, expected 1"):
        parse_meters("Conversion failed!")
    with pytest.raises(MediaError, match="printed 2 ebur128 summaries, expected 1"):
        parse_meters(STDERR)
