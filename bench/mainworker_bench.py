"""Benchmark 9: the main worker's idle cost and the planner's cost per chapter.

- Idle: a project with N chapters, each already planned (N task folders queued),
  served by `storyreel main --listen`; the main worker's CPU over an idle window, as a
  share of one core. Before (the branch's base, extracted from git) and after (this
  tree), interleaved, at 2,000 and 10,000 queued.
- Dashboard state: `farmstate.build_state` on the same project (the event log holds
  a task_created line per task), uncached, median of several calls in a fresh process.
- Planning: N chapters with their music and one clip in scanned/, voices filed with
  the duration record ingest writes; `Planner.plan_pending` timed in a fresh process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from io import BytesIO
from pathlib import Path

import farmproc as farm
import media
import pertask_bench
from harness import BenchError, median, proc_cpu_seconds
from report import Section
from tasks import CATEGORY, queue_tasks

from storyreel import voicerecord
from storyreel.layout import MUSIC_NAME, VOICE_NAME, Layout
from storyreel.project import Project

ROOT = Path(__file__).resolve().parents[1]
FULL = {"queued": (2_000, 10_000), "idle_window": 30.0, "settle": 8.0, "state_calls": 3,
        "plan_chapters": 1_000, "plan_base_chapters": 50, "cycle_tasks": 8}
SMOKE = {"queued": (100,), "idle_window": 1.0, "settle": 1.0, "state_calls": 1,
         "plan_chapters": 6, "plan_base_chapters": 3, "cycle_tasks": 2}
RENDER = {"resolution": "160x90", "frame_rate": 30, "logo": "", "output_format": "mp4",
          "encoder": "libx264", "preset": "ultrafast", "quality": 30}

# Timed in a fresh interpreter under either tree: the farm state built `calls` times from
# the event log read once, as the dashboard builds it (nothing else cached).
STATE_SCRIPT = """
import sys, time
from storyreel.project import Project
from storyreel.farmstate.build import build_state
from storyreel.logs import EventReader
project = Project.open(sys.argv[1])
events = EventReader(project.layout.events_file).events()  # the dashboard reads them incrementally
times = []
for _ in range(int(sys.argv[2])):
    began = time.perf_counter()
    build_state(project, events=events)
    times.append(time.perf_counter() - began)
print(sorted(times)[len(times) // 2])
"""
PLAN_SCRIPT = """
import sys, time
from storyreel.project import Project
from storyreel.plan import Planner
project = Project.open(sys.argv[1])
began = time.perf_counter()
created = Planner(project).plan_pending()
print(time.perf_counter() - began, len(created))
"""


def base_tree(work: Path) -> Path:
    """The src/ folder of the branch's base commit (`BENCH_BASE`, default the merge-base
    with main), extracted once: the "before" of every comparison."""
    base = os.environ.get("BENCH_BASE") or _git("merge-base", "HEAD", "main")
    dest = work / f"base-{base[:12]}"
    if not (dest / "src" / "storyreel").is_dir():
        data = subprocess.run(["git", "-C", str(ROOT), "archive", base, "src"], capture_output=True,
                              check=True).stdout
        with tarfile.open(fileobj=BytesIO(data)) as archive:
            archive.extractall(dest, filter="data")
    return dest / "src"


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def _voice(layout: Layout, index: int) -> Path:
    return layout.scanned_voice(CATEGORY, f"story_{index:05d}", "chapter_0001.mp3")


def idle_project(root: Path, count: int, audio: Path) -> Project:
    """N chapters, each with its task queued, and the event log the planner would have left."""
    if root.exists():
        shutil.rmtree(root)
    project = Project.init(root)
    _defaults_only(project.layout.config_file)
    layout = project.layout
    clip = layout.scanned_clip("video", CATEGORY, 160, 90, 2.0, "clip01")
    music = layout.scanned_music(CATEGORY, 2.0, "music")
    for path in (clip, music):
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(audio, path)
    for index in range(count):
        voice = _voice(layout, index)
        voice.parent.mkdir(parents=True)
        voice.write_bytes(b"ID3")
    files = {Layout.video_part_name(1): clip, MUSIC_NAME: music, VOICE_NAME: _voice(layout, 0)}
    ids = queue_tasks(project, count, files, 2.0, RENDER)
    with open(layout.events_file, "a", encoding="utf-8") as log:
        for index, task_id in enumerate(ids):
            chapter = layout.relative(_voice(layout, index))
            log.write(json.dumps({"ts": time.time(), "event": "task_created", "task_id": task_id,
                                  "chapter": chapter, "profile": "main", "voice_duration": 2.0}) + "\n")
    return project


def _defaults_only(config: Path) -> None:
    """Keep only the section headers of storyreel.toml: every setting at its default, so
    both trees read the file (the base does not know the settings added since)."""
    lines = [line for line in config.read_text().splitlines() if line.startswith("[")]
    config.write_text("\n".join(lines) + "\n")


def idle_cpu(root: Path, src: Path, settle: float, window: float, logs: Path) -> float:
    """The main worker's CPU over `window` idle seconds, as a share of one core."""
    proc, _url = farm.start_main(root, logs, env={"PYTHONPATH": str(src)})
    try:
        time.sleep(settle)  # start-up reads every metadata.json once
        before = proc_cpu_seconds(proc.pid)
        time.sleep(window)
        return (proc_cpu_seconds(proc.pid) - before) / window
    finally:
        proc.stop()


def in_tree(src: Path, script: str, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(src)}, check=False, timeout=900)
    if done.returncode != 0:
        raise BenchError(f"timing under {src} failed:\n{done.stderr[-1500:]}")
    return done.stdout.strip()


