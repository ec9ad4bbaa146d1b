"""Is a rendered file what the task asked for? (ffprobe facts vs the task's render spec)"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from storyreel.media.loudness import Level, measure_file
from storyreel.media.probe import MediaInfo, probe
from storyreel.taskmeta import RenderSpec

# A rate within this of the target counts as the target (30000/1001 is not 30).
RATE_TOLERANCE = 0.01
# An output this close to the loudness target is on target (EBU R128 allows ±1 LU for
# live programmes; the loudness pass lands within a few tenths).
LOUDNESS_TOLERANCE_LU = 1.0
# AAC encoding raises the true peak of a limited mix: by up to 2.3 dB measured here on
# narration brought up 16 dB and limited; more than this over the ceiling is a broken mix.
TRUE_PEAK_TOLERANCE_DB = 3.0


def inspect(path: Path) -> tuple[MediaInfo, Level | None]:
    """What the check reads of a finished render: ffprobe's facts and the loudness meter of
    its sound (None for a file without audio), the two programs run side by side on the
    same file, so their start-ups overlap. MediaError when either cannot read it."""
    with ThreadPoolExecutor(2, thread_name_prefix="verify") as pool:
        metered = pool.submit(measure_file, path)
        info = probe(path)
        return info, (metered.result() if info.audio else None)


def problems(info: MediaInfo, spec: RenderSpec, voice_duration: float) -> list[str]:
    """What is wrong with a render; empty when it is right.

    Right means: one video stream at the output size and frame rate, one audio
    stream, and a duration equal to the voice's within one frame.
    """
    found: list[str] = []
    width, height = spec.size
    frame = 1.0 / spec.frame_rate
    if len(info.video) != 1:
        found.append(f"expected 1 video stream, found {len(info.video)}")
    else:
        video = info.video[0]
        if (video.width, video.height) != (width, height):
            found.append(f"video is {video.width}x{video.height}, expected {width}x{height}")
        if video.fps is None or abs(video.fps - spec.frame_rate) > RATE_TOLERANCE:
            found.append(f"video runs at {video.fps} fps, expected {spec.frame_rate}")
    if len(info.audio) != 1:
        found.append(f"expected 1 audio stream, found {len(info.audio)}")
    durations = {"file": info.duration}
    if info.video:
        durations["video"] = info.video[0].duration
    if info.audio:
        durations["audio"] = info.audio[0].duration
    for what, seconds in durations.items():
        if seconds is None:
            found.append(f"{what} duration unknown")
        elif abs(seconds - voice_duration) > frame + 1e-3:
            found.append(f"{what} lasts {seconds:.3f} s, expected {voice_duration:.3f} s ± {frame:.3f}")
    return found


def loudness_problems(level: Level, spec: RenderSpec) -> list[str]:
    """What is wrong with a render's measured loudness: off the target by more than
    LOUDNESS_TOLERANCE_LU, silent, or a true peak over the ceiling."""
    if level.silent:
        return ["the sound is silent"]
    found = []
    if abs(level.integrated - spec.loudness_lufs) > LOUDNESS_TOLERANCE_LU:
        found.append(f"loudness is {level.integrated:.1f} LUFS, expected {spec.loudness_lufs:g}"
                     f" ± {LOUDNESS_TOLERANCE_LU:g}")
    if level.true_peak is not None and level.true_peak > spec.loudness_true_peak + TRUE_PEAK_TOLERANCE_DB:
        found.append(f"true peak is {level.true_peak:.1f} dBTP, over the {spec.loudness_true_peak:g}"
                     " dBTP ceiling")
    return found
