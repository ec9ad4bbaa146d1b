"""Music: raw/music/<category>/<name>.mp3 → scanned/music/<category>/mp3/<duration>_<name>.mp3, loudness-normalised."""

from __future__ import annotations

from pathlib import Path

from storyreel import fsops
from storyreel.errors import MediaError, Unacceptable
from storyreel.ingest.filing import file_into, reject, rel
from storyreel.ingest.validate import mp3_audio, positive_duration, probed, unreadable
from storyreel.ingest.watch import Signature
from storyreel.layout import AssetKind, RawAsset
from storyreel.media import gain
from storyreel.media.audio import LoudnessTarget
from storyreel.project import Project


def loudness_target(project: Project) -> LoudnessTarget:
    s = project.settings.ingest
    return LoudnessTarget(s.loudness_lufs, s.loudness_true_peak, s.loudness_range)


def ingest_music(project: Project, asset: RawAsset, expect: Signature) -> Path:
    """Check codec and length, then write a normalised copy under the scanned name: one
    ebur128 pass measures it, one encode applies the gain (and a limiter where the peak
    needs it; media.gain).

    The copy is written to a temp name beside its final name and takes that name
    only once complete; the raw original leaves raw/ in the same step.
    """
    info = probed(asset.path)
    audio = mp3_audio(info)
    duration = positive_duration(info)
    minimum = project.settings.ingest.min_music_seconds
    if duration < minimum:
        raise Unacceptable(f"music too short: {duration:.1f} s, at least {minimum:g} s needed")
    dst = project.layout.scanned_music(asset.category, duration, asset.stem)
    if dst.exists():
        return reject(project, asset.path, "duplicate", detail=f"{rel(project, dst)} is already in scanned/",
                      duplicate_of=rel(project, dst))
    target = loudness_target(project)
    try:
        measured = gain.measure(asset.path)
    except MediaError as exc:
        raise unreadable(exc, "cannot measure loudness") from exc
    if measured.silent:
        raise Unacceptable("silent: no measurable loudness")
    dst.parent.mkdir(parents=True, exist_ok=True)
    prepared = fsops.temp_path(dst.parent, dst.name)
    try:
        applied = gain.normalise(asset.path, prepared, target, measured, sample_rate=audio.sample_rate)
        return file_into(
            project, asset.path, dst, kind=str(AssetKind.MUSIC), expect=expect, prepared=prepared,
            duration=round(duration, 3), input_lufs=measured.integrated, target_lufs=target.integrated,
            gain_db=round(applied.gain_db, 2), method=str(applied.method),
        )
    finally:
        prepared.unlink(missing_ok=True)
