"""Benchmark 10: narration speed per engine (× realtime, wall and CPU) and its memory.

A generated story of about two minutes of speech (captions_bench.story, paragraphs of five
sentences) is narrated by each engine this machine runs, each run in a fresh process
(`python bench/narration_bench.py one ENGINE TEXT FOLDER`), so the CPU and peak RSS of
that process and of its children (the engine process, ffmpeg) are its own. A
10,000-word story (about an hour) shows that memory stays flat with the length.
Smoke mode: a tiny text, espeak-ng only.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from captions_bench import story
from harness import median
from report import Section

SMOKE_WORDS = 40
SHORT_WORDS = 330  # about two minutes of speech at either engine's pace
LONG_WORDS = 10_000
PARAGRAPH_SENTENCES = 5
# A run may take this long: an hour of Piper speech is several minutes of CPU.
RUN_TIMEOUT = 3600
# The long text's peak RSS may exceed the two-minute text's by this factor at most.
FLAT_MEMORY = 1.5


def paragraphs(text: str) -> str:
    """`text` with a blank line after every PARAGRAPH_SENTENCES sentences."""
    sentences = text.replace(". ", ".\n").splitlines()
    groups = [" ".join(sentences[i:i + PARAGRAPH_SENTENCES])
              for i in range(0, len(sentences), PARAGRAPH_SENTENCES)]
    return "\n\n".join(groups)


def one(engine: str, text_file: Path, folder: Path) -> dict[str, float]:
    """Narrate in this process; its figures (run as the `one` command)."""
    from storyreel.narration import narrate

    text = text_file.read_text(encoding="utf-8")
    started = time.perf_counter()
    result = narrate(text, folder, engine=engine)
    wall = time.perf_counter() - started
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "words": len(text.split()), "seconds": result.duration, "wall": wall,
        "engine_cpu": result.cpu_seconds,
        "cpu": own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime,
        "rss_self": own.ru_maxrss * 1024, "rss_children": children.ru_maxrss * 1024,
    }


def _run_one(engine: str, text: str, work: Path, name: str) -> dict[str, float]:
    work.mkdir(parents=True, exist_ok=True)
    text_file = work / f"{name}.txt"
    text_file.write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, __file__, "one", engine, str(text_file), str(work / name)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"narrating {name} with {engine} failed: {done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures["realtime"] = figures["seconds"] / figures["wall"]
    figures["cpu_realtime"] = figures["seconds"] / figures["cpu"]
    figures["engine_realtime"] = figures["seconds"] / figures["engine_cpu"]
    return figures


def _medians(samples: list[dict[str, float]]) -> dict[str, float]:
    return {key: median([s[key] for s in samples]) for key in samples[0]}


def _speed_table(section: Section, results: dict[str, dict[str, float]]) -> None:
    section.table(
        ["engine", "words", "speech", "wall", "× realtime (wall)", "CPU, all", "× realtime (CPU)",
         "CPU, engine process", "× realtime (engine CPU)", "peak RSS, largest child"],
        [[engine, f"{r['words']:,.0f}", f"{r['seconds']:.1f} s", f"{r['wall']:.1f} s",
          f"{r['realtime']:.1f}×", f"{r['cpu']:.1f} s", f"{r['cpu_realtime']:.1f}×",
          f"{r['engine_cpu']:.1f} s", f"{r['engine_realtime']:.1f}×",
          f"{r['rss_children'] / 2**20:.0f} MiB"] for engine, r in results.items()],
    )


def _engines() -> list[str]:
    from storyreel.narration import available_engines

    return list(available_engines())


def run(work: Path, *, smoke: bool, runs: int, log) -> Section:  # noqa: ANN001
    section = Section("10. Narration")
    text = paragraphs(story(SMOKE_WORDS if smoke else SHORT_WORDS))
    engines = ["espeak-ng"] if smoke else _engines()
    results: dict[str, dict[str, float]] = {}
    for engine in engines:
        log(f"narration: {engine}, {len(text.split())} words, {runs} run(s)")
        results[engine] = _medians([_run_one(engine, text, work / engine, f"short{n}") for n in range(runs)])
    section.add(
        f"A generated story (captions_bench's templates, paragraphs of {PARAGRAPH_SENTENCES} "
        "sentences) narrated by `storyreel.narration.narrate`, each run in a fresh process; "
        f"medians of {runs} run(s). × realtime = seconds of speech / seconds taken. *CPU, all* "
        "counts the narrating process and its children (the engine process, the loudness "
        "and encoding ffmpeg passes); *CPU, engine process* is synthesis alone. Peak RSS: "
        "the largest child (the engine process).",
        "",
    )
    _speed_table(section, results)
    section.figures = dict(results)
    if "piper" in results:
        section.target("Piper synthesis speed (engine CPU)", results["piper"]["engine_realtime"], 5.0,
                       above=True, fmt="{:.1f}×", why="a neural voice on a shared CPU")
    if not smoke:
        long_text = paragraphs(story(LONG_WORDS))
        log(f"narration: espeak-ng, {len(long_text.split())} words, once")
        long = _run_one("espeak-ng", long_text, work / "long", "long")
        section.figures["long"] = long
        section.add(f"A {LONG_WORDS:,}-word story ({long['seconds'] / 60:.0f} min of speech), "
                    "espeak-ng, once:", "")
        _speed_table(section, {"espeak-ng": long})
        ratio = long["rss_children"] / results["espeak-ng"]["rss_children"]
        section.target(f"peak RSS, {LONG_WORDS:,} words / two minutes (espeak-ng)", ratio, FLAT_MEMORY,
                       fmt="{:.2f}×", why="the engine or ffmpeg holds audio in memory")
        section.memory.append(("narration engine", f"{LONG_WORDS:,} words", int(long["rss_children"])))
    return section


if __name__ == "__main__" and sys.argv[1:2] == ["one"]:
    print(json.dumps(one(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))))
