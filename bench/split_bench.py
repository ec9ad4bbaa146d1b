"""Benchmark 13: one long chapter rendered across nodes (`[render] segment_seconds`).

A farm (`storyreel main --listen` and N `storyreel render` nodes, each pinned to one core
with `taskset`, as one-core machines would be) renders the same chapter:

- whole: `segment_seconds = 0`, one node: the chapter renders on one node, as before;
- split, N = 1, 2, 4 nodes: the chapter is split into parts of `segment_seconds`, the
  parts render on any free node, a node joins them.

The nodes register first; then the voice is dropped into raw/, so every node is there when
the chapter is split. The span is from the first claim to the video's completion (event
log). The machine has as many cores as `os.sched_getaffinity` says: nodes beyond that share
cores, so the speed-up there is bounded by the cores, not the nodes.

Joint checks on each split video: its frames are exactly the voice's, the picture's
timestamps step by one frame everywhere (no gap, no overlap at a joint), the sound lasts
the picture within a few ms, and the frames match the whole render's (PSNR).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import farmproc as farm
import media
from harness import BenchError, median
from report import Section

from storyreel.layout import AssetKind, Layout, TaskState
from storyreel.logs import read_events
from storyreel.media.probe import probe
from storyreel.render.segments import frame_count

FULL = {"seconds": 60.0, "clip_seconds": 5.0, "clips": 14, "size": (1280, 720), "preset": "veryfast",
        "segment_seconds": 10.0, "nodes": [1, 2, 4]}
SMOKE = {"seconds": 12.0, "clip_seconds": 2.0, "clips": 7, "size": (160, 90), "preset": "ultrafast",
         "segment_seconds": 5.0, "nodes": [2]}
CATEGORY = "default"
FPS = 30
RUN_TIMEOUT = 1800.0
# The speed-up asked of N nodes: at least this share of N.
EFFICIENCY_GOAL = 0.8


def _project(root: Path, sizes: dict, segment_seconds: float, work: Path) -> Layout:
    shutil.rmtree(root, ignore_errors=True)
    subprocess.run(farm.storyreel("init", str(root)), check=True, capture_output=True)
    cfg = root / "storyreel.toml"
    width, height = sizes["size"]
    farm.set_options(cfg, "render", {"resolution": f"{width}x{height}", "preset": sizes["preset"],
                                     "encoder": "libx264", "frame_rate": FPS, "segment_seconds": segment_seconds})
    farm.set_options(cfg, "ingest", {"stable_seconds": 0.0})
    # Every variant picks the same clips, so their frames compare (the seed is unset by default).
    cfg.write_text(cfg.read_text().replace("[plan]\n", "[plan]\nseed = 7\n", 1))
    layout = Layout(root)
    for k in range(sizes["clips"]):
        spec = media.ClipSpec("testsrc2" if k % 2 else "mandelbrot", width, height, FPS, sizes["clip_seconds"])
        clip = media.clip(work / "media", spec)
        dst = layout.scanned_clip(AssetKind.VIDEO, CATEGORY, width, height, media.duration(clip), f"c{k:02d}")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(clip, dst)
    music = media.music(work / "media", 20.0)
    mdst = layout.scanned_music(CATEGORY, 20.0, "bench")
    mdst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(music, mdst)
    return layout


def _cores() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def _farm(layout: Layout, voice: Path, nodes: int, logs: Path) -> dict:
    """Start the farm, wait for every node, drop the voice, wait for the video."""
    main, url = farm.start_main(layout.root, logs)
    token = layout.token_file.read_text().strip()
    cores = _cores()
    procs = [main]
    try:
        for number in range(nodes):
            core = str(cores[number % len(cores)])
            procs.append(farm.spawn(f"node-{number + 1}", ["taskset", "-c", core, *farm.storyreel(
                "render", "--server", url, "--token", token, "--encoder", "libx264", "--work-dir",
                str(logs / f"work-{number + 1}"))], logs / f"node-{number + 1}.log"))
        farm.wait_events(layout, "node_registered", nodes, farm.START_TIMEOUT)
        dst = layout.raw / "story" / CATEGORY / "bench" / "voice" / "chapter_0001.mp3"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(voice, dst)
        farm.wait_drained(layout, 1, procs, RUN_TIMEOUT)
        if layout.task_ids(TaskState.FAILED):
            raise BenchError(f"the chapter failed in {layout.root}; see {logs}")
        farm.wait_events(layout, "completed", 1, 30.0)
    finally:
        for proc in procs[1:]:
            proc.stop()
        main.stop()
    events = list(read_events(layout.events_file))
    rendered = [e for e in events if e.get("event") == "rendered"]
    return {"span": farm.event_span(layout), "parts": sum(1 for e in events if e.get("kind") == "segment"
                                                             and e.get("event") == "completed"),
            "nodes_used": len({e["node"] for e in rendered}), "node_seconds": sum(e["seconds"] for e in rendered),
            "output": layout.output_file(layout.task_ids(TaskState.DONE)[0])}


def joints(path: Path, seconds: float) -> dict:
    """Frames against the voice's, the largest step between picture timestamps (in frames),
    and the sound's length against the picture's (ms)."""
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time",
                          "-of", "csv=p=0", f"file:{path}"], capture_output=True, text=True, check=True).stdout
    stamps = sorted(float(t) for t in out.split() if t.strip())
    steps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    info = probe(path)
    audio = info.audio[0].duration if info.audio and info.audio[0].duration else 0.0
    video = info.first_video.duration if info.first_video and info.first_video.duration else 0.0
    return {"frames": len(stamps), "expected": frame_count(seconds, FPS),
            "max_step": max(steps) * FPS if steps else 0.0, "min_step": min(steps) * FPS if steps else 0.0,
            "av_ms": abs(audio - video) * 1000}


def psnr(a: Path, b: Path) -> float:
    """Average PSNR of b's frames against a's (dB)."""
    done = subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-i", f"file:{a}", "-i", f"file:{b}",
                           "-lavfi", "[0:v][1:v]psnr", "-f", "null", "-"], capture_output=True, text=True)
    found = re.findall(r"average:([0-9.]+|inf)", done.stderr)
    return float("inf") if found and found[-1] == "inf" else float(found[-1]) if found else 0.0


def run(work: Path, *, smoke: bool, runs: int, log) -> Section:
    sizes = SMOKE if smoke else FULL
    work.mkdir(parents=True, exist_ok=True)
    voice = media.narration(work / "media", sizes["seconds"])
    seconds = media.duration(voice)
    variants = ([("whole", 1, 0.0)] if not smoke else []) + \
        [(f"split-{n}", n, sizes["segment_seconds"]) for n in sizes["nodes"]]
    results: dict[str, list[dict]] = {name: [] for name, _, _ in variants}
    for attempt in range(runs):
        for name, nodes, segment in variants:
            log(f"split: {name}, run {attempt + 1}")
            layout = _project(work / f"{name}-{attempt}", sizes, segment, work)
            result = _farm(layout, voice, nodes, work / "logs" / f"{name}-{attempt}")
            result["joints"] = joints(result["output"], seconds)
            results[name].append(result)
    return _section(sizes, results, seconds)


def _section(sizes: dict, results: dict[str, list[dict]], seconds: float) -> Section:
    section = Section("13. One long chapter across nodes")
    cores = len(_cores())
    whole = results.get("whole")
    base = median([r["span"] for r in whole]) if whole else None
    width, height = sizes["size"]
    section.add(
        f"One chapter of {seconds:.0f} s ({sizes['clips']} clips of {sizes['clip_seconds']:g} s, "
        f"{width}x{height} {sizes['preset']} libx264, {FPS} fps), rendered by `storyreel main` and N "
        f"`storyreel render` nodes, each pinned to one core with `taskset` (this machine has {cores}). "
        f"*whole*: `segment_seconds = 0`, one node; *split*: `segment_seconds = {sizes['segment_seconds']:g}`. "
        f"Span from the first claim to the video's completion (event log), median of "
        f"{len(next(iter(results.values())))} run(s), the variants interleaved. Nodes beyond {cores} share "
        "a core, so their speed-up is bounded by the cores.",
        "",
    )
    rows = []
    for name, found in results.items():
        span = median([r["span"] for r in found])
        nodes = int(name.split("-")[1]) if name.startswith("split") else 1
        speedup = base / span if base else None
        joint = found[0]["joints"]
        rows.append([name, str(nodes), str(found[0]["parts"]), f"{span:.1f} s",
                     f"{speedup:.2f}x" if speedup else "-",
                     f"{speedup / min(nodes, cores):.2f}" if speedup else "-",
                     f"{median([r['node_seconds'] for r in found]):.1f} s",
                     f"{joint['frames']}/{joint['expected']}", f"{joint['min_step']:.2f}–{joint['max_step']:.2f}",
                     f"{joint['av_ms']:.0f} ms",
                     f"{psnr(whole[0]['output'], found[0]['output']):.1f} dB" if whole and name != "whole" else "-"])
        section.figures[name] = {"span": span, "speedup": speedup, "parts": found[0]["parts"], **joint}
        if speedup and name.startswith("split") and nodes > 1:
            section.target(f"13. Split | {nodes} one-core nodes: speed-up over one node, per node",
                           speedup / nodes, EFFICIENCY_GOAL, above=True, fmt="{:.2f}",
                           why=f"{cores} cores: nodes beyond them share one" if nodes > cores else "")
    section.table(["variant", "nodes", "parts", "span", "speed-up", "per usable core", "node busy time",
                   "frames", "timestamp steps (frames)", "sound − picture", "PSNR vs whole"], rows)
    return section


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]), smoke="--smoke" in sys.argv, runs=1, log=print).figures, indent=1,
                     default=str))
