"""Benchmark 6: caption alignment against espeak-ng's own word start times.

A long story (five sentence templates filled at random with a fixed seed, so phrases
recur as they never would in a real story) is spoken
by libespeak-ng, which reports the sample at which each word starts; the alignment's
word starts are compared with those, and its wall time with the narration's length
(× realtime, on one core: pocketsphinx decodes in one thread). Sizes: 1, 10 and 30
minutes (20 s in smoke mode). Then a render with captions against the same render
without (captions_render.py).
"""

from __future__ import annotations

import random
import resource
import statistics
import time
from pathlib import Path

from captions_narration import narrate
from captions_render import measure_render
from harness import median, percentile
from report import Section

from storyreel.captions import align, read_script

FULL_MINUTES = (1, 10, 30)
SMOKE_MINUTES = (1 / 3,)
# espeak-ng at 175 words a minute says about this many words a minute of audio.
WORDS_PER_MINUTE = 165
# Sizes above this many minutes are aligned once, whatever the number of runs.
REPEAT_UP_TO_MINUTES = 1
SEED = 12

_NAMES = ["Ember", "Tobias", "Marguerite", "Oskar", "Priya", "Declan", "Hazel", "Ilse", "Rafael", "Wren", "Cosmo", "Juno"]
_VERBS = ["carried", "found", "mended", "painted", "buried", "followed", "weighed", "counted", "borrowed", "opened", "polished", "wrapped"]
_ADJECTIVES = ["old", "narrow", "silver", "heavy", "crooked", "quiet", "bright", "muddy", "wooden", "frozen", "tiny", "faded"]
_NOUNS = ["lantern", "basket", "ladder", "letter", "compass", "blanket", "kettle", "ribbon", "barrel", "bicycle", "map", "violin"]
_PLACES = ["harbour", "orchard", "chapel", "market", "bridge", "meadow", "cellar", "lighthouse", "quarry", "station", "library", "bakery"]
_TEMPLATES = (
    "{name} {verb} the {adj} {noun} to the {place}.",
    "At the {place}, {name} {verb} a {adj} {noun} while {name2} watched from the {place2}.",
    "Nobody knew why {name} {verb} {count} {noun}s before dawn, but the {place} was never the same.",
    "\"Not again,\" said {name}, and {verb} the {noun} that had rolled under the {adj} {place} door.",
    "By the {ordinal} winter, {name} and {name2} had {verb} every {noun} in the {place}.",
)
_ORDINALS = ["second", "third", "fourth", "fifth", "sixth", "seventh"]


def story(words: int, seed: int = SEED) -> str:
    """A story of about `words` words that never repeats a paragraph."""
    pick = random.Random(seed)
    sentences: list[str] = []
    count = 0
    while count < words:
        sentence = pick.choice(_TEMPLATES).format(
            name=pick.choice(_NAMES), name2=pick.choice(_NAMES), verb=pick.choice(_VERBS),
            adj=pick.choice(_ADJECTIVES), noun=pick.choice(_NOUNS), place=pick.choice(_PLACES),
            place2=pick.choice(_PLACES), count=pick.randint(2, 90), ordinal=pick.choice(_ORDINALS),
        )
        sentences.append(sentence)
        count += len(sentence.split())
    return " ".join(sentences)


def _reference_starts(text: str, narration) -> dict[int, float]:  # noqa: ANN001
    """Word index → espeak-ng's start, for the words espeak-ng reports."""
    owner_at, at = {}, 0
    for index, token in enumerate(text.split()):
        at = text.index(token, at)
        owner_at[at] = index
        at += len(token)
    starts: dict[int, float] = {}
    for word in narration.words:
        if word.pos in owner_at:
            starts.setdefault(owner_at[word.pos], word.start)
    return starts


def _measure(work: Path, minutes: float, runs: int, log) -> dict[str, float]:  # noqa: ANN001
    text = story(int(minutes * WORDS_PER_MINUTE))
    work.mkdir(parents=True, exist_ok=True)
    narration = narrate(text, work / f"story_{minutes:g}min.wav")
    reference = _reference_starts(text, narration)
    script = read_script(text)
    walls: list[float] = []
    cpus: list[float] = []
    for index in range(runs if minutes <= REPEAT_UP_TO_MINUTES else 1):
        began, cpu = time.perf_counter(), _cpu()
        alignment = align(narration.wav, script, work=work)
        walls.append(time.perf_counter() - began)
        cpus.append(_cpu() - cpu)
        log(f"captions {_size(minutes)} run {index + 1}: {walls[-1]:.1f} s ({cpus[-1]:.1f} s CPU)")
    errors = [abs(alignment.words[i].start - start) for i, start in reference.items()]
    return {
        "minutes": minutes, "seconds": narration.seconds, "words": len(script),
        "reference_words": len(errors), "wall": median(walls),
        "realtime": narration.seconds / median(walls), "cpu": median(cpus),
        "cpu_realtime": narration.seconds / median(cpus),
        "median_error": statistics.median(errors), "p95_error": percentile(errors, 95),
        "max_error": max(errors), "unspoken": alignment.quality.unspoken,
        "windows": alignment.quality.windows, "fallback_windows": alignment.quality.fallback_windows,
    }


