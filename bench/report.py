"""What a benchmark hands back: a markdown section, figures for JSON, and target checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Target:
    """One target from the issue, judged on a measured figure."""

    name: str
    measured: str
    goal: str
    met: bool | None  # None: could not be measured
    note: str = ""  # why it was missed and what would close it (filled when missed)


@dataclass
class Section:
    """One benchmark's part of BENCHMARKS.md."""

    title: str
    lines: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    # (process role, during what, peak RSS bytes) for the memory summary (benchmark 5).
    memory: list[tuple[str, str, int]] = field(default_factory=list)
    elapsed: float = 0.0  # seconds the benchmark took, media generation included

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)

    def table(self, header: list[str], rows: list[list[str]]) -> None:
        self.lines.append("| " + " | ".join(header) + " |")
        self.lines.append("|" + "|".join("---" for _ in header) + "|")
        for row in rows:
            self.lines.append("| " + " | ".join(row) + " |")
        self.lines.append("")

    def target(
        self,
        name: str,
        value: float,
        goal: float,
        *,
        above: bool = False,
        fmt: str = "{:.3f}",
        goal_text: str | None = None,
        why: str = "",
    ) -> Target:
        """Record a target; `above` means the figure must be ≥ goal, else ≤ goal."""
        met = value >= goal if above else value <= goal
        if value != value:  # NaN: not measured
            met = None
        text = goal_text or (("≥ " if above else "≤ ") + fmt.format(goal))
        result = Target(name, fmt.format(value), text, met, "" if met else why)
        self.targets.append(result)
        return result

    def unmeasured(self, name: str, goal: str, why: str) -> None:
        self.targets.append(Target(name, "not measured", goal, None, why))


def merged(sections: list[Section]) -> list[Section]:
    """Sections of the same title joined into one, in the order they came (each benchmark
    writes its own sub-heading inside the shared section)."""
    by_title: dict[str, Section] = {}
    for section in sections:
        first = by_title.setdefault(section.title, section)
        if first is not section:
            first.lines += ["", *section.lines]
            first.figures.update(section.figures)
            first.targets += section.targets
            first.memory += section.memory
            first.elapsed += section.elapsed
    return list(by_title.values())


def memory_section(sections: list[Section]) -> Section:
    """Benchmark 5: the peak RSS each benchmark recorded, gathered in one table."""
    section = Section("5. Memory")
    rows = [
        [role, f"{section_.title}: {during}", f"{peak / 2**20:.0f} MiB"]
        for section_ in sections
        for role, during, peak in section_.memory
    ]
    section.add(
        "Peak resident set size (VmHWM, or wait4's ru_maxrss for a finished process). "
        '"tree" sums a process and its children (ffmpeg, ffprobe) polled every 0.1 s.',
        "",
    )
    if rows:
        section.table(["process", "during", "peak RSS"], rows)
    else:
        section.add("No benchmark recorded memory in this run.", "")
    section.figures = {
        f"{role} / {during}": peak for s in sections for role, during, peak in s.memory
    }
    return section


def render_markdown(
    machine: dict[str, str],
    sections: list[Section],
    *,
    smoke: bool,
    runs: int,
    elapsed: float,
    started: str,
) -> str:
    out = ["# storyreel benchmarks", ""]
    if smoke:
        out += [
            "> **Smoke mode**: tiny sizes, one run. These figures only prove the benchmarks "
            "still run; they say nothing about performance.",
            "",
        ]
    out += [
        f"Measured {started} by `make bench` (`bench/run.py`) in {elapsed / 60:.1f} min; "
        f"every figure is a median of {runs} run(s) and every comparison is a ratio of variants "
        "run side by side, interleaved, in the same session.",
        "",
        "## Machine",
        "",
    ]
    out += [f"- **{key}**: {value}" for key, value in machine.items()]
    out += [
        "",
        "## Targets",
        "",
        "| benchmark | target | measured | goal | met |",
        "|---|---|---|---|---|",
    ]
    for section in sections:
        for tgt in section.targets:
            mark = {True: "yes", False: "**no**", None: "n/a"}[tgt.met]
            out.append(f"| {section.title} | {tgt.name} | {tgt.measured} | {tgt.goal} | {mark} |")
    missed = [(s, t) for s in sections for t in s.targets if t.met is not True]
    if missed:
        out += ["", "### Missed or unmeasured targets", ""]
        for section, tgt in missed:
            out.append(
                f"- **{section.title} — {tgt.name}** ({tgt.measured}, goal {tgt.goal}): {tgt.note}"
            )
    for section in sections:
        took = [f"_Took {section.elapsed / 60:.1f} min._", ""] if section.elapsed else []
        out += ["", f"## {section.title}", "", *took, *section.lines]
    return "\n".join(out).rstrip() + "\n"
