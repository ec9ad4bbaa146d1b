"""Run storyreel's benchmarks and write BENCHMARKS.md.

    python bench/run.py                      # everything, full size (≈ 30 min on 2 cores)
    python bench/run.py --smoke              # tiny sizes, one run: proves the benchmarks still run
    python bench/run.py render ingest        # only the named benchmarks

Do not run the full size on a machine others are using: every figure is a ratio of
variants run side by side, but a busy machine still makes them noisy.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import captions_bench  # noqa: E402
import clips_bench  # noqa: E402
import coord_bench  # noqa: E402
import fleet_bench  # noqa: E402
import ingest_bench  # noqa: E402
import mainworker_bench  # noqa: E402
import narration_bench  # noqa: E402
import narration_farm_bench  # noqa: E402
import node_bench  # noqa: E402
import picture_bench  # noqa: E402
import render_bench  # noqa: E402
import sound_bench  # noqa: E402
import split_bench  # noqa: E402
from harness import machine  # noqa: E402
from report import Section, memory_section, merged, render_markdown  # noqa: E402

# Name on the command line → module with run(work, smoke=, runs=, log=) -> Section.
BENCHMARKS = {
    "render": render_bench,
    "node": node_bench,
    "scaling": coord_bench,
    "ingest": ingest_bench,
    "fleet": fleet_bench,
    "captions": captions_bench,
    "picture": picture_bench,
    "mainworker": mainworker_bench,
    "sound": sound_bench,
    "narration": narration_bench,
    "clips": clips_bench,
    "narration-farm": narration_farm_bench,
    "split": split_bench,
}

# The issue asks for medians of at least 3 runs.
FULL_RUNS = 3


def _log(message: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S} {message}", file=sys.stderr, flush=True)


def _number(section: Section) -> tuple[int, str]:
    """A section's place: its number (11 after 9), then its title."""
    head = section.title.partition(".")[0]
    return (int(head) if head.isdigit() else 10**6, section.title)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run ({', '.join(BENCHMARKS)}); default all",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run (CI)")
    parser.add_argument("--runs", type=int, help=f"runs per variant (default {FULL_RUNS}, smoke 1)")
    parser.add_argument(
        "--work",
        type=Path,
        default=HERE.parent / "build" / "bench",
        help="folder for generated media and scratch projects",
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="report to write (default BENCHMARKS.md; with --smoke WORK/smoke/BENCHMARKS.md, "
        "so a smoke run never replaces the real figures)",
    )
    parser.add_argument(
        "--json", type=Path, help="every figure as JSON (default WORK/BENCHMARKS.json)"
    )
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    runs = args.runs or (1 if args.smoke else FULL_RUNS)
    work = (args.work / ("smoke" if args.smoke else "full")).absolute()
    work.mkdir(parents=True, exist_ok=True)
    out = args.out or (work / "BENCHMARKS.md" if args.smoke else HERE.parent / "BENCHMARKS.md")
    started = time.perf_counter()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    info = machine()
    sections: list[Section] = []
    failed = []
    for name in names:
        _log(f"benchmark {name} ({'smoke' if args.smoke else 'full'}, {runs} run(s))")
        began = time.perf_counter()
        try:
            result = BENCHMARKS[name].run(work / name, smoke=args.smoke, runs=runs, log=_log)
        except Exception as exc:  # a failed benchmark is reported, the others still run
            _log(f"benchmark {name} failed: {exc}")
            traceback.print_exc()
            failed.append(name)
            section = Section(name)
            section.add(f"**Failed**: {exc}", "")
            section.unmeasured("runs to completion", "completes", f"the benchmark failed: {exc}")
            result = section
        result.elapsed = time.perf_counter() - began
        sections.append(result)
    sections = merged(sections)  # benchmarks that share a section (8: picture, sound) write one
    sections.append(memory_section(sections))
    sections.sort(key=_number)  # by number: the memory summary (5) before the fleet (6)
    elapsed = time.perf_counter() - started
    text = render_markdown(
        info, sections, smoke=args.smoke, runs=runs, elapsed=elapsed, started=stamp
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    figures = {
        "machine": info,
        "smoke": args.smoke,
        "runs": runs,
        "elapsed": elapsed,
        "sections": {s.title: s.figures for s in sections},
    }
    (args.json or work / "BENCHMARKS.json").write_text(
        json.dumps(figures, indent=2, default=str), encoding="utf-8"
    )
    _log(f"wrote {out} in {elapsed:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