def _cpu() -> float:
    """CPU seconds of this process and the programs it waited for (ffmpeg, espeak-ng)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _size(minutes: float) -> str:
    return f"{minutes:g} min" if minutes >= 1 else f"{minutes * 60:.0f} s"


def _render_report(section: Section, render: dict) -> None:
    walls = render["walls"]
    section.add(
        "",
        f"Render with captions against the same task without ({render['case']}, two clips, music, "
        f"a logo; render_task in a process of its own, median of {render['runs']} interleaved runs): "
        "*aligned* is a first attempt (the node aligns the text, then burns the captions in the same "
        "graph); *burned* a retry (words.json kept, the burn-in alone).",
        "",
    )
    cpus = render["cpus"]
    section.table(
        ["", "without captions", "with captions, aligned in the run", "with captions, words.json kept"],
        [["wall", f"{walls['plain']:.1f} s", f"{walls['aligned']:.1f} s ({render['aligned_ratio']:.2f}×)",
          f"{walls['burned']:.1f} s ({render['burned_ratio']:.2f}×)"],
         ["CPU", f"{cpus['plain']:.1f} s", f"{cpus['aligned']:.1f} s ({render['aligned_cpu_ratio']:.2f}×)",
          f"{cpus['burned']:.1f} s ({render['burned_cpu_ratio']:.2f}×)"]],
    )
    section.target("render with captions (aligned in the run) / without, wall", render["aligned_ratio"],
                   1.10, fmt="{:.2f}×", why="the machine is shared: wall times of one render vary")
    section.target("render with captions (aligned in the run) / without, CPU", render["aligned_cpu_ratio"],
                   1.10, fmt="{:.2f}×", why="alignment is work the render without captions does not do")


def run(work: Path, *, smoke: bool, runs: int, log) -> Section:  # noqa: ANN001
    section = Section("7. Captions")
    results = [_measure(work, minutes, runs, log) for minutes in (SMOKE_MINUTES if smoke else FULL_MINUTES)]
    section.figures = {_size(r["minutes"]): r for r in results}
    section.add(
        "A generated story (five sentence templates filled at random, fixed seed: whole phrases "
        "recur every few sentences, which makes window cuts harder than in a real story) spoken by libespeak-ng "
        "(en-us, 175 wpm), which reports each word's start sample; `storyreel.captions.align` "
        "(pocketsphinx 5, en-US model from its wheel, windows of about two minutes cut at pauses, each cut "
        "checked by strictly aligning the words either side) times every "
        "word. Errors are |aligned start − espeak-ng start| over the words espeak-ng reports "
        "(it joins a few short words to the next). × realtime = narration seconds / alignment "
        "wall seconds, one process, one thread; × realtime (CPU) = narration seconds / CPU "
        "seconds of that process and the ffmpeg and espeak-ng it ran (what one free core "
        "would take: the figure to read when the machine is busy).",
        "",
    )
    section.table(
        ["narration", "words", "windows (failed strict)", "median error", "p95 error",
         "worst error", "flagged unspoken", "wall", "× realtime", "CPU", "× realtime (CPU)"],
        [[f"{r['seconds'] / 60:.1f} min", str(r["words"]), f"{r['windows']} ({r['fallback_windows']})",
          f"{r['median_error'] * 1000:.0f} ms", f"{r['p95_error'] * 1000:.0f} ms",
          f"{r['max_error'] * 1000:.0f} ms", str(r["unspoken"]), f"{r['wall']:.1f} s",
          f"{r['realtime']:.1f}×", f"{r['cpu']:.1f} s", f"{r['cpu_realtime']:.1f}×"] for r in results],
    )
    for r in results:
        size = _size(r["minutes"])
        section.target(f"median word-start error, {size}", r["median_error"] * 1000, 30, fmt="{:.0f} ms")
        section.target(f"p95 word-start error, {size}", r["p95_error"] * 1000, 100, fmt="{:.0f} ms")
        section.target(f"worst word-start error, {size}", r["max_error"] * 1000, 250, fmt="{:.0f} ms",
                       why="a word after a long pause or a run-on the strict pass squeezed")
    longest = results[-1]
    section.target(f"alignment speed at {_size(longest['minutes'])}, one core (CPU time)",
                   longest["cpu_realtime"], 20.0, above=True, fmt="{:.1f}×",
                   why="pocketsphinx runs in one thread")
    section.target(f"alignment speed at {_size(longest['minutes'])}, wall", longest["realtime"], 20.0,
                   above=True, fmt="{:.1f}×", why="the machine is shared: wall time includes waiting for a core")
    render = measure_render(work / "render", story(2000), smoke=smoke, runs=runs, log=log)
    section.figures["render"] = render
    _render_report(section, render)
    section.memory.append(("benchmark process", "aligning", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
    return section
