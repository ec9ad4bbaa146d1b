"""Benchmark 8 (sound): what the loudness pass and ducking cost, and whether every output
lands on the loudness target.

(a) plain   the render's ffmpeg command with the plain mix (no ducking, no gains: the
            sound as it was before the loudness target), on one task
(b) sound   the same task as a render node makes it now: the loudness pass (two
            audio-only ffmpeg runs), the ducked, levelled render, and the output's
            loudness check (a meter on the finished file)

Every command is run and timed alone (wall and CPU, children included), interleaved.
Then ten chapters whose narrations sit between -30 and -10 LUFS, of different lengths,
over music at different levels, are rendered by `render_task` and their outputs metered.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import media
from harness import BenchError, Sample, interleave, median, run_measured
from media import ClipSpec
from report import Section

from storyreel.media.loudness import measure_file
from storyreel.render import audio, encoders
from storyreel.render.graph import RenderInputs, build_argv
from storyreel.render.job import render_task
from storyreel.taskmeta import RenderSpec

TARGET_LU = 1.0  # every output within this of loudness_lufs
# One chapter for the cost ratio: long enough that per-run start-up is small.
FULL_TASK = {"seconds": 30.0, "size": "1280x720"}
SMOKE_TASK = {"seconds": 2.0, "size": "160x90"}
FULL_CHAPTERS = 10
SMOKE_CHAPTERS = 2
VOICE_RANGE = (-30.0, -10.0)
MUSIC_GAINS_DB = (0.0, -12.0, -24.0)  # the music files' own levels vary too


def _relevel(src: Path, lufs: float, dst: Path) -> Path:
    """`src` re-levelled to measure `lufs` integrated (mono mp3)."""
    if not dst.exists():
        gain = lufs - measure_file(src).integrated
        subprocess.run([media.FFMPEG, "-y", "-v", "error", "-nostdin", "-i", f"file:{src}",
                        "-af", f"volume={gain:.2f}dB", "-ac", "1", "-c:a", "libmp3lame", "-b:a", "96k",
                        f"file:{dst}"], check=True)
    return dst


def _quieter(src: Path, gain_db: float, dst: Path) -> Path:
    if not dst.exists():
        subprocess.run([media.FFMPEG, "-y", "-v", "error", "-nostdin", "-i", f"file:{src}",
                        "-af", f"volume={gain_db:g}dB", "-c:a", "libmp3lame", "-b:a", "128k",
                        f"file:{dst}"], check=True)
    return dst


def _task(folder: Path, clip: Path, music: Path, voice: Path, render: dict) -> Path:
    """A task folder of plain copies, as a render node downloads it."""
    import json

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name, src in (("video_0001.mp4", clip), ("music.mp3", music), ("voice.mp3", voice)):
        shutil.copyfile(src, folder / name)
    (folder / "video_list.txt").write_text("ffconcat version 1.0\nfile video_0001.mp4\n", encoding="utf-8")
    meta = {"task_id": folder.name, "category": "bench", "story_name": "bench", "voice_file": "voice.mp3",
            "voice_duration": media.duration(voice), "music_file": "music.mp3",
            "video_files": ["video_0001.mp4"],
            "render": {"encoder": "libx264", "preset": "veryfast", "logo": "", **render}}
    (folder / "metadata.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


def _timed(argvs: list[list[str]]) -> Sample:
    """The argvs run one after another, as one sample (walls and CPU summed)."""
    samples = [run_measured(argv)[0] for argv in argvs]
    return Sample(sum(s.wall for s in samples), sum(s.cpu for s in samples),
                  max(s.peak_rss for s in samples))


def _cost(work: Path, smoke: bool, runs: int, log) -> dict[str, float]:  # noqa: ANN001
    size = SMOKE_TASK if smoke else FULL_TASK
    seconds = size["seconds"]
    width, height = (int(v) for v in size["size"].split("x"))
    clip = media.clip(work / "media", ClipSpec("testsrc2", width, height, 30, max(2, int(seconds / 3))))
    voice = media.narration(work / "media", seconds)
    task = _task(work / "cost_task", clip, media.music(work / "media", seconds / 2), voice,
                 {"resolution": size["size"]})
    spec = RenderSpec.model_validate({"resolution": size["size"], "encoder": "libx264", "preset": "veryfast"})
    enc = encoders.setup("libx264", spec.preset, spec.quality)
    inputs = _inputs(task)
    out = work / "cost_out.mp4"
    ffmpeg = media.FFMPEG
    plain = build_argv(inputs, spec.model_copy(update={"ducking": False}), enc, out, ffmpeg=ffmpeg)
    # The gains the loudness pass finds, to render (b) exactly as a node does.
    mix = _planned(inputs, spec, ffmpeg)
    balanced = audio.Mix(mix.voice_db, mix.music_db)  # what the second pass meters
    sound = [audio.sources_argv(inputs, ffmpeg), audio.mix_argv(inputs, spec, balanced, ffmpeg),
             build_argv(dataclasses.replace(inputs, sound=mix), spec, enc, out, ffmpeg=ffmpeg),
             [ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-i", f"file:{out}", "-map", "0:a:0",
              "-af", "ebur128=peak=true", "-f", "null", "-"]]
    samples = interleave(
        {"plain": lambda: _timed([plain]), "sound": lambda: _timed(sound),
         "pass": lambda: _timed(sound[:2])},
        runs, on_sample=lambda name, i, s: log(f"sound cost {name} run {i + 1}: {s.wall:.2f} s"))
    wall = {name: median([s.wall for s in got]) for name, got in samples.items()}
    cpu = {name: median([s.cpu for s in got]) for name, got in samples.items()}
    return {"seconds": inputs.duration, "size": size["size"], "wall": wall, "cpu": cpu,
            "ratio": wall["sound"] / wall["plain"], "cpu_ratio": cpu["sound"] / cpu["plain"],
            "pass_cpu_per_minute": cpu["pass"] / (inputs.duration / 60)}


def _planned(inputs: RenderInputs, spec: RenderSpec, ffmpeg: str) -> audio.Mix:
    """The gains a node's loudness pass finds for these inputs."""
    def run(argv: list[str]) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BenchError(f"loudness pass failed: {done.stderr[-500:]}")
        return done.stderr

    return audio.plan_mix(inputs, spec, run, ffmpeg)


