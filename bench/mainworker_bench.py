"""Benchmark 9: the main worker's idle cost and the planner's cost per chapter.

- Idle: a project with N chapters, each already planned (N task folders queued),
  served by `storyreel main --listen`; the main worker's CPU over an idle window, as a
  share of one core. Before (the branch's base, extracted from git) and after (this
  tree), interleaved, at 2,000 and 10,000 queued.
- Dashboard state: the state the running main worker serves its dashboard
  (`GET /dashboard/api/state`, each call a new window so none is answered from the cache),
  right after the idle window; and `farmstate.build_state` from the folders alone in a
  fresh process, as `status` builds it with no main worker (the event log holds a
  task_created line per task).
- Planning: N chapters with their music and one clip in scanned/, voices filed with
  the duration record ingest writes; `Planner.plan_pending` timed in a fresh process,
  before and after interleaved on the same N, then 2,000 chapters under this tree.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
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
        "plan_chapters": 400, "plan_target_chapters": 2_000, "cycle_tasks": 8}
SMOKE = {"queued": (100,), "idle_window": 1.0, "settle": 1.0, "state_calls": 1,
         "plan_chapters": 6, "plan_target_chapters": 12, "cycle_tasks": 2}
# The planning target: this many chapters planned in one pass, in under PLAN_TARGET_SECONDS.
PLAN_TARGET_SECONDS = 10.0
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


def idle_cpu(root: Path, src: Path, settle: float, window: float, logs: Path,
             then: Callable[[str, int], None] | None = None) -> float:
    """The main worker's CPU over `window` idle seconds, as a share of one core; `then(url,
    pid)` runs after the window, while the main worker still serves."""
    proc, url = farm.start_main(root, logs, env={"PYTHONPATH": str(src)})
    try:
        time.sleep(settle)  # start-up reads every metadata.json once
        before = proc_cpu_seconds(proc.pid)
        time.sleep(window)
        cpu = (proc_cpu_seconds(proc.pid) - before) / window
        if then is not None:
            then(url, proc.pid)
        return cpu
    finally:
        proc.stop()


# The served state is timed over this many requests after the first: enough CPU ticks
# (10 ms each) to measure a request of a few milliseconds.
STATE_SERVED_CALLS = 10


def served_state(url: str, pid: int, token: str) -> dict[str, float]:
    """The dashboard's state as the main worker serves it: the first request (it reads the
    whole event log and counts the folders), then STATE_SERVED_CALLS more, each with its own
    window so none is answered from the state cache: their median wall time, and the main
    worker's CPU seconds per request (which a loaded machine does not stretch)."""
    import httpx

    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=300) as client:
        def one(window: float) -> float:
            began = time.perf_counter()
            response = client.get(url.rstrip("/") + "/dashboard/api/state", params={"window": window})
            took = time.perf_counter() - began
            if response.status_code != 200:
                raise BenchError(f"the dashboard state answered {response.status_code}: {response.text[:300]}")
            return took

        first = one(3600.0)
        cpu = proc_cpu_seconds(pid)
        walls = [one(3601.0 + index) for index in range(STATE_SERVED_CALLS)]
        cpu = (proc_cpu_seconds(pid) - cpu) / STATE_SERVED_CALLS
        return {"first": first, "served": median(walls), "cpu": cpu}


def idle_and_state(work: Path, sizes: dict, trees: dict[str, Path], runs: int, log) -> tuple[dict, dict]:
    """`state_runs` on a project of each queue length: ({queued: idle}, {queued: state})."""
    audio = media.music(work / "media", 2.0)
    idle: dict[int, dict[str, list[float]]] = {}
    state: dict[int, dict[str, dict[str, list[float]]]] = {}
    for count in sizes["queued"]:
        root = work / f"idle-{count}"
        idle_project(root, count, audio)
        idle[count], state[count] = state_runs(root, trees, sizes, runs, work, log)
    return idle, state


def _ask_state(into: dict[str, float], token: str, url: str, pid: int) -> None:
    into.update(served_state(url, pid, token))


# What state_runs measures of the state, each in seconds.
STATE_FIGURES = ("served", "cpu", "first", "folders")


def state_runs(root: Path, trees: dict[str, Path], sizes: dict, runs: int, work: Path,
               log) -> tuple[dict[str, list[float]], dict[str, dict[str, list[float]]]]:
    """Idle CPU and the state's cost, before and after interleaved: {tree: [cpu]} and
    {tree: {"served"|"cpu"|"first"|"folders": [seconds]}}."""
    token = Project.open(root).token
    idle: dict[str, list[float]] = {name: [] for name in trees}
    state: dict[str, dict[str, list[float]]] = {name: {key: [] for key in STATE_FIGURES} for name in trees}
    for index in range(runs):
        for name, src in trees.items():
            served: dict[str, float] = {}
            ask = functools.partial(_ask_state, served, token)
            cpu = idle_cpu(root, src, sizes["settle"], sizes["idle_window"], work / "logs", then=ask)
            folders = float(in_tree(src, STATE_SCRIPT, str(root), str(sizes["state_calls"])))
            idle[name].append(cpu)
            for key, value in {**served, "folders": folders}.items():
                state[name][key].append(value)
            log(f"idle {root.name}, {name} run {index + 1}: {cpu:.1%} of a core, state served "
                f"{served['served'] * 1000:.1f} ms, {served['cpu'] * 1000:.1f} ms CPU (first "
                f"{served['first'] * 1000:.0f} ms), from the folders {folders * 1000:.0f} ms")
    return idle, state


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
    os.sync()  # the timing starts on a settled disk, not behind this project's own writeback
    return project


def run(work: Path, *, smoke: bool, runs: int, log) -> Section:
    sizes = SMOKE if smoke else FULL
    section = Section("9. Main worker and per-task cost")
    trees = {"before": base_tree(work), "after": ROOT / "src"}
    idle, state = idle_and_state(work, sizes, trees, runs, log)
    _idle_report(section, sizes, idle, state)
    planning(section, work, sizes, trees, runs, log)
    pertask_bench.measure(section, work, trees, sizes["cycle_tasks"], runs, log)
    return section


def planning(section: Section, work: Path, sizes: dict, trees: dict[str, Path], runs: int, log) -> None:
    """The planning rate before and after, interleaved on the same chapters, and the
    planning target's pass measured under this tree."""
    counts = {"before": sizes["plan_chapters"], "after": sizes["plan_chapters"]}
    rates = plan_rates(work, counts, trees, runs, log)
    big = sizes["plan_target_chapters"]
    target = plan_rates(work, {"after": big}, {"after": trees["after"]}, runs, log)["after"]
    _plan_report(section, rates, target)


def plan_rates(work: Path, counts: dict[str, int], trees: dict[str, Path], runs: int, log) -> dict[str, dict]:
    """Seconds to plan `counts[name]` chapters in one pass under each tree, interleaved."""
    voice = media.narration(work / "media", 2.0)
    audio = media.music(work / "media", 2.0)
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
            log(f"planning, {name} run {index + 1}: {counts[name]} chapters in {float(seconds):.2f} s "
                f"(load {os.getloadavg()[0]:.1f})")
    return result


def _idle_report(section: Section, sizes: dict, idle: dict, state: dict) -> None:
    section.add(
        "A project whose chapters all have their task queued, served by `storyreel main --listen` "
        f"with no node: the main worker's CPU over {sizes['idle_window']:g} idle seconds (after "
        f"{sizes['settle']:g} s of start-up); then the farm state its dashboard shows, asked over "
        f"HTTP (`/dashboard/api/state`) once, then {STATE_SERVED_CALLS} more, each a window of its own "
        "so none comes from the cache (their median wall time, and the main worker's CPU per request, "
        "which a loaded machine does not stretch as it stretches wall time); and the "
        "state `status` builds from the folders alone with no main worker (a fresh process, median of "
        f"{sizes['state_calls']} builds). Before = the branch's base, after = this tree, interleaved.",
        "",
    )
    rows = []
    for count in idle:
        cpu = {name: median(values) for name, values in idle[count].items()}
        took = {key: {name: median(parts[key]) for name, parts in state[count].items()} for key in STATE_FIGURES}
        cells = [cell for key in ("served", "cpu", "folders") for cell in _pair(took[key])]
        rows.append([f"{count:,}", f"{cpu['before']:.1%}", f"{cpu['after']:.1%}",
                     f"{cpu['after'] / cpu['before']:.3f}" if cpu["before"] else "n/a", *cells])
        section.figures[f"idle_{count}"] = {"cpu": cpu, "state": took["served"], "state_cpu": took["cpu"],
                                            "state_first": took["first"], "state_from_folders": took["folders"]}
    section.table(["queued", "idle CPU before", "after", "after/before", "dashboard state before", "after",
                   "after/before", "its CPU before", "after", "after/before", "from the folders before",
                   "after", "after/before"], rows)
    last = max(idle)
    section.target(f"idle main-worker CPU, {last:,} queued, share of one core",
                   median(idle[last]["after"]) * 100, 2.0, fmt="{:.1f} %",
                   why="the idle pass still lists or reads something per queued task")
    section.target(f"dashboard state, {last:,} queued", median(state[last]["after"]["served"]) * 1000, 20.0,
                   fmt="{:.1f} ms", why="the served state still lists, reads or serialises something per "
                   "queued task or event")


def _pair(took: dict[str, float]) -> list[str]:
    """Before, after (ms) and their ratio."""
    ratio = f"{took['after'] / took['before']:.3f}" if took["before"] else "n/a"
    return [f"{took['before'] * 1000:.1f} ms", f"{took['after'] * 1000:.1f} ms", ratio]


def _plan_report(section: Section, planning: dict[str, dict], target: dict) -> None:
    rate = {name: median(p["seconds"]) / p["chapters"] for name, p in planning.items()}
    chapters = planning["after"]["chapters"]
    section.add(
        "Planning: chapters with music and one clip, none planned, each voice with ingest's "
        f"duration record; `Planner.plan_pending` in a fresh process on a settled disk, {chapters:,} "
        f"chapters under either tree, interleaved, then {target['chapters']:,} chapters under this tree "
        f"(load average at the end {os.getloadavg()[0]:.1f}).",
        "",
    )
    section.table(["", "chapters", "median wall", "per chapter"], [
        [name, f"{p['chapters']:,}", f"{median(p['seconds']):.2f} s", f"{rate[name] * 1000:.1f} ms"]
        for name, p in planning.items()
    ] + [["after/before per chapter", "", "", f"{rate['after'] / rate['before']:.3f}"],
         ["after, one pass", f"{target['chapters']:,}", f"{median(target['seconds']):.2f} s",
          f"{median(target['seconds']) / target['chapters'] * 1000:.1f} ms"]])
    section.figures["planning"] = {"per_chapter": rate, **planning, "target": target}
    section.target(f"{target['chapters']:,} chapters planned in one pass", median(target["seconds"]),
                   PLAN_TARGET_SECONDS, fmt="{:.1f} s",
                   why="creating a task folder's entries (a folder, two files, the links) is slow on a "
                   "disk other processes keep busy")


def state_only(work: Path, *, smoke: bool, runs: int, log) -> Section:
    """Only the idle CPU and dashboard state part of this benchmark, before and after:
    `python bench/mainworker_bench.py [--smoke] [--runs N] [--work DIR]` prints its table."""
    sizes = SMOKE if smoke else FULL
    section = Section("9. Main worker and per-task cost")
    trees = {"before": base_tree(work), "after": ROOT / "src"}
    idle, state = idle_and_state(work, sizes, trees, runs, log)
    _idle_report(section, sizes, idle, state)
    return section


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=state_only.__doc__)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench" / "state")
    args = parser.parse_args()
    done = state_only(args.work.absolute(), smoke=args.smoke, runs=args.runs,
                      log=lambda line: print(line, file=sys.stderr, flush=True))
    print("\n".join(done.lines))
    for target in done.targets:
        print(f"- {target.name}: {target.measured} (goal {target.goal}, met: {target.met})")
