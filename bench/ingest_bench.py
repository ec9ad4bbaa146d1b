"""Benchmark 4: ingest of a drop of 200 small clips + 20 music + 20 voice files at once.

A running `storyreel main ROOT --listen 127.0.0.1:0` gets the drop (files renamed into
raw/ at once after it started), with FFMPEG/FFPROBE pointing at
tiny bash wrappers that log each call's start and end ($EPOCHREALTIME, no extra
process), so the share of time spent in each kind of run (the probe, the probe that also
decodes every frame, loudness meters, the music's encode, ...) is measured without
touching the product. Arrival in scanned/ is read from the INGESTED events.

With INGEST_BASELINE=<git ref> (e.g. `INGEST_BASELINE=r5-base python bench/run.py ingest`)
the same drop also goes to a main worker running that commit's code, run for run
interleaved with today's, and the section reports both side by side with their ratios.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import farmproc as farm
import media
from harness import BenchError, TreeRssSampler, median, percentile, proc_cpu_seconds
from media import ClipSpec
from report import Section

from storyreel.logs import Event, read_events
from storyreel.project import Project

FULL = {
    "clips": 200,
    "music": 20,
    "voice": 20,
    "clip_seconds": 2,
    "music_seconds": 30,
    "voice_seconds": 6,
    "size": (320, 180),
}
SMOKE = {
    "clips": 8,
    "music": 2,
    "voice": 2,
    "clip_seconds": 1,
    "music_seconds": 6,
    "voice_seconds": 2,
    "size": (160, 90),
}
# Distinct clip contents; the rest of the 200 are copies under new names (ingest does
# the same work for each: it cannot know they are copies without reading them).
DISTINCT_CLIPS = 8
# The stability window the benchmark runs with: the product's default.
STABLE_SECONDS = 3.0
SMOKE_STABLE_SECONDS = 0.5
# The running main worker gets this long after start-up before the drop (watchers armed).
SETTLE_SECONDS = 1.0
# After the burst, this many clips arrive alone, one after another: the latency of a file
# that finds the ingest idle.
LONE_FILES = 3
LONE_PREFIX = "lone_"
# A drop not handled in this long counts as a failed run.
HANDLE_TIMEOUT = 900.0
# The git ref whose code the drop is also given to, for a side-by-side figure.
BASELINE_ENV = "INGEST_BASELINE"
REPO = Path(__file__).resolve().parents[1]
# Kinds of ffmpeg/ffprobe run, by what the wrapper finds in their arguments; the report's rows.
KINDS = {
    "ffprobe": "ffprobe (headers only)",
    "probe_decode": "ffprobe that also decodes every frame (-count_frames)",
    "decode": "full decode of a clip (ffmpeg -xerror)",
    "loudnorm": "loudnorm (measure or normalise)",
    "ebur128": "ebur128 meter",
    "encode": "music encode with the gain (volume, limiter)",
    "speech": "speech measure (silencedetect)",
    "ffmpeg": "other ffmpeg",
}

WRAPPER = """#!/bin/bash
s=$EPOCHREALTIME
"{real}" "$@"
rc=$?
e=$EPOCHREALTIME
kind={kind}
case " $* " in
  *loudnorm*) kind=loudnorm ;; *" -xerror "*) kind=decode ;; *" -count_frames "*) kind=probe_decode ;;
  *ebur128*) kind=ebur128 ;; *libmp3lame*) kind=encode ;; *silencedetect*) kind=speech ;;
