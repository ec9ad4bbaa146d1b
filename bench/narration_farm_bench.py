"""Benchmark 12: narrate and render tasks sharing the farm's nodes.

The same chapters are made twice with `storyreel run ROOT --until-idle --nodes N`:

- voices given: each chapter's voice is already in scanned/ (an operator's recording:
  here the engine's own narration of the chunk, made beforehand, so both runs render the
  same lengths), so the farm renders only;
- from text: only the chunks are there, `[narration] mode = "missing"`, `wait_seconds = 0`:
  each chapter is a narrate task, then its render, on the same nodes.

Figures from the event log: the span from the first claim to the last completed task,
videos per hour, the share of node time the narrate tasks took, and each narration's
speed (seconds of speech per second of its stage).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import farmproc as farm
import media
from harness import BenchError, median
from report import Section

from storyreel.layout import AssetKind, TaskState
from storyreel.logs import read_events
from storyreel.project import Project

FULL = {"chapters": 4, "words": 150, "nodes": 2, "engine": "auto", "size": (640, 360)}
SMOKE = {"chapters": 1, "words": 15, "nodes": 1, "engine": "espeak-ng", "size": (160, 90)}
CATEGORY = "default"
RUN_TIMEOUT = 3600.0


def _text(words: int, number: int) -> str:
    """A chunk of `words` words of the benchmark story, a different start for each chapter."""
    story = (media.STORY * (words // max(1, len(media.STORY.split())) + 2)).split()
    start = (number * 17) % 40
    return " ".join(story[start:start + words]) + "."


def _project(root: Path, sizes: dict, *, narrate: bool) -> Project:
    subprocess.run(farm.storyreel("init", str(root)), check=True, capture_output=True)
    cfg = root / "storyreel.toml"
    width, height = sizes["size"]
    farm.set_options(cfg, "render", {"resolution": f"{width}x{height}", "preset": "ultrafast", "encoder": "libx264"})
    farm.set_options(cfg, "ingest", {"stable_seconds": 0.0})
    farm.set_options(cfg, "narration", {"mode": "missing" if narrate else "off", "wait_seconds": 0.0,
                                        "engine": sizes["engine"]})
    return Project.open(root)


def _assets(project: Project, work: Path, seconds: float, size: tuple[int, int]) -> None:
    layout = project.layout
    clip = media.clip(work, media.ClipSpec("testsrc2", *size, 30, round(seconds, 1)))
    dst = layout.scanned_clip(AssetKind.VIDEO, CATEGORY, *size, media.duration(clip), "bench")
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(clip, dst)
    music = media.music(work, 20.0)
    mdst = layout.scanned_music(CATEGORY, 20.0, "bench")
    mdst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(music, mdst)


def _voices(texts: list[str], work: Path, engine: str) -> list[Path]:
    """The engine's narration of each text, made once (the "operator's" recordings)."""
    from storyreel.narration import narrate

    voices = []
    for number, text in enumerate(texts, start=1):
        folder = work / f"voice-{number}"
        if not (folder / "voice.mp3").is_file():
            narrate(text, folder, engine=engine)
        voices.append(folder / "voice.mp3")
    return voices


def _run(project: Project, nodes: int) -> dict:
    layout = project.layout
    env = {**os.environ, "STORYREEL_LOG_LEVEL": "INFO"}
    started = time.monotonic()
    done = subprocess.run(farm.storyreel("run", str(layout.root), "--until-idle", "--nodes", str(nodes)),
                          capture_output=True, text=True, timeout=RUN_TIMEOUT, env=env, stdin=subprocess.DEVNULL)
    wall = time.monotonic() - started
    if done.returncode != 0 or layout.task_ids(TaskState.FAILED):
        raise BenchError(f"storyreel run failed in {layout.root}: {done.stderr[-2000:]}")
    events = list(read_events(layout.events_file))
    narrating = {e["task_id"] for e in events if e.get("event") == "task_created" and e.get("kind") == "narrate"}
    rendered = [e for e in events if e.get("event") == "rendered"]
    busy = sum(e["seconds"] for e in rendered)
    narrate_busy = sum(e["seconds"] for e in rendered if e["task_id"] in narrating)
    speeds = [e["media_seconds"] / e["seconds"] for e in rendered if e["task_id"] in narrating and e["seconds"] > 0]
    return {"span": farm.event_span(layout), "wall": wall, "videos": len(layout.task_ids(TaskState.DONE)),
            "narrations": len(narrating), "narrate_share": narrate_busy / busy if busy else 0.0,
            "speed": median(speeds) if speeds else 0.0}


