"""render_task with real ffmpeg: mixed clips, looping music, exact length, levels, logo, failures."""

from __future__ import annotations

import os
import threading

import pytest
from render_helpers import make_task, mean_volume, moov_before_mdat, pixel, voice_with_tail

from storyreel.errors import RenderError
from storyreel.media.loudness import measure_file
from storyreel.media.probe import probe
from storyreel.render.job import render_task

WIDTH, HEIGHT, FPS = 160, 90, 30


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, media):
    """One render of three unlike clips (4:3 without audio, 16:9 at 25 fps, SAR 4:3 at 30 fps),
    2 s of music under ~9 s of voice whose last 1.5 s are silent, and a red logo."""
    root = tmp_path_factory.mktemp("mixed")
    voice = voice_with_tail(media)
    duration = probe(voice).duration
    clips = [
        media.clip(width=120, height=90, fps=24, seconds=2.0, audio=False),
        media.clip(width=160, height=90, fps=25, seconds=2.0),
        media.clip(width=320, height=240, fps=30, seconds=2.0, sar="4/3", audio=False),
    ]
    task = make_task(root / "task", clips=clips, music=media.tone(seconds=2.0), voice=voice,
                     duration=duration, logo=media.logo(), order=[0, 1, 2, 0, 1, 2], fill="fit")
    seen = []
    result = render_task(task, root / "out" / "final.mp4", on_progress=seen.append)
    return result, duration, seen


def test_output_has_one_video_and_one_audio_stream_at_size_and_rate(mixed):
    result, duration, _ = mixed
    info = probe(result.output)
    assert len(info.video) == 1 and len(info.audio) == 1
    video, audio = info.video[0], info.audio[0]
    assert (video.codec, video.width, video.height, video.pix_fmt) == ("h264", WIDTH, HEIGHT, "yuv420p")
    assert video.fps == pytest.approx(FPS, abs=0.01)
    assert audio.codec == "aac"
    assert result.encoder == "libx264"
    assert moov_before_mdat(result.output)


def test_output_lasts_exactly_the_voice(mixed):
    result, duration, _ = mixed
    info = probe(result.output)
    frame = 1 / FPS
    assert abs(info.duration - duration) <= frame
    assert abs(info.video[0].duration - duration) <= frame
    assert abs(info.audio[0].duration - duration) <= frame
    assert result.media_seconds == pytest.approx(duration)


def test_music_shorter_than_voice_loops_to_the_end(mixed):
    result, duration, _ = mixed
    # The voice is silent for its last 1.5 s; only the (looped) music can be heard there.
    assert mean_volume(result.output, start=duration - 0.6, seconds=0.5) > -45.0


def test_logo_pixels_are_there(mixed):
    result, _, _ = mixed
    for at in (0.5, 3.0, 5.0):
        r, g, b = pixel(result.output, at, 20 + 16, 20 + 8, WIDTH)
        assert r > 180 and g < 80 and b < 80, (at, (r, g, b))


def test_narrow_clip_is_pillarboxed_not_stretched(mixed):
    result, _, _ = mixed
    # The 4:3 clip plays first: 120x90 centred in 160x90 leaves 20 px black bars.
    assert max(pixel(result.output, 0.5, 5, 60, WIDTH)) < 30
    assert max(pixel(result.output, 0.5, WIDTH - 5, 60, WIDTH)) < 30


def test_progress_is_reported_to_the_end(mixed):
    _, duration, seen = mixed
    assert seen, "no progress reported"
    assert seen[-1].percent == pytest.approx(100.0)
    assert all(p.total_seconds == pytest.approx(duration) for p in seen)


def test_voice_plays_at_full_volume(tmp_path, media):
    """A mono voice is copied to both sides at full level (ffmpeg's own upmix would lower it
    3 dB): with the loudness target at the voice's own stereo loudness, its level is kept."""
    voice = media.speech()
    duration = probe(voice).duration
    as_stereo = measure_file(voice).integrated  # metered as the same samples on two channels
    task = make_task(tmp_path / "task", clips=[media.clip(seconds=2.0)], music=media.silence(2.0),
                     voice=voice, duration=duration, loudness_lufs=round(as_stereo, 1))
    out = render_task(task, tmp_path / "final.mp4").output
    source = mean_volume(voice, seconds=duration - 0.2)
    rendered = mean_volume(out, seconds=duration - 0.2)
    assert abs(rendered - source) < 1.0, (source, rendered)