esac
printf '%s %s %s %s\\n' "$kind" "$s" "$e" "$rc" >> "{log}"
exit $rc
"""


def _wrappers(folder: Path, log: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    env = {}
    for name, var in (("ffmpeg", "FFMPEG"), ("ffprobe", "FFPROBE")):
        real = shutil.which(name)
        if real is None:
            raise BenchError(f"cannot find {name} on PATH")
        script = folder / name
        script.write_text(WRAPPER.format(real=real, kind=name, log=log))
        script.chmod(0o755)
        env[var] = str(script)
    return env


def _sources(work: Path, sizes: dict) -> tuple[list[Path], list[Path], list[Path]]:
    src = work / "media"
    w, h = sizes["size"]
    kinds = ["testsrc2", "mandelbrot", "life"]
    clips = [
        media.clip(
            src,
            ClipSpec(
                kinds[i % 3], w + 16 * (i // 3), h, (24, 25, 30)[i % 3], sizes["clip_seconds"]
            ),
        )
        for i in range(DISTINCT_CLIPS)
    ]
    music = [media.music(src, sizes["music_seconds"] + i) for i in range(2)]
    voices = [media.narration(src, sizes["voice_seconds"])]
    return clips, music, voices


def _stage(
    root: Path, stage: Path, sizes: dict, clips: list[Path], music: list[Path], voices: list[Path]
) -> list[tuple[Path, Path]]:
    """Copy every file to a staging folder; return (staged, destination under raw/) pairs."""
    pairs = []
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)

    def put(src: Path, dest: Path) -> None:
        staged = stage / uuid.uuid4().hex
        shutil.copyfile(src, staged)
        pairs.append((staged, dest))

    raw = root / "raw"
    for i in range(sizes["clips"]):
        put(clips[i % len(clips)], raw / "video" / "bench" / f"{uuid.uuid4()}.mp4")
    for i in range(sizes["music"]):
        put(music[i % len(music)], raw / "music" / "bench" / f"{uuid.uuid4()}.mp3")
    for i in range(sizes["voice"]):
        put(
            voices[i % len(voices)],
            raw / "story" / "bench" / f"story_{i:03d}" / "voice" / "chapter_0001.mp3",
        )
    return pairs


def _baseline_src(work: Path, ref: str) -> Path:
    """The package source of git ref `ref`, unpacked under `work` (once per ref)."""
    dest = work / f"baseline-{ref.replace('/', '_')}"
    if not (dest / "src" / "storyreel").is_dir():
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        archive = subprocess.run(["git", "-C", str(REPO), "archive", ref, "src"],
                                 capture_output=True, check=False)
        if archive.returncode != 0:
            raise BenchError(f"cannot read {ref} from git: {archive.stderr.decode(errors='replace')}")
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest / "src"


def _one_run(work: Path, index: int, sizes: dict, sources, stable: float, src: Path | None = None) -> dict:
    """One drop to one main worker; `src`: run the package from there (the baseline)."""
    tag = f"{index}{'b' if src else ''}"
    root = work / f"root{tag}"
    if root.exists():
        shutil.rmtree(root)
    project = Project.init(root)
    farm.set_options(project.layout.config_file, "ingest", {"stable_seconds": stable})
    calls_log = work / f"calls{tag}.log"
    calls_log.unlink(missing_ok=True)
    env = {**os.environ, **_wrappers(work / "wrappers", calls_log)}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    pairs = _stage(root, work / f"stage{tag}", sizes, *sources)
    for _, dest in pairs:
        dest.parent.mkdir(parents=True, exist_ok=True)
    main, _url = farm.start_main(root, work / f"logs{tag}", env=env)
    try:
        time.sleep(SETTLE_SECONDS)
        cpu0 = proc_cpu_seconds(main.pid)
        with TreeRssSampler(main.pid) as tree:
            dropped = time.time()
            for staged, dest in pairs:
                os.rename(staged, dest)
            _wait_handled(project, len(pairs), main)
            burst_end = time.time()
        main.sample()
        cpu = main.cpu - cpu0
        lone = _lone_latencies(project, root, sources[0][0], len(pairs), stable, main)
    finally:
        main.stop()
    events = [e for e in read_events(project.layout.events_file) if LONE_PREFIX not in str(e.get("path"))]
    ingested = [e for e in events if e.get("event") == Event.INGESTED]
    rejected = [e for e in events if e.get("event") == Event.REJECTED]
    calls = []
    if calls_log.exists():
        for line in calls_log.read_text().splitlines():
            kind, start, end, _rc = line.split()
            if float(start) <= burst_end:  # the lone clips' calls are not the burst's
                calls.append((kind, float(start), float(end)))
    return _figures(pairs, ingested, rejected, calls, dropped, stable) | {
        "cpu": cpu,
        "peak_rss": main.peak_rss,
        "tree_rss": tree.peak,
        "workers": project.settings.ingest.workers,
        "lone_latency": median(lone),
    }


def _lone_latencies(project: Project, root: Path, clip: Path, handled: int, stable: float,
                    main: farm.Proc) -> list[float]:
    """Drop clips one at a time into an idle main worker; each one's time in scanned/ after
    its own window."""
    latencies = []
    for index in range(LONE_FILES):
        staged = root / f".{LONE_PREFIX}{index}.mp4"  # hidden: ignored until renamed
        shutil.copyfile(clip, staged)
        name = f"{LONE_PREFIX}{index}_{uuid.uuid4().hex}.mp4"
        dropped = time.time()
        os.rename(staged, root / "raw" / "video" / "bench" / name)
        _wait_handled(project, handled + index + 1, main)
        (done,) = [e for e in read_events(project.layout.events_file) if name in str(e.get("path"))]
        latencies.append(done["ts"] - dropped - stable)
    return latencies


def _figures(pairs, ingested, rejected, calls, dropped: float, stable: float) -> dict:
    done_at = max((e["ts"] for e in ingested), default=float("nan"))
    window_end = dropped + stable
    latencies = [e["ts"] - window_end for e in ingested]
    return {
        "files": len(pairs),
        "ingested": len(ingested),
        "rejected": len(rejected),
        "rejected_reasons": sorted({str(e.get("reason"))[:120] for e in rejected})[:3],
        "span": done_at - dropped,
        "after_window": done_at - window_end,
        "latency_p50": percentile(latencies, 50),
        "latency_max": max(latencies, default=float("nan")),
        "first_latency": min(latencies, default=float("nan")),
        **{kind: sum(e - s for k, s, e in calls if k == kind) for kind in KINDS},
        "calls": len(calls),
        "ffprobe_calls": sum(1 for c in calls if c[0] in ("ffprobe", "probe_decode")),
        "ffmpeg_calls": sum(1 for c in calls if c[0] not in ("ffprobe", "probe_decode")),
    }


def _wait_handled(project: Project, total: int, main: farm.Proc) -> None:
    """Wait until every dropped file was ingested or rejected."""
    deadline = time.monotonic() + HANDLE_TIMEOUT
    while True:
        handled = sum(
            1
            for e in read_events(project.layout.events_file)
            if e.get("event") in (Event.INGESTED, Event.REJECTED)
        )
        if handled >= total:
            return
        if main.popen.poll() is not None:
            raise BenchError(
                f"the main worker exited with code {main.popen.returncode}; see {main.log}"
            )
        if time.monotonic() > deadline:
            raise BenchError(
                f"only {handled} of {total} dropped files were handled after {HANDLE_TIMEOUT:g} s"
            )
        main.sample()
        time.sleep(0.1)


def _summary(results: list[dict]) -> dict:
    """Medians of the runs, with the rates derived from them."""
    first = results[0]
    figures = {k: median([r[k] for r in results]) for k in first if isinstance(first[k], int | float)}
    total, active = first["files"], figures["after_window"]
    figures["files_per_second"] = total / active if active > 0 else float("nan")
    figures["worker_seconds_per_file"] = active * first["workers"] / total
    return figures


def _runs(work: Path, sizes: dict, sources, stable: float, runs: int, src: Path | None, log):
    """Today's runs and, with a baseline source, its runs, interleaved (ABBA...)."""
    now, before = [], []
    for index in range(runs):
        order = [None, src] if index % 2 == 0 else [src, None]
        for which in order if src is not None else [None]:
            res = _one_run(work, index, sizes, sources, stable, which)
            (before if which else now).append(res)
            log(f"ingest run {index + 1}/{runs}{' (baseline)' if which else ''}: "
                f"{res['ingested']}/{res['files']} files in {res['span']:.1f} s")
    return now, before


