"""A render of many clips in segments: the same picture as one pass, exactly the voice's
frames, its parts gone afterwards, a cancel stopping every encode."""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import mediakit
import pytest
from render_helpers import FFMPEG, make_task, pixel

from storyreel.errors import RenderError
from storyreel.layout import METADATA_NAME
from storyreel.media.probe import probe
from storyreel.render import encoders, segmented, segments
from storyreel.render.ffjob import scripted
from storyreel.render.graph import RenderInputs, build_argv
from storyreel.render.job import _inputs, render_task
from storyreel.taskmeta import read

WIDTH, HEIGHT, FPS = 160, 90, 30
# Mixed sizes, shapes and rates, short, so the render has many clips and little to encode.
SHAPES = [(320, 240, 25, 1.3), (200, 120, 30, 1.1), (160, 90, 60, 1.5), (90, 160, 24, 0.9),
          (640, 360, 30, 1.2), (160, 90, 25, 1.25), (320, 180, 50, 0.8), (200, 200, 30, 1.0),
          (160, 90, 30, 1.4)]
VOICE_SECONDS = 7.3  # less than the clips: the last ones are cut


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    folder = tmp_path_factory.mktemp("segments")
    clips = [mediakit.clip(folder / f"clip{i}.mp4", width=w, height=h, fps=f, seconds=s, audio=False)
             for i, (w, h, f, s) in enumerate(SHAPES)]
    voice = mediakit.tone_mp3(folder / "voice.mp3", seconds=VOICE_SECONDS, frequency=300)
    music = mediakit.tone_mp3(folder / "music.mp3", seconds=2.0, frequency=500, volume_db=-12)
    return clips, voice, music, mediakit.logo_png(folder / "logo.png")


def task(folder: Path, sources, **render) -> Path:
    clips, voice, music, logo = sources
    render.setdefault("preset", "veryfast")
    made = make_task(folder, clips=clips, music=music, voice=voice,
                     duration=probe(voice).duration, logo=logo, **render)
    meta = json.loads((made / METADATA_NAME).read_text())
    meta["title"] = "Dragon"
    (made / METADATA_NAME).write_text(json.dumps(meta))
    return made


def plan_of(folder: Path) -> list[segments.Segment] | None:
    meta = read(folder)
    return segments.plan(_inputs(folder, meta), meta.render)


def frames(path: Path) -> int:
    done = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-count_frames",
                           "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
                          capture_output=True, text=True, check=True)
    return int(done.stdout.strip())


def psnr(a: Path, b: Path) -> tuple[float, float]:
    """Average and lowest per-frame PSNR (dB, luma and chroma) of `a` against `b`."""
    done = subprocess.run([FFMPEG, "-nostdin", "-i", f"file:{a}", "-i", f"file:{b}",
                           "-lavfi", "psnr=stats_file=-", "-f", "null", "-"],
                          capture_output=True, text=True, check=True)
    per_frame = [float(v) if v != "inf" else 99.0 for v in re.findall(r"psnr_avg:(\S+)", done.stdout)]
    assert per_frame
    return sum(per_frame) / len(per_frame), min(per_frame)


def x264_threads(path: Path) -> list[int]:
    """The thread count each x264 encode joined into `path` ran with, as its own settings
    record (written into its first frame) says."""
    return [int(v) for v in re.findall(rb" threads=(\d+) ", path.read_bytes())]


def one_pass(monkeypatch, folder: Path, out: Path) -> Path:
    with monkeypatch.context() as patched:
        patched.setattr(segments, "ONE_PASS_CLIPS", 1000)
        assert plan_of(folder) is None
        return render_task(folder, out).output


@pytest.mark.parametrize("fill", ["blur", "fit"])
def test_many_clips_render_in_segments_with_the_picture_of_one_pass(tmp_path, sources, monkeypatch, fill):
    folder = task(tmp_path / "task", sources, fill=fill, title_seconds=1.5)
    parts = plan_of(folder)
    assert parts is not None and len(parts) >= 2
    old = one_pass(monkeypatch, folder, tmp_path / "one.mp4")
    new = render_task(folder, tmp_path / "out" / "final.mp4").output
    expected = segments.frame_count(read(folder).voice_duration, FPS)
    assert frames(new) == frames(old) == expected
    assert abs(probe(new).duration - probe(old).duration) < 1 / FPS
    average, lowest = psnr(new, old)
    assert average >= 35 and lowest >= 30, (average, lowest)
    assert sorted(p.name for p in new.parent.iterdir()) == ["final.mp4"]  # the parts are gone
    # each segment's encoder ran with its share of the cores, not a thread per core
    assert x264_threads(new) == [segmented.thread_share()] * len(parts)


