"""Benchmark 9, per-task part: what one short task costs a node once the farm runs.

One `storyreel render` node drains a queue of tiny tasks (160x90, 2 s, ultrafast) from
`storyreel main --listen`, under the tree before (the branch's base) and after (this
tree), interleaved. Each task folder is what the planner writes: its own chapter voice
(with ingest's record), the scanned sources of its clips and music, the voice's channels.
From the event log: seconds per task (first claim → last completion), the steady state
(one completion to the next, after the first), the node's render stage per task (render,
loudness pass, verification, thumbnail); from the node's debug log, the programs it ran
per task. The render's own ffmpeg command is timed alone on one of the tasks: what the
steady state spends beyond it is the per-task overhead.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import farmproc as farm
from harness import BenchError, median, proc_cpu_seconds, run_measured
from report import Section
from tasks import CATEGORY, queue_tasks

from storyreel import voicerecord
from storyreel.layout import METADATA_NAME, VOICE_NAME, Layout
from storyreel.logs import Event, read_events
from storyreel.media.probe import probe

ROOT = Path(__file__).resolve().parents[1]
# How long a queue may take to drain, and how often the drain is looked at (s).
DRAIN_TIMEOUT = 900.0
POLL = 0.05
# Render stages timed alone per run and tree (the median is reported).
STAGE_RUNS = 5
# The node logs each program it starts at DEBUG (`media "run …"` / `media "start …"`).
PROGRAM_MARKS = (' media "run ', ' media "start ')

# Prints the ffmpeg argv render_task would run for a task folder (the render alone).
ARGV_SCRIPT = """
import json, sys
from pathlib import Path
from storyreel.media.tools import ffmpeg
from storyreel.render import encoders
from storyreel.render.graph import build_argv
from storyreel.render.job import _inputs
from storyreel.taskmeta import read
task = Path(sys.argv[1])
meta = read(task)
enc = encoders.setup(encoders.choose(meta.render.encoder), meta.render.preset, meta.render.quality)
print(json.dumps(build_argv(_inputs(task, meta), meta.render, enc, Path(sys.argv[2]), ffmpeg=ffmpeg())))
"""

# The node's render stage of one task (render_task, then the thumbnail), timed in a fresh
# interpreter under either tree, `runs` times after one to warm up; the voice is touched
# before each, as each task brings a voice of its own. Prints wall and CPU (its programs).
STAGE_SCRIPT = """
import json, os, resource, shutil, sys, time
from pathlib import Path
from storyreel.render.job import render_task
from storyreel.render.thumbnail import make_thumbnail
task, out, runs = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
def cpu():
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime
walls, cpus = [], []
for index in range(runs + 1):
    shutil.rmtree(out, ignore_errors=True)
    os.utime(task / "voice.mp3")
    began, used = time.perf_counter(), cpu()
    result = render_task(task, out / "final.mp4")
    make_thumbnail(task, result.output, out / "thumbnail.jpg")
    if index:
        walls.append(time.perf_counter() - began)
        cpus.append(cpu() - used)