def _rows(now: dict, base: dict | None, total: int) -> list[list[str]]:
    """The table: a figure per row, today's median, and the baseline's with their ratio."""
    def row(name: str, key: str, fmt: str, scale: float = 1.0) -> list[str]:
        cells = [name, fmt.format(now[key] * scale)]
        if base is not None:
            ratio = now[key] / base[key] if base[key] else float("nan")
            cells += [fmt.format(base[key] * scale), f"{ratio:.2f}×"]
        return cells

    def busy(figures: dict) -> float:
        return figures["after_window"] * figures["workers"]

    rows = [
        [f"files handled (ingested / rejected of {total})",
         *[f"{f['ingested']:.0f} / {f['rejected']:.0f}" for f in (now, base) if f is not None],
         *([""] if base is not None else [])],
        row("files per second (after the stability window)", "files_per_second", "{:.1f}"),
        row("last file in scanned/, after drop", "span", "{:.2f} s"),
        row("first file in scanned/, after the window", "first_latency", "{:.2f} s"),
        row("median file in scanned/, after the window (queueing included)", "latency_p50", "{:.2f} s"),
        row(f"a clip arriving alone after the burst, after its window (median of {LONE_FILES})",
            "lone_latency", "{:.2f} s"),
        row("worker time per file (mean)", "worker_seconds_per_file", "{:.3f} s"),
        row("ffprobe calls per file (mean)", "ffprobe_calls", "{:.2f}", 1 / total),
        row("ffmpeg calls per file (mean)", "ffmpeg_calls", "{:.2f}", 1 / total),
    ]
    for kind, label in KINDS.items():
        if now[kind] or (base is not None and base[kind]):
            shares = [f"{f[kind]:.1f} s, {f[kind] / busy(f):.0%}" for f in (now, base) if f is not None]
            rows.append([f"{label}: time, share of worker time", *shares,
                         *([""] if base is not None else [])])
    rows.append(row("main worker CPU (with children)", "cpu", "{:.1f} s"))
    rows.append(row("main worker peak RSS (largest process)", "peak_rss", "{:.0f} MiB", 1 / 2**20))
    rows.append(row("main worker tree peak RSS (with ffprobe/ffmpeg)", "tree_rss", "{:.0f} MiB", 1 / 2**20))
    return rows