def _inputs(task: Path) -> RenderInputs:
    return RenderInputs(videos=[task / "video_0001.mp4"], music=task / "music.mp3", voice=task / "voice.mp3",
                        logo=None, duration=media.duration(task / "voice.mp3"), voice_channels=1,
                        music_channels=2)


def _chapters(work: Path, smoke: bool, log) -> list[dict[str, float]]:  # noqa: ANN001
    count = SMOKE_CHAPTERS if smoke else FULL_CHAPTERS
    low, high = VOICE_RANGE
    clip = media.clip(work / "media", ClipSpec("testsrc2", 160, 90, 30, 2))
    rows = []
    for index in range(count):
        lufs = low + (high - low) * index / (count - 1)
        seconds = (3.0 + index % 2) if smoke else 8.0 + 2.0 * index
        # Metered as the mix plays a mono narration (dual mono), like the render's meters.
        voice = _relevel(media.narration(work / "media", seconds), lufs,
                         work / "media" / f"voice_{index}_{-lufs:g}_dualmono.mp3")
        gain = MUSIC_GAINS_DB[index % len(MUSIC_GAINS_DB)]
        music = _quieter(media.music(work / "media", 6.0), gain, work / "media" / f"music_{-gain:g}dB.mp3")
        task = _task(work / f"chapter_{index}", clip, music, voice, {"resolution": "160x90", "preset": "ultrafast"})
        out = work / f"chapter_{index}.mp4"
        out.unlink(missing_ok=True)
        result = render_task(task, out)
        level = measure_file(out)
        limited = _planned(_inputs(task), RenderSpec(), media.FFMPEG).limit_db is not None
        rows.append({"voice": measure_file(voice).integrated, "music_db": gain, "seconds": result.media_seconds,
                     "output": level.integrated, "true_peak": level.true_peak, "limited": float(limited)})
        log(f"sound chapter {index + 1}: voice {rows[-1]['voice']:.1f} → {level.integrated:.1f} LUFS")
    return rows


def run(work: Path, *, smoke: bool, runs: int, log) -> Section:  # noqa: ANN001
    work.mkdir(parents=True, exist_ok=True)
    section = Section("8. Picture and sound")
    cost = _cost(work, smoke, runs, log)
    rows = _chapters(work, smoke, log)
    section.figures = {"sound": {"cost": cost, "chapters": rows}}
    target = RenderSpec().loudness_lufs
    section.add(
        "### Sound",
        "",
        f"Cost: one task of {cost['seconds']:.0f} s at {cost['size']} (libx264 veryfast, one clip, espeak-ng "
        "narration, music looped). (a) plain: the render's ffmpeg command with the plain mix (no ducking, "
        "no gains). (b) sound: as a node renders now: the loudness pass (two audio-only ffmpeg runs), the "
        "ducked and levelled render, the meter on the finished file. Each command timed alone, interleaved; "
        "medians; CPU includes children.",
        "",
    )
    wall, cpu = cost["wall"], cost["cpu"]
    section.table(
        ["variant", "wall", "CPU", "ratio to (a), wall", "ratio to (a), CPU"],
        [["(a) plain render", f"{wall['plain']:.2f} s", f"{cpu['plain']:.2f} s", "1.000", "1.000"],
         ["(b) loudness pass + ducked render + check", f"{wall['sound']:.2f} s", f"{cpu['sound']:.2f} s",
          f"{cost['ratio']:.3f}", f"{cost['cpu_ratio']:.3f}"],
         ["the loudness pass alone", f"{wall['pass']:.2f} s", f"{cpu['pass']:.2f} s",
          f"{wall['pass'] / wall['plain']:.3f}", f"{cpu['pass'] / cpu['plain']:.3f}"]],
    )
    section.add(f"The loudness pass costs {cost['pass_cpu_per_minute']:.2f} s of CPU per minute of audio.", "")
    section.add(
        f"Loudness of {len(rows)} chapters: narrations from {VOICE_RANGE[0]:g} to {VOICE_RANGE[1]:g} LUFS, "
        "lengths and music levels varied, ducking on, target "
        f"{target:g} LUFS / {RenderSpec().loudness_true_peak:g} dBTP; outputs metered with ffmpeg ebur128.",
        "",
    )
    section.table(
        ["narration", "music file gain", "length", "output", "off target", "true peak", "limiter"],
        [[f"{r['voice']:.1f} LUFS", f"{r['music_db']:g} dB", f"{r['seconds']:.1f} s", f"{r['output']:.1f} LUFS",
          f"{r['output'] - target:+.1f} LU", f"{r['true_peak']:.1f} dBTP", "yes" if r["limited"] else "no"]
         for r in rows],
    )
    worst = max(abs(r["output"] - target) for r in rows)
    section.target(f"sound: worst output off the target, {len(rows)} chapters", worst, TARGET_LU,
                   fmt="{:.2f} LU", goal_text=f"≤ {TARGET_LU:g} LU")
    return section