def test_fades_in_segments_keep_exactly_the_voices_frames(tmp_path, sources):
    folder = task(tmp_path / "task", sources, transition="fade", transition_seconds=0.3)
    parts = plan_of(folder)
    assert parts is not None and any(p.lead is not None for p in parts)
    out = render_task(folder, tmp_path / "final.mp4").output
    assert frames(out) == segments.frame_count(read(folder).voice_duration, FPS)


def test_a_frame_clip_is_drawn_over_the_joined_segments(tmp_path, sources):
    folder = task(tmp_path / "task", sources, fill="fit")
    frame = tmp_path / "frame.mp4"
    subprocess.run([FFMPEG, "-v", "error", "-y", "-nostdin", "-f", "lavfi", "-i",
                    f"color=c=white:s={WIDTH}x{HEIGHT}:r={FPS}:d=1", "-vf",
                    "drawbox=x=10:y=10:w=140:h=70:color=black:t=fill", "-c:v", "libx264",
                    "-preset", "ultrafast", "-pix_fmt", "yuv420p", f"file:{frame}"], check=True)
    meta = json.loads((folder / METADATA_NAME).read_text())
    meta["frame_file"] = "frame.mp4"
    (folder / METADATA_NAME).write_text(json.dumps(meta))
    (folder / "frame.mp4").write_bytes(frame.read_bytes())
    assert segments.layered(_inputs(folder, read(folder)))
    out = render_task(folder, tmp_path / "final.mp4").output
    assert frames(out) == segments.frame_count(read(folder).voice_duration, FPS)
    for at in (0.5, 3.5, 6.5):  # the frame clip loops over every segment
        assert min(pixel(out, at, 3, 3, WIDTH)) > 230


def _ffmpeg_children() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            name = (entry / "comm").read_text().strip()
        except (OSError, IndexError, ValueError):
            continue
        if parent == os.getpid() and name == "ffmpeg":
            found.append(int(entry.name))
    return found


def test_a_cancel_stops_every_segment_and_leaves_no_parts(tmp_path, sources):
    folder = task(tmp_path / "task", sources, fill="blur", preset="veryslow")
    cancel = threading.Event()
    seen: list[float] = []

    def progress(p) -> None:
        seen.append(p.percent)
        cancel.set()

    out = tmp_path / "out" / "final.mp4"
    started = time.monotonic()
    with pytest.raises(RenderError, match="cancelled"):
        render_task(folder, out, on_progress=progress, cancel=cancel)
    assert seen and time.monotonic() - started < 30
    assert _ffmpeg_children() == []
    assert list(out.parent.iterdir()) == []


def test_segments_cover_the_voice_exactly_and_hold_a_few_clips_each(tmp_path, sources):
    folder = task(tmp_path / "task", sources, fill="blur")
    parts = plan_of(folder)
    assert parts is not None
    assert parts[0].start == 0
    assert all(a.start + a.frames == b.start for a, b in zip(parts, parts[1:], strict=False))
    assert parts[-1].start + parts[-1].frames == segments.frame_count(read(folder).voice_duration, FPS)
    assert all(p.frames >= segments.MIN_SEGMENT_FRAMES for p in parts)
    assert max(len(p.clips) for p in parts) <= 2 * segments.GROUP_CLIPS
    assert segments.frame_count(3.2, 30) == 96 and segments.frame_count(12.04, 30) == 362


def test_every_graph_goes_to_ffmpeg_as_a_script_file(tmp_path):
    many = RenderInputs(videos=[tmp_path / f"video_{i:04d}.mp4" for i in range(800)],
                        music=tmp_path / "m.mp3", voice=tmp_path / "v.mp3", logo=None, duration=3)
    spec = read_spec()
    argv = build_argv(many, spec, encoders.setup("libx264"), tmp_path / "out.mp4")
    moved, script = scripted(argv, tmp_path)
    assert "-filter_complex" not in moved and script is not None
    assert script.read_text() == argv[argv.index("-filter_complex") + 1]
    assert len(script.read_text()) > 128 * 1024  # more than Linux takes as one argument


def read_spec():
    from storyreel.taskmeta import RenderSpec
    return RenderSpec.model_validate({"resolution": "1920x1080"})


