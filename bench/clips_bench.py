"""Benchmark 11 (Memory and clip count): a render's memory and wall time against its clip count.

One 60 s render at 1280x720 (libx264 veryfast, espeak-ng narration, music, a logo, blur
fill) from 5, 20, 60 and 120 clips: three lavfi sources of mixed size and rate (1920x1080
at 30 fps, 1280x720 at 25, 960x540 at 60, with grain) cut to the length that fills the
narration, played in turn. Each render runs `render_task` in a process of its own, in two
variants side by side, interleaved:

- one pass: every clip an input of one ffmpeg (the renderer's threshold raised past them);
- ours: as render_task does now (segments of a few clips past `ONE_PASS_CLIPS`);
- before (only when STORYREEL_BENCH_BEFORE names the `src` folder of an earlier tree):
  ours as that tree renders it, past its one-pass threshold, for a before/after table
  measured in the same run.

Peak RSS is the sum over the render's process tree (the python process and every ffmpeg
it runs, two segment encodes at a time), polled every 0.1 s. At 5 clips the segmented
path is also timed (forced), which is what the one-pass threshold rests on. PSNR compares
ours with the one pass, frame by frame.

    python bench/clips_bench.py --render TASK OUT THRESHOLD   # one render (the measured process)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import media
from harness import BenchError, interleave, median, mib, run_measured
from report import Section

HERE = Path(__file__).resolve().parent
SECTION = "11. Memory and clip count"
FULL = {"resolution": "1280x720", "seconds": 60.0, "counts": [5, 20, 60, 120]}
SMOKE = {"resolution": "320x180", "seconds": 2.0, "counts": [3, 8]}
SOURCES = [("testsrc2", 1920, 1080, 30), ("mandelbrot", 1280, 720, 25), ("life", 960, 540, 60)]
RENDER = {"frame_rate": 30, "encoder": "libx264", "preset": "veryfast", "fill": "blur",
          "logo": "logo.png"}
ONE_PASS = 10**6  # a threshold no render reaches: every clip in one ffmpeg
FORCED = 0  # a threshold every render passes: segments even for a few clips
# The targets: memory flat in the clip count, wall time at most a little over one pass.
RSS_GOAL, WALL_GOAL = 1.2, 1.05
# The `src` folder of an earlier tree whose renders run beside ours (unset: none).
BEFORE_ENV = "STORYREEL_BENCH_BEFORE"


def _task(folder: Path, assets: dict, count: int, size: dict) -> Path:
    """A task folder of `count` clips in turn, their scanned names recorded (no probing)."""
    seconds = size["seconds"] / count + 0.2  # each clip a little longer than its share
    width, height = (int(v) for v in size["resolution"].split("x"))
    scale = width / 1280
    clips = []
    for source, w, h, fps in SOURCES:
        w, h = max(32, int(w * scale) // 2 * 2), max(18, int(h * scale) // 2 * 2)
        clips.append((media.clip(assets["media"], media.ClipSpec(source, w, h, fps, round(seconds, 2))), w, h))
    folder.mkdir(parents=True, exist_ok=True)
    names, sources = [], []
    for i in range(count):
        clip, w, h = clips[i % len(clips)]
        name = f"video_{i + 1:04d}.mp4"
        if not (folder / name).exists():
            (folder / name).symlink_to(clip)
        names.append(name)
        sources.append(f"scanned/video/bench/mp4_w{w}_h{h}/{media.duration(clip):.3f}_{clip.stem}.mp4")
    (folder / "video_list.txt").write_text(
        "ffconcat version 1.0\n" + "".join(f"file {n}\n" for n in names), encoding="utf-8")
    for name in ("voice.mp3", "music.mp3", "logo.png"):
        (folder / name).write_bytes(assets[name].read_bytes())
    meta = {"task_id": folder.name, "category": "bench", "story_name": "dragon_flight",
            "voice_file": "voice.mp3", "voice_duration": media.duration(assets["voice.mp3"]),
            "music_file": "music.mp3", "video_files": names, "video_sources": sources,
            "render": {**RENDER, "resolution": size["resolution"]}}
    (folder / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


def _psnr(a: Path, b: Path) -> tuple[float, float]:
    """Average and lowest per-frame PSNR (dB) of `a` against `b`."""
    done = subprocess.run([media.FFMPEG, "-nostdin", "-i", f"file:{a}", "-i", f"file:{b}", "-lavfi",
                           "psnr=stats_file=-", "-f", "null", "-"], capture_output=True, text=True,
                          check=False, stdin=subprocess.DEVNULL)
    frames = [99.0 if v == "inf" else float(v) for v in re.findall(r"psnr_avg:(\S+)", done.stdout)]
    if not frames:
        raise BenchError(f"cannot compare {a.name} with {b.name}: {done.stderr.strip()[-300:]}")
    return sum(frames) / len(frames), min(frames)


def _frames(path: Path) -> int:
    done = subprocess.run([media.FFPROBE, "-v", "error", "-select_streams", "v", "-count_frames",
                           "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
                          capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL)
    return int(done.stdout.strip())


def run(work: Path, *, smoke: bool, runs: int, log) -> Section:  # noqa: ANN001
    size = SMOKE if smoke else FULL
    folder = work / "media"
    assets = {"media": folder, "voice.mp3": media.narration(folder, size["seconds"]),
              "music.mp3": media.music(folder, 8.0), "logo.png": media.logo(folder)}
    out = work / "out"
    out.mkdir(parents=True, exist_ok=True)
    variants = {}
    before = os.environ.get(BEFORE_ENV)
    for count in size["counts"]:
        task = _task(work / f"clips_{count}", assets, count, size)
        variants[f"{count} one pass"] = (task, ONE_PASS, None)
        variants[f"{count} ours"] = (task, None, None)
        if before and count > _threshold():
            variants[f"{count} before"] = (task, None, before)
    forced = f"{size['counts'][0]} segments"
    variants[forced] = (variants[f"{size['counts'][0]} ours"][0], FORCED, None)

    def measure(name: str):
        task, threshold, src = variants[name]
        env = {**os.environ, "PYTHONPATH": src} if src else None

        def once():
            video = out / f"{name.replace(' ', '_')}.mp4"
            argv = [sys.executable, str(Path(__file__).resolve()), "--render", str(task), str(video),
                    str(threshold if threshold is not None else -1)]
            return run_measured(argv, env=env, sample_tree=True)[0]
        return once

    samples = interleave({name: measure(name) for name in variants}, runs, once=[forced],
                         on_sample=lambda n, i, s: log(f"clips {n} run {i + 1}: {s.wall:.1f} s, "
                                                       f"{mib(s.extra['tree_rss'])}"))
    found = {name: {"wall": median([s.wall for s in got]), "cpu": median([s.cpu for s in got]),
                    "rss": median([s.extra["tree_rss"] for s in got])} for name, got in samples.items()}
    checks = {}
    for count in size["counts"]:
        ours, old = out / f"{count}_ours.mp4", out / f"{count}_one_pass.mp4"
        checks[count] = {"psnr": _psnr(ours, old), "frames": (_frames(ours), _frames(old))}
    return _section(size, found, checks, runs, forced)


def _section(size: dict, found: dict, checks: dict, runs: int, forced: str) -> Section:
    counts = size["counts"]
    first, last = counts[0], counts[-1]
    section = Section(SECTION)
    section.figures = {"variants": found, "checks": {str(k): v for k, v in checks.items()}, "counts": counts}
    sources = ", ".join(f"{s} {w}x{h}@{fps}" for s, w, h, fps in SOURCES)
    section.add(
        f"One {size['seconds']:g} s render at {size['resolution']} (libx264 veryfast, blur fill, a "
        f"logo, espeak-ng narration, music) from {', '.join(map(str, counts))} clips of {sources} "
        "(lavfi with grain, scaled to the output size's share of 1280x720) played in turn. "
        "`render_task` in a process of its own; *one pass*: every clip an input of one ffmpeg; "
        f"*ours*: segments of a few clips past {_threshold()} clips, two encoded at a time (each "
        "running its share of the cores' threads), joined "
        f"by stream copy, the sound mixed once. Median of {runs} interleaved run(s). Peak RSS = "
        "the render's process tree summed (python and its ffmpeg runs), polled every 0.1 s. "
        "PSNR: ours against the one pass, per frame (average / lowest).",
        "",
    )
    section.table(["clips", "one pass: wall", "ours: wall", "ours / one pass (wall)",
                   "ours / one pass (CPU)", "one pass: peak RSS", "ours: peak RSS",
                   "ours / one pass (RSS)", "PSNR", "frames (ours / one pass)"],
                  [_row(count, found, checks[count]) for count in counts])
    befores = [c for c in counts if f"{c} before" in found]
    if befores:
        section.add("Before and after, the same renders in the same run (the earlier tree's "
                    "renders as *before*; few clips are one pass in both):", "")
        section.table(["clips", "before / one pass (wall)", "ours / one pass (wall)",
                       "before / one pass (CPU)", "ours / one pass (CPU)", "before: peak RSS",
                       "ours: peak RSS", f"before: RSS / {first} clips", f"ours: RSS / {first} clips"],
                      [_before_row(c, found, first) for c in befores])
    seg, one = found[forced], found[f"{first} one pass"]
    section.add(f"At {first} clips the segments (forced) take {seg['wall']:.1f} s and {mib(seg['rss'])} "
                f"against the one pass's {one['wall']:.1f} s and {mib(one['rss'])} "
                f"({seg['wall'] / one['wall']:.3f}× the wall time): few clips stay one pass.", "")
    rss_ratio = found[f"{last} ours"]["rss"] / found[f"{first} ours"]["rss"]
    section.target(f"11. Memory: peak RSS at {last} clips / at {first} clips (ours)", rss_ratio, RSS_GOAL,
                   fmt="{:.2f}", why="the segments' own memory grows with the clips they hold")
    worst = max(found[f"{c} ours"]["wall"] / found[f"{c} one pass"]["wall"] for c in counts)
    section.target("11. Memory: wall time, ours / one pass (worst clip count)", worst, WALL_GOAL,
                   why="each segment pays an ffmpeg start and the encoder's ramp-up")
    section.memory += [("render tree (ours)", f"{last} clips", int(found[f"{last} ours"]["rss"])),
                       ("render tree (one pass)", f"{last} clips", int(found[f"{last} one pass"]["rss"]))]
    return section


def _row(count: int, found: dict, check: dict) -> list[str]:
    old, ours = found[f"{count} one pass"], found[f"{count} ours"]
    psnr, frames = check["psnr"], check["frames"]
    return [str(count), f"{old['wall']:.1f} s", f"{ours['wall']:.1f} s",
            f"{ours['wall'] / old['wall']:.3f}", f"{ours['cpu'] / old['cpu']:.3f}",
            mib(old["rss"]), mib(ours["rss"]), f"{ours['rss'] / old['rss']:.2f}",
            f"{psnr[0]:.1f} / {psnr[1]:.1f} dB", f"{frames[0]} / {frames[1]}"]


def _before_row(count: int, found: dict, first: int) -> list[str]:
    old, ours, before = (found[f"{count} {k}"] for k in ("one pass", "ours", "before"))
    base = found[f"{first} ours"]["rss"]
    return [str(count), f"{before['wall'] / old['wall']:.3f}", f"{ours['wall'] / old['wall']:.3f}",
            f"{before['cpu'] / old['cpu']:.3f}", f"{ours['cpu'] / old['cpu']:.3f}",
            mib(before["rss"]), mib(ours["rss"]), f"{before['rss'] / base:.2f}",
            f"{ours['rss'] / base:.2f}"]


def _threshold() -> int:
    from storyreel.render import segments
    return segments.ONE_PASS_CLIPS


def _render(task: Path, output: Path, threshold: int) -> None:
    """The measured process: one render_task, with the one-pass threshold given (-1: as is)."""
    from storyreel.render import job, segments

    if threshold >= 0:
        segments.ONE_PASS_CLIPS = threshold
    output.unlink(missing_ok=True)
    started = time.perf_counter()
    job.render_task(task.absolute(), output.absolute(), encoder="libx264")
    print(json.dumps({"wall": time.perf_counter() - started}))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--render":
        _render(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(__doc__)
