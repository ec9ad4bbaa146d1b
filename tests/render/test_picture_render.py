"""The picture with real ffmpeg: fills, fades, frame clips, the title card, thumbnails."""

from __future__ import annotations

import json
import subprocess

import mediakit
import pytest
from render_helpers import FFMPEG, make_task, pixel

from storyreel.layout import METADATA_NAME
from storyreel.media.probe import probe
from storyreel.render.job import render_task
from storyreel.render.thumbnail import make_thumbnail

WIDTH, HEIGHT, FPS = 160, 90, 30


def frame_rgb(path, at: float, width: int = WIDTH, height: int = HEIGHT) -> bytes:
    done = subprocess.run([FFMPEG, "-v", "error", "-nostdin", "-ss", f"{at}", "-i", f"file:{path}",
                           "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                          capture_output=True, check=True)
    assert len(done.stdout) == width * height * 3
    return done.stdout


def column(frame: bytes, x: int) -> list[tuple[int, int, int]]:
    return [tuple(frame[(y * WIDTH + x) * 3:(y * WIDTH + x) * 3 + 3]) for y in range(HEIGHT)]


def row(frame: bytes, y: int) -> list[tuple[int, int, int]]:
    return [tuple(frame[(y * WIDTH + x) * 3:(y * WIDTH + x) * 3 + 3]) for x in range(WIDTH)]


def lit(pixels) -> bool:
    """Not black: some pixel is clearly brighter than a bar."""
    return max(max(p) for p in pixels) > 40


def varied(pixels) -> bool:
    """Not one flat colour: a picture, not a painted bar."""
    return max(max(p) for p in pixels) - min(max(p) for p in pixels) > 25


@pytest.fixture(scope="module")
def portrait(media):
    """A phone clip shown upright (90x160): its test bars run across, so any column of a
    copy of it changes from top to bottom."""
    return media.clip(width=160, height=90, fps=30, seconds=3.0, audio=False, rotate=90)


def solid(path, colour: str, seconds: float = 2.0, size: str = f"{WIDTH}x{HEIGHT}"):
    """A clip of one colour."""
    subprocess.run([FFMPEG, "-v", "error", "-y", "-nostdin", "-f", "lavfi", "-i",
                    f"color=c={colour}:s={size}:r={FPS}:d={seconds}", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", f"file:{path}"], check=True)
    return path


def render(tmp_path, name, clips, duration=2.0, **render_settings):
    voice = mediakit.tone_mp3(tmp_path / f"{name}_voice.mp3", seconds=duration, frequency=500)
    task = make_task(tmp_path / name, clips=clips, music=voice, voice=voice, duration=duration,
                     **render_settings)
    return render_task(task, tmp_path / f"{name}.mp4").output


def test_portrait_clip_in_blur_mode_leaves_no_black_columns(tmp_path, portrait):
    out = render(tmp_path, "blur", [portrait], fill="blur")
    frame = frame_rgb(out, 1.0)
    for x in (2, 20, WIDTH - 21, WIDTH - 3):  # beside the fitted 50 px wide clip
        side = column(frame, x)
        assert lit(side) and varied(side), x
    # The fitted clip itself is sharp and bright in the middle, over the darker copy.
    middle = column(frame, WIDTH // 2)
    assert max(sum(p) for p in middle) > max(sum(p) for p in column(frame, 2))


def test_portrait_clip_in_crop_mode_fills_the_frame(tmp_path, portrait):
    out = render(tmp_path, "crop", [portrait], fill="crop")
    frame = frame_rgb(out, 1.0)
    for x in (0, 2, WIDTH - 3, WIDTH - 1):
        assert lit(column(frame, x)), x
    for y in (0, HEIGHT - 1):
        assert lit(row(frame, y)), y


def test_portrait_clip_in_fit_mode_keeps_its_bars(tmp_path, portrait):
    out = render(tmp_path, "fit", [portrait], fill="fit")
    frame = frame_rgb(out, 1.0)
    assert not lit(column(frame, 2)) and not lit(column(frame, WIDTH - 3))


def test_fade_keeps_the_length_and_blends_the_clips(tmp_path):
    red, blue = solid(tmp_path / "red.mp4", "red"), solid(tmp_path / "blue.mp4", "blue")
    out = render(tmp_path, "fade", [red, blue, red], duration=5.0, fill="fit", transition="fade",
                 transition_seconds=0.6)
    info = probe(out)
    assert abs(info.duration - 5.0) <= 1 / FPS and abs(info.video[0].duration - 5.0) <= 1 / FPS
    r, _, b = pixel(out, 0.5, 80, 45, WIDTH)
    assert r > 200 and b < 60  # red alone
    r, _, b = pixel(out, 1.7, 80, 45, WIDTH)  # the middle of the first fade (1.4 … 2.0 s)
    assert 60 < r < 200 and 60 < b < 200, (r, b)
    r, _, b = pixel(out, 2.5, 80, 45, WIDTH)
    assert b > 200 and r < 60  # blue alone
    # Two fades of 0.6 s shorten the clips' 6 s to 4.8 s: the last frame (red) is held.
    r, _, b = pixel(out, 4.9, 80, 45, WIDTH)
    assert r > 200 and b < 60


def bordered_frame_clip(path, colour: str, inner: str):
    """A frame clip: a `colour` field with an `inner` box in the middle."""
    solid(path, colour, seconds=1.0)
    boxed = path.with_name("boxed_" + path.name)
    subprocess.run([FFMPEG, "-v", "error", "-y", "-nostdin", "-i", f"file:{path}", "-vf",
                    f"drawbox=x=40:y=20:w=80:h=50:color={inner}:t=fill", "-c:v", "libx264",
                    "-preset", "ultrafast", f"file:{boxed}"], check=True)
    return boxed


def with_frame(task, frame):
    meta = json.loads((task / METADATA_NAME).read_text())
    meta["frame_file"] = "frame.mp4"
    (task / "frame.mp4").write_bytes(frame.read_bytes())
    (task / METADATA_NAME).write_text(json.dumps(meta))
    return task


def test_frame_clip_screens_its_border_over_the_picture(tmp_path):
    grey = solid(tmp_path / "grey.mp4", "0x404040")
    frame = bordered_frame_clip(tmp_path / "frame.mp4", "white", "black")
    voice = mediakit.tone_mp3(tmp_path / "voice.mp3", seconds=3.0)
    task = with_frame(make_task(tmp_path / "task", clips=[grey], music=voice, voice=voice, duration=3.0),
                      frame)
    out = render_task(task, tmp_path / "framed.mp4").output
    for at in (0.5, 2.5):  # the frame clip (1 s) loops to the end
        assert min(pixel(out, at, 5, 5, WIDTH)) > 230  # white border: screen gives white
        assert max(abs(c - 64) for c in pixel(out, at, 80, 45, WIDTH)) < 20  # black: unchanged


def test_frame_clip_keyed_by_colour_shows_the_picture_where_it_is_the_key(tmp_path):
    grey = solid(tmp_path / "grey.mp4", "0x404040")
    frame = bordered_frame_clip(tmp_path / "frame.mp4", "red", "0x00FF00")
    voice = mediakit.tone_mp3(tmp_path / "voice.mp3", seconds=2.0)
    task = make_task(tmp_path / "task", clips=[grey], music=voice, voice=voice, duration=2.0,
                     frame_key_color="#00FF00")
    out = render_task(with_frame(task, frame), tmp_path / "keyed.mp4").output
    r, g, b = pixel(out, 1.0, 5, 5, WIDTH)
    assert r > 200 and g < 60 and b < 60  # the red border covers the picture
    assert max(abs(c - 64) for c in pixel(out, 1.0, 80, 45, WIDTH)) < 20  # keyed: the clip


def test_title_card_shows_the_title_and_then_fades_away(tmp_path):
    black = solid(tmp_path / "black.mp4", "black", seconds=3.0)
    voice = mediakit.tone_mp3(tmp_path / "voice.mp3", seconds=3.0)
    task = make_task(tmp_path / "task", clips=[black], music=voice, voice=voice, duration=3.0,
                     title_seconds=1.5)
    meta = json.loads((task / METADATA_NAME).read_text())
    meta["title"] = "Tom's: 100% [tale]"  # drawn literally, whatever it holds
    (task / METADATA_NAME).write_text(json.dumps(meta))
    out = render_task(task, tmp_path / "titled.mp4").output
    shown = sum(1 for p in row(frame_rgb(out, 0.3), HEIGHT // 2) if max(p) > 150)
    assert shown > 10  # white letters across the middle
    gone = frame_rgb(out, 2.0)
    assert max(gone) < 40


@pytest.mark.parametrize(("size", "thumb"), [((160, 90), (1280, 720)), ((90, 160), (1080, 1920))])
def test_thumbnail_is_a_jpeg_of_the_platform_size(tmp_path, media, size, thumb):
    clip = media.clip(width=size[0], height=size[1], seconds=2.0, audio=False)
    voice = mediakit.tone_mp3(tmp_path / "voice.mp3", seconds=2.0)
    task = make_task(tmp_path / "task", clips=[clip], music=voice, voice=voice, duration=2.0,
                     resolution=f"{size[0]}x{size[1]}")
    out = render_task(task, tmp_path / "final.mp4").output
    jpeg = make_thumbnail(task, out, tmp_path / "thumbnail.jpg")
    info = probe(jpeg)
    assert (info.video[0].codec, info.video[0].width, info.video[0].height) == ("mjpeg", *thumb)
    assert jpeg.read_bytes()[:3] == b"\xff\xd8\xff"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
