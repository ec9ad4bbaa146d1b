"""The sound of a render with real ffmpeg: every output at the loudness target whatever the
narration's level, the music ducked under speech and back in pauses, the verify step."""

from __future__ import annotations

import pytest
from render_helpers import make_task
from sound_helpers import MUSIC_HZ, VOICE_HZ, band_level, bursts, format_tags, music_tone, voice_at

from storyreel.errors import RenderError
from storyreel.media.loudness import Level, measure_file
from storyreel.media.probe import probe
from storyreel.render import verify
from storyreel.render.job import check_output, render_task
from storyreel.taskmeta import RenderSpec, read

TARGET = -14.0


@pytest.fixture(scope="module")
def levelled(tmp_path_factory, media):
    """Renders of one narration at -30 and at -10 LUFS over the same music."""
    root = tmp_path_factory.mktemp("levelled")
    outputs = {}
    for lufs in (-30.0, -10.0):
        voice = voice_at(media.speech(), lufs, root / f"voice_{-lufs:g}.mp3")
        task = make_task(root / f"task{-lufs:g}", clips=[media.clip(seconds=2.0)],
                         music=media.tone(seconds=2.0), voice=voice, duration=probe(voice).duration)
        outputs[lufs] = (measure_file(voice), render_task(task, root / f"out{-lufs:g}" / "final.mp4"))
    return outputs


@pytest.mark.parametrize("lufs", [-30.0, -10.0])
def test_a_quiet_and_a_loud_narration_both_come_out_at_the_target(levelled, lufs):
    source, result = levelled[lufs]
    assert source.integrated == pytest.approx(lufs, abs=1.0)  # the narration really is that level
    out = measure_file(result.output)
    assert out.integrated == pytest.approx(TARGET, abs=1.0), out
    assert out.true_peak <= -1.0 + verify.TRUE_PEAK_TOLERANCE_DB
    # The render reports and records what it measured.
    assert result.loudness is not None and result.loudness.integrated == pytest.approx(out.integrated, abs=0.05)
    tags = format_tags(result.output)
    assert float(tags["loudness_integrated"]) == pytest.approx(out.integrated, abs=0.3)
    assert float(tags["loudness_true_peak"]) <= -1.0


@pytest.fixture(scope="module")
def ducked(tmp_path_factory):
    """Tone bursts (speech) at VOICE_HZ with a 2 s pause from 1.5 s, over a steady music tone."""
    root = tmp_path_factory.mktemp("ducked")
    voice = bursts(root / "bursts.mp3")
    music = music_tone(root / "music.mp3")
    from mediakit import clip
    video = clip(root / "clip.mp4", seconds=2.0, audio=False)
    outputs = {}
    for ducking in (True, False):
        task = make_task(root / f"task_{ducking}", clips=[video], music=music, voice=voice,
                         duration=probe(voice).duration, ducking=ducking)
        outputs[ducking] = render_task(task, root / f"out_{ducking}" / "final.mp4").output
    return outputs


def test_the_music_dips_under_speech_and_comes_back_in_the_pause(ducked):
    out = ducked[True]
    under_speech = band_level(out, 0.5, 0.8)
    in_pause = band_level(out, 2.6, 0.8)  # the pause runs 1.5-3.5 s
    assert in_pause - under_speech >= 10.0, (under_speech, in_pause)
    # The band really is the music's: the voice's own band is loud under speech.
    assert band_level(out, 0.5, 0.8, hz=VOICE_HZ) > under_speech + 10.0


def test_without_ducking_the_music_holds_its_level(ducked):
    out = ducked[False]
    assert abs(band_level(out, 0.5, 0.8) - band_level(out, 2.6, 0.8)) < 1.5
    assert band_level(out, 0.5, 0.8, hz=MUSIC_HZ) > band_level(ducked[True], 0.5, 0.8) + 8.0


def test_the_music_sits_its_setting_under_the_voice_in_a_pause(tmp_path, media):
    """Without ducking the music's band level follows music_under_voice_lu dB for dB."""
    voice = bursts(tmp_path / "bursts.mp3")
    music = music_tone(tmp_path / "music.mp3")
    levels = []
    for under in (6.0, 18.0):
        task = make_task(tmp_path / f"t{under:g}", clips=[media.clip(seconds=2.0, audio=False)],
                         music=music, voice=voice, duration=probe(voice).duration, ducking=False,
                         music_under_voice_lu=under)
        levels.append(band_level(render_task(task, tmp_path / f"o{under:g}.mp4").output, 2.0, 1.0))
    assert levels[0] - levels[1] == pytest.approx(12.0, abs=1.5), levels


def test_verify_rejects_an_output_far_off_the_target():
    spec = RenderSpec()
    assert verify.loudness_problems(Level(-14.4, -2.0), spec) == []
    assert verify.loudness_problems(Level(-22.0, -8.0), spec) == [
        "loudness is -22.0 LUFS, expected -14 ± 1"]
    assert "over the -1 dBTP ceiling" in verify.loudness_problems(Level(-14.0, 2.5), spec)[0]
    assert verify.loudness_problems(Level(-14.0, 0.7), spec) == []  # AAC overshoot of a limited mix
    assert verify.loudness_problems(Level(-70.0), spec) == ["the sound is silent"]


def test_the_output_check_refuses_a_render_far_off_the_target(tmp_path, media):
    """A real render made at -24 LUFS, checked as if its task asked for -14: refused."""
    voice = media.speech()
    task = make_task(tmp_path / "task", clips=[media.clip(seconds=2.0)], music=media.tone(seconds=2.0),
                     voice=voice, duration=probe(voice).duration, loudness_lufs=-24.0)
    out = render_task(task, tmp_path / "out" / "final.mp4").output
    meta = read(task)
    assert check_output(out, task, meta).integrated == pytest.approx(-24.0, abs=1.0)
    asked = meta.model_copy(update={"render": meta.render.model_copy(update={"loudness_lufs": TARGET})})
    with pytest.raises(RenderError, match=r"failed verification: loudness is -2[345]\.\d LUFS, expected -14"):
        check_output(out, task, asked)
