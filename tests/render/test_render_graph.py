"""The argv and filter graph as a pure function, per encoder; progress and verification parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from storyreel.errors import ConfigError
from storyreel.media.probe import AudioStream, MediaInfo, VideoStream
from storyreel.render import encoders
from storyreel.render.graph import RenderInputs, build_argv, filter_graph
from storyreel.render.progress import Progress, ProgressReader
from storyreel.render.verify import problems
from storyreel.taskmeta import RenderSpec

T = Path("/t")
INPUTS = RenderInputs(videos=[T / "video_0001.mp4", T / "video_0002.mp4", T / "video_0001.mp4"],
                      music=T / "music.mp3", voice=T / "voice.mp3", logo=T / "logo.png", duration=12.5)
# The fit fill (black bars) is the chain these tests read; the other fills: test_picture_graph.py.
SPEC = RenderSpec(resolution="1920x1080", frame_rate=30, logo="logo.png", preset="fast", quality=20,
                  fill="fit")


def argv_for(name: str, inputs: RenderInputs = INPUTS, spec: RenderSpec = SPEC) -> list[str]:
    return build_argv(inputs, spec, encoders.setup(name, spec.preset, spec.quality), T / "out.mp4")


def after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_every_clip_is_its_own_input_and_music_loops():
    argv = argv_for("libx264")
    inputs = [argv[i + 1] for i, a in enumerate(argv) if a == "-i"]
    assert inputs == ["file:/t/video_0001.mp4", "file:/t/video_0002.mp4", "file:/t/video_0001.mp4",
                      "file:/t/music.mp3", "file:/t/voice.mp3", "file:/t/logo.png"]
    music = argv.index("file:/t/music.mp3")
    assert argv[music - 3:music] == ["-stream_loop", "-1", "-i"]
    assert argv.count("-stream_loop") == 1
    assert "-safe" not in argv  # no concat demuxer with unsafe paths


def test_each_clip_gets_fps_square_pixels_fit_and_pad():
    graph = filter_graph(INPUTS, SPEC, encoders.setup("libx264"))
    for i in range(3):
        chain = graph.split(f"[{i}:v]", 1)[1].split(f"[c{i}]", 1)[0]
        assert "fps=30" in chain
        assert "scale=trunc(iw*sar/2)*2:ih,setsar=1" in chain
        assert "scale=1920:1080:force_original_aspect_ratio=decrease" in chain
        assert "flags=fast_bilinear" in chain
        assert "pad=1920:1080:(ow-iw)/2:(oh-ih)/2:color=black,setsar=1" in chain
    assert "[c0][c1][c2]concat=n=3:v=1:a=0" in graph


def test_length_is_the_voice_and_the_voice_is_not_attenuated():
    graph = filter_graph(INPUTS, SPEC, encoders.setup("libx264"))
    assert "trim=duration=12.5" in graph and "atrim=duration=12.5" in graph
    assert "tpad=stop_mode=clone" in graph  # video never ends before the voice
    assert "apad" in graph  # audio never ends before the voice
    assert "amix=inputs=2:duration=first:dropout_transition=0:normalize=0" in graph
    assert "[4:a]pan=stereo|c0=c0|c1=c0," in graph  # mono voice copied to both sides
    assert "volume=0dB,apad" in graph  # the default Mix: the voice at its own level
    assert "[5:v]format=rgba[logo]" in graph and "overlay=20:20" in graph


def test_output_options():
    argv = argv_for("libx264")
    assert after(argv, "-t") == "12.5"
    assert after(argv, "-movflags") == "+faststart+use_metadata_tags"
    assert after(argv, "-c:a") == "aac" and after(argv, "-b:a") == "192k"
    assert after(argv, "-progress") == "pipe:1" and "-nostats" in argv and "-xerror" in argv
    assert argv[-1] == "file:/t/out.mp4"
    assert "format=yuv420p[vout]" in after(argv, "-filter_complex")


def test_no_logo_means_no_logo_input():
    inputs = RenderInputs(videos=[T / "video_0001.mp4"], music=T / "music.mp3", voice=T / "voice.mp3",
                          logo=None, duration=3, voice_channels=2)
    argv = argv_for("libx264", inputs, RenderSpec(resolution="320x180", fill="fit"))
    assert "file:/t/logo.png" not in argv
    graph = after(argv, "-filter_complex")
    assert "overlay" not in graph and "pan=" not in graph
    assert "[base]trim=duration=3,format=yuv420p[vout]" in graph


def test_logo_width_scales_the_logo():
    spec = RenderSpec(resolution="1920x1080", logo="logo.png", logo_width=200, logo_x=5, logo_y=7)
    graph = filter_graph(INPUTS, spec, encoders.setup("libx264"))
    assert "[5:v]format=rgba,scale=200:-2[logo]" in graph and "overlay=5:7" in graph


def test_libx264_options():
    argv = argv_for("libx264")
    assert after(argv, "-c:v") == "libx264" and after(argv, "-preset") == "fast"
    assert after(argv, "-crf") == "20"


def test_nvenc_decodes_and_scales_on_the_gpu():
    argv = argv_for("h264_nvenc")
    assert after(argv, "-c:v") == "h264_nvenc" and after(argv, "-preset") == "p4"
    assert after(argv, "-cq") == "20" and after(argv, "-rc") == "vbr"
    clip = argv.index("file:/t/video_0002.mp4")
    assert argv[clip - 5:clip - 1] == ["-hwaccel", "cuda", "-hwaccel_output_format", "cuda"]
    music = argv.index("file:/t/music.mp3")
    assert "-hwaccel" not in argv[music - 4:music]
    graph = after(argv, "-filter_complex")
    assert "scale_cuda=1920:1080:force_original_aspect_ratio=decrease" in graph
    assert "hwdownload,format=nv12,pad=" in graph


def test_qsv_options():
    argv = argv_for("h264_qsv", spec=RenderSpec(resolution="1920x1080", preset="ultrafast", quality=25))
    assert after(argv, "-c:v") == "h264_qsv" and after(argv, "-preset") == "veryfast"
    assert after(argv, "-global_quality") == "25"
    assert "format=nv12[vout]" in after(argv, "-filter_complex")


def test_videotoolbox_options():
    argv = argv_for("h264_videotoolbox", spec=RenderSpec(preset="veryfast", quality=23))
    assert after(argv, "-c:v") == "h264_videotoolbox"
    assert 1 <= int(after(argv, "-q:v")) <= 100 and after(argv, "-realtime") == "1"
    assert "-realtime" not in argv_for("h264_videotoolbox", spec=RenderSpec(preset="slow"))


def test_vaapi_opens_the_device_first_and_uploads():
    argv = argv_for("h264_vaapi")
    assert argv.index("-vaapi_device") < argv.index("-i")
    assert after(argv, "-vaapi_device") == encoders.VAAPI_DEVICE
    assert after(argv, "-c:v") == "h264_vaapi" and after(argv, "-qp") == "20"
    assert "format=nv12,hwupload[vout]" in after(argv, "-filter_complex")


def test_unknown_encoder_and_preset_are_config_errors():
    with pytest.raises(ConfigError, match="unknown encoder"):
        encoders.setup("h265_magic")
    with pytest.raises(ConfigError, match="unknown preset"):
        encoders.setup("libx264", "warp")


def test_progress_reader_makes_percent_speed_and_eta():
    reader = ProgressReader(10.0)
    assert reader.feed("out_time_us=N/A") is None
    assert reader.feed("frame=1") is None
    first = reader.feed("progress=continue")
    assert first == Progress(0.0, 10.0, None) and first.eta_seconds is None
    reader.feed("out_time_us=2500000")
    reader.feed("speed=2.5x")
    p = reader.feed("progress=continue")
    assert p.percent == pytest.approx(25.0) and p.speed == 2.5 and p.eta_seconds == pytest.approx(3.0)
    assert reader.feed("progress=end").percent == 100.0


def _info(width=160, height=90, fps=30.0, duration=5.0, audio=1, video=1):
    return MediaInfo(
        path=T / "x.mp4", format_name="mov,mp4", duration=duration, size=1,
        video=[VideoStream(0, "h264", width, height, fps=fps, duration=duration)] * video,
        audio=[AudioStream(1, "aac", 48000, 2, duration=duration)] * audio,
    )


def test_verification_names_each_problem():
    spec = RenderSpec(resolution="160x90", frame_rate=30)
    assert problems(_info(), spec, 5.0) == []
    assert problems(_info(duration=5.03), spec, 5.0) == []  # within one frame
    assert "video is 320x180, expected 160x90" in problems(_info(320, 180), spec, 5.0)
    assert any("fps" in p for p in problems(_info(fps=25.0), spec, 5.0))
    assert "expected 1 audio stream, found 0" in problems(_info(audio=0), spec, 5.0)
    assert any("lasts 4.900 s" in p for p in problems(_info(duration=4.9), spec, 5.0))


def test_percent_is_exactly_100_at_the_end():
    assert Progress(23.666939, 23.666939, 4.8).percent == 100.0
    assert Progress(30.0, 23.666939, None).percent == 100.0


def test_nvenc_without_hw_decode_scales_on_the_cpu():
    enc = encoders.setup("h264_nvenc", "medium", 23, hw_decode=False)
    argv = build_argv(INPUTS, SPEC, enc, T / "out.mp4")
    assert "-hwaccel" not in argv and after(argv, "-c:v") == "h264_nvenc"
    graph = after(argv, "-filter_complex")
    assert "scale_cuda" not in graph and "scale=1920:1080:force_original_aspect_ratio=decrease" in graph