def run(work: Path, *, smoke: bool, runs: int, log) -> Section:
    sizes = SMOKE if smoke else FULL
    work.mkdir(parents=True, exist_ok=True)
    texts = [_text(sizes["words"], n) for n in range(1, sizes["chapters"] + 1)]
    voices = _voices(texts, work / "voices", "espeak-ng" if sizes["engine"] == "espeak-ng" else "auto")
    longest = max(media.duration(v) for v in voices)
    given, spoken = [], []
    for attempt in range(runs):
        for narrate, results in ((False, given), (True, spoken)):
            root = work / f"{'text' if narrate else 'voices'}-{attempt}"
            shutil.rmtree(root, ignore_errors=True)
            project = _project(root, sizes, narrate=narrate)
            _assets(project, work / "media", longest + 2.0, sizes["size"])
            for number, (text, voice) in enumerate(zip(texts, voices, strict=True), start=1):
                story = f"story{number}"
                project.layout.scanned_chunk(CATEGORY, story, 1).parent.mkdir(parents=True, exist_ok=True)
                project.layout.scanned_chunk(CATEGORY, story, 1).write_text(text + "\n", encoding="utf-8")
                if not narrate:
                    dst = project.layout.scanned_voice(CATEGORY, story, "chapter_0001.mp3")
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy(voice, dst)
            log(f"narration farm: {'from text' if narrate else 'voices given'}, run {attempt + 1}")
            results.append(_run(project, sizes["nodes"]))
    return _section(sizes, given, spoken, longest)


def _section(sizes: dict, given: list[dict], spoken: list[dict], seconds: float) -> Section:
    section = Section("12. Narrate and render sharing nodes")
    span_given, span_spoken = median([r["span"] for r in given]), median([r["span"] for r in spoken])
    videos = given[0]["videos"]
    per_hour = {"given": 3600 * videos / span_given, "spoken": 3600 * spoken[0]["videos"] / span_spoken}
    share, speed = median([r["narrate_share"] for r in spoken]), median([r["speed"] for r in spoken])
    section.figures.update({"chapters": sizes["chapters"], "nodes": sizes["nodes"], "span_given": span_given,
                            "span_spoken": span_spoken, "videos_per_hour": per_hour, "narrate_share": share,
                            "narration_speed": speed, "engine": sizes["engine"]})
    section.add(
        f"{sizes['chapters']} chapters of {sizes['words']} words (about {seconds:.0f} s of speech each), "
        f"`storyreel run --until-idle --nodes {sizes['nodes']}`, {sizes['size'][0]}x{sizes['size'][1]} "
        f"ultrafast renders; engine "
        f"`{sizes['engine']}`. Spans from the first claim to the last completed task (event log), medians "
        f"of {len(given)} run(s) of each, interleaved.",
        "",
    )
    section.table(["figure", "voices given", "from text (narrate + render)"], [
        ["span, first claim → last video", f"{span_given:.1f} s", f"{span_spoken:.1f} s"],
        ["videos per hour", f"{per_hour['given']:.0f}", f"{per_hour['spoken']:.0f}"],
        ["throughput from text / voices given", "1.00x", f"{span_given / span_spoken:.2f}x"],
        ["share of node time spent narrating", "-", f"{share:.0%}"],
        ["narration speed (speech s per stage s)", "-", f"{speed:.1f}x realtime"],
    ])
    return section


if __name__ == "__main__":
    print(json.dumps(run(Path(sys.argv[1]), smoke="--smoke" in sys.argv, runs=1, log=print).figures, indent=1))