def plan_project(root: Path, count: int, voice: Path, audio: Path) -> Project:
    """N chapters with music and a clip, none planned yet; voices carry ingest's record."""
    project = idle_project(root, 0, audio)
    seconds = media.duration(voice)
    for index in range(count):
        dest = _voice(project.layout, index)
        dest.parent.mkdir(parents=True)
        os.link(voice, dest)  # one file's bytes: a voice is only read for its duration
        voicerecord.write(dest, seconds)
    return project


def run(work: Path, *, smoke: bool, runs: int, log) -> Section:
    sizes = SMOKE if smoke else FULL
    section = Section("9. Main worker and per-task cost")
    trees = {"before": base_tree(work), "after": ROOT / "src"}
    audio = media.music(work / "media", 2.0)
    idle: dict[int, dict[str, list[float]]] = {}
    state: dict[int, dict[str, list[float]]] = {}
    for count in sizes["queued"]:
        root = work / f"idle-{count}"
        idle_project(root, count, audio)
        idle[count] = {name: [] for name in trees}
        state[count] = {name: [] for name in trees}
        for index in range(runs):
            for name, src in trees.items():
                cpu = idle_cpu(root, src, sizes["settle"], sizes["idle_window"], work / "logs")
                took = float(in_tree(src, STATE_SCRIPT, str(root), str(sizes["state_calls"])))
                idle[count][name].append(cpu)
                state[count][name].append(took)
                log(f"idle {count} queued, {name} run {index + 1}: {cpu:.1%} of a core, state {took * 1000:.0f} ms")
    planning = plan_rates(work, sizes, trees, runs, log)
    _report(section, sizes, idle, state, planning)
    pertask_bench.measure(section, work, trees, sizes["cycle_tasks"], runs, log)
    return section


def plan_rates(work: Path, sizes: dict, trees: dict[str, Path], runs: int, log) -> dict[str, dict]:
    """Seconds per chapter planned, before and after (before on fewer chapters: it probes each)."""
    voice = media.narration(work / "media", 2.0)
    audio = media.music(work / "media", 2.0)
    counts = {"before": sizes["plan_base_chapters"], "after": sizes["plan_chapters"]}
    result: dict[str, dict] = {name: {"chapters": counts[name], "seconds": []} for name in trees}
    for index in range(runs):
        for name, src in trees.items():
            root = work / f"plan-{name}"
            if root.exists():
                shutil.rmtree(root)
            plan_project(root, counts[name], voice, audio)
            seconds, created = in_tree(src, PLAN_SCRIPT, str(root)).split()
            if int(created) != counts[name]:
                raise BenchError(f"{name}: {created} tasks planned for {counts[name]} chapters")
            result[name]["seconds"].append(float(seconds))
            log(f"planning, {name} run {index + 1}: {counts[name]} chapters in {float(seconds):.2f} s")
    return result


def _report(section: Section, sizes: dict, idle: dict, state: dict, planning: dict) -> None:
    section.add(
        "A project whose chapters all have their task queued, served by `storyreel main --listen` "
        f"with no node: the main worker's CPU over {sizes['idle_window']:g} idle seconds (after "
        f"{sizes['settle']:g} s of start-up), and the farm state the dashboard and `status` show, "
        "built in a fresh process from the event log read once, as the dashboard does (median of "
        f"{sizes['state_calls']} calls). Before = the branch's base, after = this tree, interleaved.",
        "",
    )
    rows = []
    for count in idle:
        cpu = {name: median(values) for name, values in idle[count].items()}
        took = {name: median(values) for name, values in state[count].items()}
        rows.append([f"{count:,}", f"{cpu['before']:.1%}", f"{cpu['after']:.1%}",
                     f"{cpu['after'] / cpu['before']:.3f}" if cpu["before"] else "n/a",
                     f"{took['before'] * 1000:.1f} ms", f"{took['after'] * 1000:.1f} ms",
                     f"{took['after'] / took['before']:.3f}"])
        section.figures[f"idle_{count}"] = {"cpu": cpu, "state": took}
    section.table(["queued", "idle CPU before", "after", "after/before", "state before", "after",
                   "after/before"], rows)
    last = max(idle)
    section.target(f"idle main-worker CPU, {last:,} queued, share of one core",
                   median(idle[last]["after"]) * 100, 2.0, fmt="{:.1f} %",
                   why="the idle pass still lists or reads something per queued task")
    section.target(f"dashboard state, {last:,} queued", median(state[last]["after"]) * 1000, 20.0,
                   fmt="{:.1f} ms", why="building the farm state still walks every task folder")
    rate = {name: median(p["seconds"]) / p["chapters"] for name, p in planning.items()}
    section.add(
        f"Planning: chapters with music and one clip, none planned; `Planner.plan_pending` in a fresh "
        f"process. Before planned {planning['before']['chapters']:,} chapters (it probes every voice), "
        f"after {planning['after']['chapters']:,} (the voices carry ingest's duration record).",
        "",
    )
    section.table(["", "chapters", "median wall", "per chapter"], [
        [name, f"{p['chapters']:,}", f"{median(p['seconds']):.2f} s", f"{rate[name] * 1000:.1f} ms"]
        for name, p in planning.items()
    ] + [["after/before per chapter", "", "", f"{rate['after'] / rate['before']:.3f}"]])
    section.figures["planning"] = {"per_chapter": rate, **planning}
    projected = rate["after"] * 2000  # planning is linear in chapters: each is planned alone
    section.target("2,000 chapters planned (from the rate per chapter)", projected, 10.0, fmt="{:.1f} s",
                   why="planning still probes or writes more than a task folder per chapter")
