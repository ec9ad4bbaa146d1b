"""Benchmark 8 (Picture): what each picture feature costs against the plain render.

One task (a 16:9 clip, a portrait phone clip and a 4:3 clip of lavfi sources with grain,
espeak-ng narration, music, a bordered frame clip) is rendered by `render_task` in a
process of its own (bench/render_one.py, libx264 veryfast) in six variants, interleaved:
plain (fit, cuts, no frame), blur fill, crop fill, fades, the frame clip (screen), and
all at once (blur, fades, frame clip, title card). Each figure is the variant's median
wall time over the plain render's. The thumbnail made after a render is timed too.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import media
from harness import BenchError, interleave, median, run_measured
from report import Section

from storyreel.render.thumbnail import make_thumbnail

HERE = Path(__file__).resolve().parent
SECTION = "8. Picture and sound"
FULL = {"resolution": "1280x720", "seconds": 12.0, "clip_seconds": 4.0}
SMOKE = {"resolution": "320x180", "seconds": 3.0, "clip_seconds": 1.5}
# The render settings every variant shares (the render benchmark's speed preset).
BASE_RENDER = {"frame_rate": 30, "encoder": "libx264", "preset": "veryfast", "logo": ""}
PLAIN = {"fill": "fit", "transition": "cut", "frame": False}
VARIANTS = {
    "plain": {},
    "blur fill": {"fill": "blur"},
    "crop fill": {"fill": "crop"},
    "fade": {"transition": "fade", "transition_seconds": 0.5},
    "frame overlay": {"frame": True},
    "all at once": {"fill": "blur", "transition": "fade", "transition_seconds": 0.5,
                    "frame": True, "title_seconds": 2.0},
}


def _clips(folder: Path, width: int, height: int, seconds: float) -> list[tuple[Path, int, int]]:
    """A clip of the output's shape, a portrait one and a 4:3 one, with their shown sizes."""
    shapes = [("testsrc2", width, height), ("mandelbrot", height * 9 // 16 // 2 * 2, height),
              ("life", height * 4 // 3 // 2 * 2, height)]
    return [(media.clip(folder, media.ClipSpec(src, w, h, 30, seconds)), w, h) for src, w, h in shapes]


def _frame_clip(folder: Path, width: int, height: int) -> Path:
    """A white border with grain on black: what the README's recipe makes."""
    path = folder / f"frame_{width}x{height}.mp4"
    if not path.exists():
        border = max(2, height // 27)
        subprocess.run([media.FFMPEG, "-y", "-v", "error", "-nostdin", "-f", "lavfi", "-i",
                        f"color=c=black:s={width}x{height}:r=30:d=4", "-vf",
                        f"drawbox=x=0:y=0:w=iw:h=ih:color=white@0.8:t={border},noise=alls=12:allf=t",
                        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                        f"file:{path}"], check=True, stdin=subprocess.DEVNULL)
    return path


def _task(folder: Path, assets: dict, render: dict) -> Path:
    """A task folder of plain copies (as a node downloads it), with scanned names recorded."""
    folder.mkdir(parents=True, exist_ok=True)
    names, sources = [], []
    for i, (clip, width, height) in enumerate(assets["clips"], 1):
        name = f"video_{i:04d}.mp4"
        (folder / name).write_bytes(clip.read_bytes())
        names.append(name)
        seconds_of_clip = media.duration(clip)
        sources.append(f"scanned/video/bench/mp4_w{width}_h{height}/{seconds_of_clip:.1f}_{clip.stem}.mp4")
    play = [names[i % len(names)] for i in range(assets["count"])]
    (folder / "video_list.txt").write_text(
        "ffconcat version 1.0\n" + "".join(f"file {n}\n" for n in play), encoding="utf-8")
    for name in ("voice.mp3", "music.mp3", "frame.mp4"):
        (folder / name).write_bytes(assets[name].read_bytes())
    meta = {
        "task_id": folder.name, "category": "bench", "story_name": "dragon_flight",
        "voice_file": "voice.mp3", "voice_duration": media.duration(assets["voice.mp3"]),
        "music_file": "music.mp3", "video_files": play,
        "video_sources": [sources[names.index(n)] for n in play],
        "chapter": "scanned/story/bench/dragon_flight/voice/chapter_0001.mp3",
        "frame_file": "frame.mp4", "render": {**BASE_RENDER, **PLAIN, **render},
    }
    (folder / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


def _assets(work: Path, size: dict) -> dict:
    width, height = (int(v) for v in size["resolution"].split("x"))
    clips = _clips(work / "media", width, height, size["clip_seconds"])
    # Enough clips for the narration plus the fades' overlaps.
    count = int(size["seconds"] / (size["clip_seconds"] - 0.5)) + 1
    return {"clips": clips, "count": count, "voice.mp3": media.narration(work / "media", size["seconds"]),
            "music.mp3": media.music(work / "media", 8.0), "frame.mp4": _frame_clip(work / "media", width, height)}


def run(work: Path, *, smoke: bool, runs: int, log) -> Section:  # noqa: ANN001
    size = SMOKE if smoke else FULL
    assets = _assets(work, size)
    base = {"resolution": size["resolution"]}
    tasks = {name: _task(work / name.replace(" ", "_"), assets, {**base, **render})
             for name, render in VARIANTS.items()}
    out = work / "out"
    out.mkdir(parents=True, exist_ok=True)

    def measure(name: str):
        def once():
            video = out / f"{name.replace(' ', '_')}.mp4"
            argv = [sys.executable, str(HERE / "render_one.py"), str(tasks[name]), str(video)]
            return run_measured(argv)[0]
        return once

    samples = interleave({name: measure(name) for name in tasks}, runs,
                         on_sample=lambda n, i, s: log(f"picture {n} run {i + 1}: {s.wall:.1f} s"))
    walls = {name: median([s.wall for s in found]) for name, found in samples.items()}
    cpus = {name: median([s.cpu for s in found]) for name, found in samples.items()}
    thumb_walls = []
    for _ in range(runs):
        began = time.perf_counter()
        make_thumbnail(tasks["all at once"], out / "all_at_once.mp4", out / "thumbnail.jpg")
        thumb_walls.append(time.perf_counter() - began)
    if not (out / "thumbnail.jpg").is_file():
        raise BenchError("the thumbnail was not written")
    return _section(size, assets, walls, cpus, median(thumb_walls), runs)


def _section(size: dict, assets: dict, walls: dict, cpus: dict, thumb: float, runs: int) -> Section:
    plain = walls["plain"]
    section = Section(SECTION)
    section.figures = {"picture": {"walls": walls, "cpus": cpus,
                                   "ratios": {n: w / plain for n, w in walls.items()},
                                   "cpu_ratios": {n: c / cpus["plain"] for n, c in cpus.items()},
                                   "thumbnail_wall": thumb, "seconds": size["seconds"]}}
    shapes = ", ".join(f"{c.stem.split('_')[0]} {w}x{h}" for c, w, h in assets["clips"])
    section.add(
        "### Picture",
        "",
        f"One task at {size['resolution']}: {assets['count']} clips of {size['clip_seconds']:g} s "
        f"in turn from {shapes} (lavfi sources with grain), {size['seconds']:g} s of espeak-ng "
        "narration, music, a bordered frame clip with grain. `render_task` in its own process "
        f"(libx264 veryfast), variants interleaved, median of {runs} run(s); ratios = the "
        "variant's wall time (CPU time: user + system of the render and its ffmpeg) / the "
        "plain render's (fit, cuts, no frame clip). On a shared machine the CPU ratio is the "
        "steadier figure.",
        "",
    )
    section.table(
        ["variant", "wall", "× plain (wall)", "CPU", "× plain (CPU)"],
        [[name, f"{wall:.1f} s", f"{wall / plain:.3f}", f"{cpus[name]:.1f} s",
          f"{cpus[name] / cpus['plain']:.3f}"] for name, wall in walls.items()],
    )
    section.add(
        f"Thumbnail of the finished video (frame choice, title and chapter, JPEG): {thumb:.2f} s, "
        f"{thumb / plain:.3f} × the plain render.",
        "",
    )
    return section