print(json.dumps({"wall": sorted(walls)[len(walls) // 2], "cpu": sorted(cpus)[len(cpus) // 2]}))
"""


def planned_queue(root: Path, work: Path, tasks: int) -> list[str]:
    """`tasks` queued task folders as the planner writes them, each with its own voice."""
    from coord_bench import CHEAP_RENDER, VOICE_SECONDS, _inputs, _project
    from mainworker_bench import _defaults_only

    project = _project(root)
    _defaults_only(project.layout.config_file)
    layout = project.layout
    files = _inputs(work, project)
    ids = queue_tasks(project, tasks, files, VOICE_SECONDS, CHEAP_RENDER)
    channels = probe(files[VOICE_NAME]).first_audio.channels
    sources = {name: layout.relative(path) for name, path in files.items()}
    for index, task_id in enumerate(ids):
        folder = layout.task_dir(task_id)
        # A chapter's voice is its own file (not named chapter_NNNN: the planner leaves it be).
        voice = layout.scanned_voice(CATEGORY, f"story_{index:05d}", "narration.mp3")
        voice.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(files[VOICE_NAME], voice)
        voicerecord.write(voice, VOICE_SECONDS, channels=channels)
        (folder / VOICE_NAME).unlink()
        os.symlink(os.path.relpath(voice, folder), folder / VOICE_NAME)
        meta = json.loads((folder / METADATA_NAME).read_text())
        meta["music_source"] = sources["music.mp3"]
        meta["video_sources"] = [sources[name] for name in meta["video_files"]]
        meta["voice_channels"] = channels  # a base tree ignores it
        (folder / METADATA_NAME).write_text(json.dumps(meta))
    return ids


def task_cycle(work: Path, src: Path, tasks: int, index: int) -> dict:
    """One node drains `tasks` planned tasks under the tree `src`; its figures."""
    root = work / f"cycle-{src.parent.name}-{index}"
    ids = planned_queue(root, work, tasks)
    layout = Layout(root)
    alone = work / "alone-task"
    if not alone.exists():
        shutil.copytree(layout.task_dir(ids[0]), alone, symlinks=False)
    env = {"PYTHONPATH": str(src)}
    logs = work / "logs" / root.name
    shutil.rmtree(logs, ignore_errors=True)
    main, url = farm.start_main(root, logs, env=env)
    procs = [main]
    token = layout.token_file.read_text(encoding="utf-8").strip()
    try:
        procs.append(farm.spawn("node", farm.storyreel("render", "--server", url, "--token", token,
                                                       "--log-level", "DEBUG"), logs / "node.log", env))
        cpu = _steady_cpu(layout, tasks, procs)
        farm.wait_events(layout, Event.RENDERED, tasks, timeout=60)
    finally:
        for proc in reversed(procs):
            proc.stop()
    done, failed = farm.finished(layout)
    if done != tasks:
        raise BenchError(f"{done} of {tasks} tasks rendered ({failed} failed); see {logs}")
    return _figures(layout, tasks) | cpu | {"programs": _programs(logs / "node.log") / tasks}


def _steady_cpu(layout: Layout, tasks: int, procs: list[farm.Proc]) -> dict[str, float]:
    """Wait for the drain; CPU seconds per task of the main worker and of the node (each with
    its programs) from the first completed task to the last: the steady state, start-up left out."""
    first: list[float] = []
    deadline = time.monotonic() + DRAIN_TIMEOUT
    while (done := sum(farm.finished(layout))) < tasks:
        if done and not first:
            first = [proc_cpu_seconds(proc.pid) for proc in procs] + [_own_cpu(procs[-1].pid)]
        for proc in procs:
            if proc.popen.poll() is not None:
                raise BenchError(f"{proc.name} exited early with code {proc.popen.returncode}")
        if time.monotonic() > deadline:
            raise BenchError(f"{tasks} tasks not drained in {DRAIN_TIMEOUT:g} s")
        time.sleep(POLL)
    last = [proc_cpu_seconds(proc.pid) for proc in procs] + [_own_cpu(procs[-1].pid)]
    if not first or tasks < 2:
        return {"main_cpu": float("nan"), "node_cpu": float("nan"), "node_python_cpu": float("nan")}
    main, node, python = ((b - a) / (tasks - 1) for a, b in zip(first, last, strict=True))
    return {"main_cpu": main, "node_cpu": node, "node_python_cpu": python}


def _own_cpu(pid: int) -> float:
    """CPU seconds of the process itself, its programs left out (/proc utime + stime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _figures(layout: Layout, tasks: int) -> dict:
    events = list(read_events(layout.events_file))
    claimed = [e["ts"] for e in events if e.get("event") == Event.CLAIMED]
    completed = sorted(e["ts"] for e in events if e.get("event") == Event.COMPLETED)
    rendered = [float(e["seconds"]) for e in events if e.get("event") == Event.RENDERED]
    steady = (completed[-1] - completed[0]) / (len(completed) - 1) if len(completed) > 1 else float("nan")
    return {"per_task": (completed[-1] - min(claimed)) / tasks, "steady": steady,
            "render_stage": median(rendered)}


def _programs(node_log: Path) -> int:
    """How many programs (ffmpeg, ffprobe, fc-match …) the node started."""
    text = node_log.read_text(encoding="utf-8", errors="replace")
    return sum(1 for line in text.splitlines() if any(mark in line for mark in PROGRAM_MARKS))


def ffmpeg_alone(work: Path, runs: int) -> float:
    """The render's own ffmpeg command on one of those tasks, timed alone (median)."""
    out = work / "alone.mp4"
    done = run_measured([sys.executable, "-c", ARGV_SCRIPT, str(work / "alone-task"), str(out)],
                        env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    argv = json.loads(done[1])
    walls = []
    for _ in range(runs):
        out.unlink(missing_ok=True)
        sample, _ = run_measured(argv, cwd=work / "alone-task")
        walls.append(sample.wall)
    return median(walls)


def render_stage(work: Path, src: Path, runs: int) -> dict[str, float]:
    """The render stage of the cycles' first task alone, under the tree `src` (medians)."""
    argv = [sys.executable, "-c", STAGE_SCRIPT, str(work / "alone-task"), str(work / f"stage-{src.parent.name}"),
            str(runs)]
    _sample, printed = run_measured(argv, env={**os.environ, "PYTHONPATH": str(src)})
    return json.loads(printed.strip().splitlines()[-1])


def measure(section: Section, work: Path, trees: dict[str, Path], tasks: int, runs: int, log) -> None:
    """Run the cycles before and after, interleaved, and report them in `section`."""
    cycles: dict[str, list[dict]] = {name: [] for name in trees}
    for index in range(runs):
        for name, src in trees.items():
            cycles[name].append(task_cycle(work, src, tasks, index))
            stage = render_stage(work, src, STAGE_RUNS)
            cycles[name][-1] |= {"stage_alone": stage["wall"], "stage_cpu": stage["cpu"]}
            got = cycles[name][-1]
            log(f"task cycle, {name} run {index + 1}: {got['per_task']:.2f} s a task, steady "
                f"{got['steady']:.2f} s, render stage {got['render_stage']:.2f} s, "
                f"{got['programs']:.1f} programs a task; stage alone {got['stage_alone']:.2f} s, "
                f"CPU {got['stage_cpu']:.2f} s")
    report(section, tasks, cycles, ffmpeg_alone(work, runs))


def report(section: Section, tasks: int, cycles: dict[str, list[dict]], alone: float) -> None:
    fig = {name: {key: median([c[key] for c in runs]) for key in runs[0]} for name, runs in cycles.items()}
    section.add(
        f"Per-task cost: one node (`storyreel render`) drains {tasks} tiny tasks (160x90, 2 s, "
        "ultrafast) from `storyreel main --listen`, each task folder as the planner writes it (its "
        "own chapter voice with ingest's record). *Per task*: first claim to last completion over "
        "the tasks; *steady state*: one completion to the next after the first (the pipeline full); "
        "*render stage*: the node's stage from the render's start to its thumbnail (loudness pass, "
        "render, verification, thumbnail); *programs*: ffmpeg/ffprobe/fc-match runs the node started "
        "per task; *CPU / task*: each process with its programs, from the first completion to the last; "
        f"*render stage alone*: the first task's render and thumbnail in a process of its own, no farm "
        f"around it (median of {STAGE_RUNS}, its voice touched before each, as each task brings its own), "
        "with its programs' CPU. "
        f"*Outside ffmpeg* = steady state − the render's own ffmpeg command timed alone "
        f"({alone:.2f} s). Medians of {len(next(iter(cycles.values())))} interleaved runs.",
        "",
    )
    over = {name: f["steady"] - alone for name, f in fig.items()}
    rows = [[name, f"{f['per_task']:.3f} s", f"{f['steady']:.3f} s", f"{over[name]:.3f} s",
             f"{f['render_stage']:.3f} s", f"{f['programs']:.1f}",
             f"{f['node_cpu']:.3f} s ({f['node_python_cpu']:.3f} s)",
             f"{f['main_cpu']:.3f} s", f"{f['stage_alone']:.3f} s", f"{f['stage_cpu']:.3f} s"]
            for name, f in fig.items()]
    before, after = fig["before"], fig["after"]
    rows.append(["after/before", f"{after['per_task'] / before['per_task']:.3f}",
                 f"{after['steady'] / before['steady']:.3f}",
                 f"{over['after'] / over['before']:.3f}" if over["before"] > 0 else "n/a",
                 f"{after['render_stage'] / before['render_stage']:.3f}",
                 f"{after['programs'] / before['programs']:.2f}",
                 f"{after['node_cpu'] / before['node_cpu']:.3f}", f"{after['main_cpu'] / before['main_cpu']:.3f}",
                 f"{after['stage_alone'] / before['stage_alone']:.3f}",
                 f"{after['stage_cpu'] / before['stage_cpu']:.3f}"])
    section.table(["", "per task", "steady state", "outside ffmpeg", "render stage", "programs",
                   "node CPU / task (its Python)", "main worker CPU / task", "render stage alone",
                   "its programs' CPU"], rows)
    section.figures["task_cycle"] = {"per_tree": fig, "outside_ffmpeg": over, "ffmpeg_alone": alone}
    section.target("steady-state cost per task outside ffmpeg", over["after"], 0.1, fmt="{:.3f} s",
                   why="every task still starts programs of its own beyond the render: the loudness "
                   "pass's two audio-only runs, the verification's ffprobe and loudness meter, the "
                   "thumbnail, and the coordinator's ffprobe of the upload")
