"""The picture's filter text: fill modes (CPU and GPU), fades, the frame layer, the title
card, thumbnail sizes and the settings that choose them (pure: no ffmpeg runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from storyreel.config import load
from storyreel.errors import ConfigError
from storyreel.render import encoders
from storyreel.render.fill import ClipShape, clip_chain
from storyreel.render.graph import RenderInputs, build_argv, filter_graph
from storyreel.render.picture import PictureInputs, fade_lengths, title_card
from storyreel.render.thumbnail import chapter_label, thumbnail_argv, thumbnail_size
from storyreel.taskmeta import RenderSpec, TaskMeta, story_title

T = Path("/t")
CPU = encoders.setup("libx264")
GPU = encoders.setup("h264_nvenc")


def spec(**changes) -> RenderSpec:
    return RenderSpec(**{"resolution": "1920x1080", "frame_rate": 30, **changes})


def inputs(count: int = 2, **picture) -> RenderInputs:
    return RenderInputs(videos=[T / f"video_{i:04d}.mp4" for i in range(1, count + 1)],
                        music=T / "music.mp3", voice=T / "voice.mp3", logo=None, duration=6.0,
                        picture=PictureInputs(**picture))


def test_fit_pads_crop_covers_and_crops():
    fit = clip_chain(0, spec(fill="fit"), CPU)
    assert "force_original_aspect_ratio=decrease" in fit and "pad=1920:1080" in fit
    crop = clip_chain(0, spec(fill="crop"), CPU)
    assert "scale=1920:1080:force_original_aspect_ratio=increase:force_divisible_by=2" in crop
    assert "crop=1920:1080" in crop and "pad=" not in crop and crop.endswith("[c0]")


def test_blur_lays_the_fitted_clip_over_a_small_blurred_darkened_copy():
    chain = clip_chain(3, spec(fill="blur"), CPU)
    head, background, over = chain.split(";")
    assert head.startswith("[3:v]") and "force_original_aspect_ratio=decrease" in head
    assert head.endswith("split[fit3][copy3]")
    # Blurred at a quarter of the output size, then scaled up behind the clip.
    assert "scale=480:270:force_original_aspect_ratio=increase" in background
    assert "crop=480:270" in background and "boxblur=" in background and "eq=brightness=-" in background
    assert background.endswith("scale=1920:1080:flags=fast_bilinear,setsar=1[blur3]")
    assert over.startswith("[blur3][fit3]overlay=(W-w)/2:(H-h)/2") and over.endswith("[c3]")


def test_blur_skips_the_background_for_a_clip_of_the_output_shape():
    same = clip_chain(0, spec(fill="blur"), CPU, ClipShape(3840, 2160, 4.0))
    assert "boxblur" not in same and "crop=1920:1080" in same
    portrait = clip_chain(0, spec(fill="blur"), CPU, ClipShape(1080, 1920, 4.0))
    assert "boxblur" in portrait


@pytest.mark.parametrize("fill", ["fit", "crop", "blur"])
def test_gpu_scales_on_the_gpu_and_fills_after_the_download(fill):
    chain = clip_chain(0, spec(fill=fill), GPU)
    aspect = "increase" if fill == "crop" else "decrease"
    assert f"scale_cuda=1920:1080:force_original_aspect_ratio={aspect}" in chain
    download = chain.index("hwdownload,format=nv12")
    assert chain.index("scale_cuda") < download
    for cpu_filter in ("pad=", "crop=", "boxblur", "overlay"):
        if cpu_filter in chain:
            assert chain.index(cpu_filter) > download, cpu_filter
    assert "scale=trunc(iw*sar" not in chain


def test_nvenc_argv_keeps_hw_decoding_of_clips_only():
    argv = build_argv(inputs(2, frame=T / "frame.mp4"), spec(fill="blur"), GPU, T / "out.mp4")
    frame = argv.index("file:/t/frame.mp4")
    assert argv[frame - 3:frame] == ["-stream_loop", "-1", "-i"]  # CPU-decoded, looping
    clip = argv.index("file:/t/video_0001.mp4")
    assert argv[clip - 5:clip - 1] == ["-hwaccel", "cuda", "-hwaccel_output_format", "cuda"]


def test_fade_cuts_each_clip_to_its_length_and_starts_each_fade_on_time():
    shapes = [ClipShape(1920, 1080, 2.0), ClipShape(1920, 1080, 3.0), ClipShape(1920, 1080, 2.0)]
    graph = filter_graph(inputs(3, shapes=shapes), spec(transition="fade", transition_seconds=0.5), CPU)
    assert "[c1]tpad=stop_mode=clone:stop_duration=3,trim=duration=3[s1]" in graph
    assert "[s0][s1]xfade=transition=fade:duration=0.5:offset=1.5[x1]" in graph
    assert "[x1][s2]xfade=transition=fade:duration=0.5:offset=4[x2]" in graph
    assert "[x2]tpad=stop_mode=clone:stop=-1[base]" in graph and "concat" not in graph


def test_fades_never_overlap_and_unknown_lengths_cut():
    assert fade_lengths([ClipShape(seconds=0.6), ClipShape(seconds=4.0)], 1.0) == [0.3]
    assert fade_lengths([ClipShape(seconds=2.0), ClipShape()], 0.5) is None
    graph = filter_graph(inputs(2, shapes=[ClipShape(seconds=2.0), ClipShape()]),
                         spec(transition="fade"), CPU)
    assert "[c0][c1]concat=n=2" in graph and "xfade" not in graph


def test_frame_clip_is_screened_over_the_picture_under_logo_and_captions():
    graph = filter_graph(inputs(1, frame=T / "frame.mp4"), spec(fill="fit"), CPU)
    assert "[3:v]setpts=PTS-STARTPTS,fps=30,scale=1920:1080" in graph  # after music and voice
    assert "[basergb][frame]blend=all_mode=screen" in graph
    with_logo = RenderInputs(videos=[T / "v.mp4"], music=T / "m.mp3", voice=T / "v.mp3",
                             logo=T / "logo.png", duration=3, captions="ass=filename=x.ass",
                             picture=PictureInputs(frame=T / "frame.mp4"))
    graph = filter_graph(with_logo, spec(fill="fit", logo="logo.png"), CPU)
    assert "[4:v]setpts" in graph  # the frame clip comes after the logo
    assert graph.index("[framed][logo]overlay") < graph.index("ass=filename")


def test_frame_key_colour_keys_instead_of_screen():
    graph = filter_graph(inputs(1, frame=T / "frame.mp4"), spec(frame_key_color="#00ff00"), CPU)
    assert "colorkey=0x00FF00:" in graph and "[base][frame]overlay=0:0[framed]" in graph
    assert "blend=" not in graph


def test_title_card_text_is_literal_and_fades_out():
    card = title_card("Dragons: Tom's 100% [true] tale", Path("/f/font_x.ttf"), spec(title_seconds=3))
    assert card.startswith("drawtext=fontfile=/f/font_x.ttf:")
    assert "expansion=none" in card
    assert r"text=Dragons\\: Tom\\\'s 100% \[true\] tale:" in card
    assert r"enable=lt(t\,3)" in card and "alpha=if(lt(t\\,2.1)" in card
    graph = filter_graph(inputs(1, title="Dragon"), spec(title_seconds=2), CPU)
    assert "[base]drawtext=" in graph and "[titled]trim=" in graph
    assert "drawtext" not in filter_graph(inputs(1, title="Dragon"), spec(), CPU)  # off by default


@pytest.mark.parametrize(("size", "thumb"), [
    ((1920, 1080), (1280, 720)), ((3840, 2160), (1280, 720)), ((160, 90), (1280, 720)),
    ((1080, 1920), (1080, 1920)), ((90, 160), (1080, 1920)),
    ((1000, 1000), (1280, 1280)), ((2560, 1080), (1280, 540)),
])
def test_thumbnail_is_the_platform_size_for_the_shape(size, thumb):
    assert thumbnail_size(*size) == thumb


def _meta(**changes) -> TaskMeta:
    return TaskMeta.model_validate({
        "task_id": "t", "category": "c", "story_name": "dragon_flight", "voice_file": "voice.mp3",
        "voice_duration": 30.0, "music_file": "music.mp3", "video_files": ["video_0001.mp4"],
        "render": {"resolution": "1080x1920"}, **changes})


def test_thumbnail_argv_skips_the_title_card_and_letters_title_and_chapter():
    meta = _meta(chapter="scanned/story/c/dragon_flight/voice/chapter_0012.mp3",
                 render={"resolution": "1080x1920", "title_seconds": 4})
    argv = thumbnail_argv(T / "final.mp4", T / "thumb.jpg", meta, None, tool="ffmpeg")
    assert argv[argv.index("-ss") + 1] == "4" and "-skip_frame" not in argv
    vf = argv[argv.index("-vf") + 1]
    assert vf.startswith("fps=2,scale=1080:1920,setsar=1,thumbnail=52,")
    assert "text=Dragon Flight" in vf and "text=Chapter 12" in vf and "font=Sans" in vf
    assert argv[-1] == "file:/t/thumb.jpg" and argv[argv.index("-c:v") + 1] == "mjpeg"
    long = thumbnail_argv(T / "f.mp4", T / "t.jpg", _meta(voice_duration=600.0), None, tool="ffmpeg")
    assert long[long.index("-skip_frame") + 1] == "nokey"  # keyframes only


def test_titles_and_chapters_read_from_the_task():
    assert story_title("dragon_flight") == "Dragon Flight"
    assert _meta().story_title == "Dragon Flight"
    assert _meta(title="The Dragon's Flight").story_title == "The Dragon's Flight"
    assert chapter_label(_meta(chapter="scanned/story/c/s/voice/chapter_0003.mp3")) == "Chapter 3"
    assert chapter_label(_meta()) == ""


def test_picture_settings_are_checked_at_start(tmp_path):
    cfg = tmp_path / "storyreel.toml"
    cfg.write_text('[render]\nfill = "stretch"\n')
    with pytest.raises(ConfigError, match="fill"):
        load(cfg)
    cfg.write_text('[render]\nframe_key_color = "green"\n')
    with pytest.raises(ConfigError, match="#00FF00"):
        load(cfg)
    cfg.write_text('[render]\ntransition = "fade"\ntransition_seconds = 0.0\n')
    with pytest.raises(ConfigError, match="transition_seconds"):
        load(cfg)
    cfg.write_text('[render]\nfill = "crop"\ntransition = "fade"\nframe_key_color = "#00ff00"\n')
    render = load(cfg).render
    assert (render.fill, render.transition, render.frame_key_color) == ("crop", "fade", "#00FF00")
    assert RenderSpec().fill == "blur" and RenderSpec().transition == "cut" and RenderSpec().frame
