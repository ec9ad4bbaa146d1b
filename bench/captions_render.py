"""The cost of captions in a render: the same task rendered without captions, with them
(aligned in the run, as a node does on a first attempt) and with its words.json already
there (the burn-in alone, as on a retry), same preset, each through render_task in a
process of its own (bench/render_one.py), interleaved run by run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import media
from captions_narration import narrate
from harness import Sample, interleave, median, run_measured
from media import ClipSpec
from render_argv import Case
from render_bench import make_task

from storyreel import taskmeta
from storyreel.captions import CaptionSettings, find_font

HERE = Path(__file__).resolve().parent

# Half a minute of a long-video render (alignment and burn-in grow with it as the
# encode does); smoke: three seconds of tiny frames.
CASE = Case("captions 720p", 1280, 720, 30, "veryfast", (0, 1))
SMOKE_CASE = Case("captions smoke", 320, 180, 3, "ultrafast", (0, 1))
CLIPS = [ClipSpec("testsrc2", 1280, 720, 30, 32), ClipSpec("mandelbrot", 1280, 720, 25, 32)]
SMOKE_CLIPS = [ClipSpec("testsrc2", 320, 180, 30, 2), ClipSpec("life", 320, 180, 30, 2)]
# espeak-ng at 175 words a minute says about this many words a second.
WORDS_PER_SECOND = 2.75


def _voice(src: Path, text: str) -> Path:
    wav = narrate(text, src / "captions_voice.wav").wav
    mp3 = src / "captions_voice.mp3"
    subprocess.run([media.FFMPEG, "-y", "-v", "error", "-nostdin", "-i", str(wav), "-c:a", "libmp3lame",
                    "-b:a", "96k", str(mp3)], check=True, stdin=subprocess.DEVNULL)
    return mp3


def _captioned(task: Path, text: str) -> Path:
    """A copy of `task` with captions: its text, the caption font, the [captions] defaults."""
    copy = task.with_name(task.name + "-captioned")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(task, copy)
    (copy / taskmeta.CAPTIONS_TEXT_NAME).write_text(text, encoding="utf-8")
    settings = CaptionSettings()
    names = []
    for face in sorted({find_font(settings.font), find_font(settings.font, bold=True)}):
        names.append(taskmeta.FONT_PREFIX + face.name)
        shutil.copyfile(face, copy / names[-1])
    raw = json.loads((copy / taskmeta.METADATA_NAME).read_text(encoding="utf-8"))
    raw["captions"] = {**settings.model_dump(mode="json"), "font_files": names}
    (copy / taskmeta.METADATA_NAME).write_text(json.dumps(raw, indent=2), encoding="utf-8")
    taskmeta.read(copy)  # the product must accept the folder as a captioned task
    return copy


def _render(task: Path, output: Path) -> Sample:
    output.parent.mkdir(parents=True, exist_ok=True)
    sample, stdout = run_measured([sys.executable, str(HERE / "render_one.py"), str(task), str(output)])
    inner = json.loads(stdout.strip().splitlines()[-1])
    return Sample(inner["wall"], sample.cpu, sample.peak_rss, {"process_wall": sample.wall})


def measure_render(work: Path, story: str, *, smoke: bool, runs: int, log) -> dict:  # noqa: ANN001
    """Median render walls without captions, with them aligned in the run, with words.json
    reused; the CPU seconds of each (render_one.py and the ffmpeg it ran); the ratios to
    the render without."""
    case, specs = (SMOKE_CASE, SMOKE_CLIPS) if smoke else (CASE, CLIPS)
    src = work / "media"
    src.mkdir(parents=True, exist_ok=True)
    text = " ".join(story.split()[:int(case.voice_seconds * WORDS_PER_SECOND)])
    voice = _voice(src, text)
    music = media.music(src, max(2.0, case.voice_seconds * 0.6))
    logo = media.logo(src, 32 if smoke else 160, 12 if smoke else 60)
    plain = make_task(work, case, [media.clip(src, spec) for spec in specs], voice, music, logo)
    captioned = _captioned(plain, text)
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    counter = iter(range(1_000_000))

    def aligned() -> Sample:  # a fresh folder: nothing to reuse, the run aligns
        return _render(captioned, out / f"aligned-{next(counter)}" / "final.mp4")

    def burned() -> Sample:  # words.json of the first aligned run: the burn-in alone
        folder = out / "burned"
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out / "aligned-0" / "words.json", folder / "words.json")
        return _render(captioned, folder / "final.mp4")

    variants = {"plain": lambda: _render(plain, out / "plain" / "final.mp4"),
                "aligned": aligned, "burned": burned}
    samples = interleave(variants, runs, lambda name, index, s: log(
        f"captions render run {index + 1}/{runs} {name}: {s.wall:.2f} s"))
    walls = {name: median([s.wall for s in found]) for name, found in samples.items()}
    cpus = {name: median([s.cpu for s in found]) for name, found in samples.items()}
    return {
        "case": f"{case.width}x{case.height}, {media.duration(voice):.0f} s, x264 {case.preset}",
        "runs": runs, "walls": walls, "cpus": cpus,
        "aligned_ratio": walls["aligned"] / walls["plain"],
        "burned_ratio": walls["burned"] / walls["plain"],
        "aligned_cpu_ratio": cpus["aligned"] / cpus["plain"],
        "burned_cpu_ratio": cpus["burned"] / cpus["plain"],
    }