def test_a_clip_that_fails_to_decode_in_a_segment_is_named(tmp_path, sources):
    folder = task(tmp_path / "task", sources, fill="fit")
    data = bytearray((folder / "video_0005.mp4").read_bytes())
    start = int(len(data) * 0.45)
    data[start:start + len(data) // 5] = os.urandom(len(data) // 5)
    (folder / "video_0005.mp4").write_bytes(bytes(data))
    out = tmp_path / "out" / "final.mp4"
    with pytest.raises(RenderError) as caught:
        render_task(folder, out)
    assert caught.value.bad_input == "video_0005.mp4"
    assert list(out.parent.iterdir()) == []


def _many(tmp_path: Path, **picture) -> RenderInputs:
    from storyreel.render.fill import ClipShape
    from storyreel.render.picture import PictureInputs
    shapes = [ClipShape(1920, 1080, 2.0)] * 12
    return RenderInputs(videos=[tmp_path / f"video_{i:04d}.mp4" for i in range(12)],
                        music=tmp_path / "m.mp3", voice=tmp_path / "v.mp3", logo=tmp_path / "logo.png",
                        duration=20.0, captions="ass=filename=c.ass",
                        picture=PictureInputs(shapes=shapes, title="Dragon", **picture))


def test_each_segment_draws_the_title_captions_and_logo_of_its_own_stretch(tmp_path):
    from storyreel.taskmeta import RenderSpec
    spec = RenderSpec.model_validate({"resolution": "1920x1080", "logo": "logo.png", "title_seconds": 2,
                                      "transition": "fade", "transition_seconds": 0.5})
    inputs, enc = _many(tmp_path), encoders.setup("libx264")
    parts = segments.plan(inputs, spec)
    assert parts is not None and len(parts) >= 3
    first, later = (segments.segment_graph(p, inputs, spec, enc) for p in (parts[0], parts[1]))
    assert "drawtext" in first and "setpts=PTS+" not in first  # the title, at the start
    assert "drawtext" not in later  # the title is over by then
    shift = f"setpts=PTS+{parts[1].start / 30:g}/TB"
    assert later.index(shift) < later.index("overlay=20:20") < later.index("ass=filename=c.ass")
    argv = segments.segment_argv(parts[1], inputs, enc, tmp_path / "g.txt", tmp_path / "s.mp4")
    lead = argv.index(f"file:{inputs.videos[parts[1].lead]}")
    assert argv[lead - 3:lead - 1] == ["-ss", "1.5"]  # the fade into it starts 0.5 s before the lead's end
    assert "-filter_complex" not in argv and argv[argv.index("-filter_complex_script") + 1] == str(tmp_path / "g.txt")
    shared = segments.segment_argv(parts[1], inputs, enc, tmp_path / "g.txt", tmp_path / "s.mp4", threads=2)
    opened = [i for i, a in enumerate(shared) if a == "-i"]
    clips = [i for i in opened if shared[i + 1] != f"file:{inputs.logo}"]
    assert len(clips) == len(parts[1].inputs) and "-threads" not in argv
    for at in clips:  # each clip's decoder, before its -i (and the lead's seek)
        before = shared[at - 4:at]
        assert before[before.index("-threads") + 1] == "2"
    assert shared[shared.index("-c:v"):].count("-threads") == 1  # and the encoder
    final = segments.final_argv(inputs, spec, enc, tmp_path / "l.ffconcat", tmp_path / "f.txt", tmp_path / "o.mp4")
    assert final[final.index("-c:v") + 1] == "copy" and "[vout]" not in segments.final_graph(inputs, spec, enc)


def test_with_a_frame_clip_the_last_pass_draws_every_layer(tmp_path):
    from storyreel.taskmeta import RenderSpec
    spec = RenderSpec.model_validate({"resolution": "1920x1080", "logo": "logo.png", "title_seconds": 2})
    inputs, enc = _many(tmp_path, frame=tmp_path / "frame.mp4"), encoders.setup("libx264")
    parts = segments.plan(inputs, spec)
    assert parts is not None
    graph = segments.segment_graph(parts[0], inputs, spec, enc)
    assert "drawtext" not in graph and "overlay=20:20" not in graph and "ass=" not in graph
    argv = segments.segment_argv(parts[0], inputs, enc, tmp_path / "g.txt", tmp_path / "s.mp4")
    at = argv.index("-c:v")
    assert argv[at:at + len(segments.INTERMEDIATE_ARGS)] == segments.INTERMEDIATE_ARGS
    final = segments.final_graph(inputs, spec, enc)
    assert "[4:v]setpts" in final and "drawtext" in final and "ass=filename=c.ass" in final
    assert "[0:v]format=gbrp" in final and final.endswith("format=yuv420p[vout]")