def run(work: Path, *, smoke: bool, runs: int, log) -> Section:
    section = Section("4. Ingest")
    sizes = SMOKE if smoke else FULL
    stable = SMOKE_STABLE_SECONDS if smoke else STABLE_SECONDS
    sources = _sources(work, sizes)
    ref = os.environ.get(BASELINE_ENV, "").strip()
    results, before = _runs(work, sizes, sources, stable, runs,
                            _baseline_src(work, ref) if ref else None, log)
    total, workers = results[0]["files"], results[0]["workers"]
    now = _summary(results)
    base = _summary(before) if before else None
    section.figures = dict(now)
    if base is not None:
        section.figures["baseline"] = {"ref": ref, **base}
    section.add(
        f"{sizes['clips']} clips ({sizes['size'][0]}x{sizes['size'][1]}, {sizes['clip_seconds']} s, "
        f"{DISTINCT_CLIPS} distinct contents), {sizes['music']} music files ({sizes['music_seconds']}–"
        f"{sizes['music_seconds'] + 1} s), {sizes['voice']} espeak-ng chapters "
        f"({sizes['voice_seconds']} s) renamed into raw/ at once while `storyreel main` runs, with "
        f"stable_seconds = {stable:g} and {workers} ingest workers. ffprobe/ffmpeg calls timed by "
        "wrapper scripts given as FFPROBE/FFMPEG."
        + (f" The same drop also went to a main worker running `{ref}`, its runs interleaved with "
           f"today's ({runs} each); ratio = today ÷ `{ref}`." if base is not None else ""),
        "",
    )
    header = ["figure", "median"] if base is None else ["figure", "today", f"`{ref}`", "ratio"]
    section.table(header, _rows(now, base, total))
    section.add(
        f"Worker time = ({workers} workers) × (time from the end of the window to the last file).",
        "",
    )
    section.memory += [
        ("main worker (largest process)", f"{total} files dropped", int(now["peak_rss"])),
        ("main worker tree (with ffprobe/ffmpeg)", f"{total} files dropped", int(now["tree_rss"])),
    ]
    if results[0]["rejected_reasons"]:
        section.add("Rejections (first reasons): " + "; ".join(results[0]["rejected_reasons"]), "")
    _targets(section, now, base, total)
    return section


def _targets(section: Section, now: dict, base: dict | None, total: int) -> None:
    workers, per_file = now["workers"], now["worker_seconds_per_file"]
    if base is not None:
        section.target(
            "burst throughput, today ÷ baseline (same drop, same run)",
            now["files_per_second"] / base["files_per_second"], 2.0, above=True, fmt="{:.2f}×",
            goal_text="≥ 2×",
            why="the checks of each file are one process start fewer than before (the probe "
            "decodes the clip; music is metered by ebur128 and gained); what is left is the "
            "decode of every clip and the music's encode, bounded by the cores.",
        )
    section.target(
        "first file in scanned/ after the stability window",
        now["first_latency"], 1.0, fmt="{:.2f} s", goal_text="< 1 s",
        why="the file is taken the moment its window ends (the settler's timer) and its checks "
        "run at once; what remains is the checks themselves and the machine's load.",
    )
    section.target(
        "median file in scanned/ after the stability window",
        now["latency_p50"], 1.0, fmt="{:.2f} s", goal_text="< 1 s",
        why=f"a drop of {total} files is a queue: with {workers} workers and "
        f"{per_file:.2f} s per file, the median file waits for half the queue ahead of it "
        f"({total / 2 * per_file / workers:.1f} s). A burst is bounded by workers × cores, not by "
        "the product's latency: more ingest workers where there are cores to spare, or less "
        f"work per file (now {now['ffprobe_calls'] / total:.1f} ffprobe and "
        f"{now['ffmpeg_calls'] / total:.1f} ffmpeg runs per file on average) would close it. "
        "The first file of the burst shows the latency of a file arriving alone.",
    )
    if now["ingested"] + now["rejected"] < total:
        section.unmeasured(
            "every dropped file handled",
            f"{total}",
            "some files were neither ingested nor rejected",
        )