def corrupt_middle(path):
    """Overwrite the middle tenth of a file with noise: headers and both ends stay good."""
    data = bytearray(path.read_bytes())
    start = int(len(data) * 0.45)
    data[start:start + len(data) // 10] = os.urandom(len(data) // 10)
    path.write_bytes(bytes(data))


def test_clip_that_fails_to_decode_raises_with_stderr(tmp_path, media):
    voice = media.speech()
    task = make_task(tmp_path / "task", clips=[media.clip(seconds=4.0, audio=False)],
                     music=media.tone(seconds=2.0), voice=voice, duration=probe(voice).duration)
    corrupt_middle(task / "video_0001.mp4")
    probe(task / "video_0001.mp4")  # it still probes
    out = tmp_path / "out" / "final.mp4"
    with pytest.raises(RenderError) as caught:
        render_task(task, out)
    assert "ffmpeg exited with code" in caught.value.reason
    assert "video_0001.mp4" in caught.value.stderr
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


def test_the_clip_that_fails_to_decode_is_named(tmp_path, media):
    voice = media.speech()
    clips = [media.clip(seconds=1.0, audio=False), media.clip(seconds=4.0, audio=False)]
    task = make_task(tmp_path / "task", clips=clips, music=media.tone(seconds=2.0), voice=voice,
                     duration=probe(voice).duration)
    corrupt_middle(task / "video_0002.mp4")
    with pytest.raises(RenderError) as caught:
        render_task(task, tmp_path / "out" / "final.mp4")
    assert caught.value.bad_input == "video_0002.mp4"


def test_a_stderr_that_names_no_input_is_answered_by_decoding_each_clip(tmp_path, media):
    """ffmpeg 5 may stop on a decoder's error ("[h264 @ 0x…] Error splitting the input into NAL
    units") without naming the input: each clip is then decoded alone."""
    from storyreel.render import job
    from storyreel.render.graph import RenderInputs

    clips = [media.clip(seconds=1.0, audio=False), media.clip(seconds=4.0, audio=False)]
    task = make_task(tmp_path / "task", clips=clips, music=media.tone(seconds=2.0), voice=media.speech(),
                     duration=1.0)
    videos = [task / "video_0001.mp4", task / "video_0002.mp4", task / "video_0001.mp4"]
    inputs = RenderInputs(videos=videos, music=task / "music.mp3", voice=task / "voice.mp3", logo=None,
                          duration=1.0)
    argv = [arg for path in [*videos, inputs.music, inputs.voice] for arg in ("-i", f"file:{path}")]
    unnamed = "[h264 @ 0x55ab11eda880] Error splitting the input into NAL units.\nConversion failed!\n"
    assert job._bad_clip(unnamed, argv, inputs) is None  # every clip decodes: no clip to blame
    corrupt_middle(task / "video_0002.mp4")
    assert job._bad_clip(unnamed, argv, inputs) == "video_0002.mp4"
    assert job._bad_clip(f"file:{inputs.voice}: Invalid data found\n", argv, inputs) is None  # not a clip


def test_a_clip_gone_from_the_task_is_named(tmp_path, media):
    voice = media.speech()
    task = make_task(tmp_path / "task", clips=[media.clip(seconds=2.0), media.clip(seconds=2.0)],
                     music=media.tone(seconds=2.0), voice=voice, duration=probe(voice).duration)
    (task / "video_0002.mp4").unlink()
    with pytest.raises(RenderError, match="missing input files: video_0002.mp4") as caught:
        render_task(task, tmp_path / "final.mp4")
    assert caught.value.bad_input == "video_0002.mp4"


def test_cancel_stops_ffmpeg_and_leaves_nothing(tmp_path, media):
    voice = media.speech()
    task = make_task(tmp_path / "task", clips=[media.clip(seconds=2.0)], music=media.tone(seconds=2.0),
                     voice=voice, duration=probe(voice).duration)
    cancel = threading.Event()
    cancel.set()
    out = tmp_path / "out" / "final.mp4"
    with pytest.raises(RenderError, match="cancelled"):
        render_task(task, out, cancel=cancel)
    assert list(out.parent.iterdir()) == []


def test_missing_input_is_named(tmp_path, media):
    voice = media.speech()
    task = make_task(tmp_path / "task", clips=[media.clip(seconds=2.0)], music=media.tone(seconds=2.0),
                     voice=voice, duration=probe(voice).duration)
    (task / "music.mp3").unlink()
    with pytest.raises(RenderError, match="missing input files: music.mp3") as caught:
        render_task(task, tmp_path / "final.mp4")
    assert not (tmp_path / "final.mp4").exists()
    assert caught.value.bad_input is None  # the music is no clip: nothing to plan around


def test_existing_output_is_not_overwritten(tmp_path, media):
    voice = media.speech()
    task = make_task(tmp_path / "task", clips=[media.clip(seconds=2.0)], music=media.tone(seconds=2.0),
                     voice=voice, duration=probe(voice).duration)
    out = tmp_path / "final.mp4"
    out.write_bytes(b"earlier")
    with pytest.raises(RenderError, match="already exists"):
        render_task(task, out)
    assert out.read_bytes() == b"earlier"


def test_logo_width_scales_the_logo(tmp_path, media):
    voice = media.speech()
    task = make_task(tmp_path / "task", clips=[media.clip(seconds=2.0, source="color")],
                     music=media.tone(seconds=2.0), voice=voice, duration=probe(voice).duration,
                     logo=media.logo(), logo_x=10, logo_y=10, logo_width=64)
    out = render_task(task, tmp_path / "final.mp4").output
    inside = pixel(out, 0.5, 10 + 60, 10 + 28, WIDTH)  # only inside when scaled to 64x32
    assert inside[0] > 180 and inside[2] < 80, inside


def test_a_failing_ffmpeg_is_a_render_error(tmp_path, media, monkeypatch):
    """ffmpeg killed by the system (out of memory, say): a fake ffmpeg makes that happen."""
    from storyreel.media import tools

    voice = media.speech()
    task = make_task(tmp_path / "task", clips=[media.clip(seconds=2.0)], music=media.tone(seconds=2.0),
                     voice=voice, duration=probe(voice).duration)
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\necho 'Killed: out of memory' >&2\nkill -9 $$\n")
    fake.chmod(0o755)
    monkeypatch.setenv("FFMPEG", str(fake))
    tools.forget()
    try:
        with pytest.raises(RenderError) as caught:
            render_task(task, tmp_path / "out" / "final.mp4")
    finally:
        monkeypatch.delenv("FFMPEG")
        tools.forget()
    assert "out of memory" in caught.value.stderr
    assert caught.value.returncode == -9
    assert list((tmp_path / "out").iterdir()) == []


def test_non_square_pixels_and_phone_rotation_keep_the_picture_shape(tmp_path, media):
    wide_by_sar = media.clip(width=320, height=240, fps=30, seconds=2.0, sar="4/3", audio=False)
    portrait = media.clip(width=160, height=90, seconds=2.0, rotate=90)  # shown as 90x160
    task = make_task(tmp_path / "task", clips=[wide_by_sar, portrait], music=media.tone(seconds=2.0),
                     voice=media.tone(seconds=4.0, frequency=500), duration=4.0, fill="fit")
    out = render_task(task, tmp_path / "final.mp4").output
    # 320x240 at SAR 4:3 is 16:9 on screen: it fills the frame edge to edge.
    assert max(pixel(out, 0.5, 2, 45, WIDTH)) > 100
    assert max(pixel(out, 0.5, WIDTH - 3, 45, WIDTH)) > 100
    # The portrait phone clip stands upright: 50x90 in the middle, black on both sides.
    for x in (2, 30, 50, WIDTH - 3):
        assert max(pixel(out, 2.5, x, 45, WIDTH)) < 30, x
    assert max(pixel(out, 2.5, 80, 45, WIDTH)) > 100


def test_without_video_list_the_metadata_order_is_used(tmp_path, media):
    voice = media.speech()
    task = make_task(tmp_path / "task", clips=[media.clip(seconds=1.0), media.clip(seconds=1.5)],
                     music=media.tone(seconds=2.0), voice=voice, duration=probe(voice).duration)
    (task / "video_list.txt").unlink()
    out = render_task(task, tmp_path / "final.mp4").output
    assert abs(probe(out).duration - probe(voice).duration) <= 1 / 30


def test_a_video_list_naming_other_folders_is_refused(tmp_path, media):
    voice = media.speech()
    task = make_task(tmp_path / "task", clips=[media.clip(seconds=2.0)], music=media.tone(seconds=2.0),
                     voice=voice, duration=probe(voice).duration)
    (task / "video_list.txt").write_text("ffconcat version 1.0\nfile ../../etc/passwd\n")
    with pytest.raises(RenderError, match="not a file in the task folder"):
        render_task(task, tmp_path / "final.mp4")
