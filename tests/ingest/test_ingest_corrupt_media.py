"""Accepted at ingest means it renders: a clip damaged in the middle is rejected."""

from __future__ import annotations

from damaged import garble_middle
from ingest_helpers import drop, files_under, ingest_all, reason_of

from storyreel.media.probe import probe


def test_clip_with_garbage_in_the_middle_goes_to_trash_with_a_reason(project, media, tmp_path):
    good = media.clip(seconds=4.0)
    bad = garble_middle(good, tmp_path / "mid.mp4")
    assert abs(probe(bad).duration - 4.0) < 0.1
    drop(project, "video/action/mid.mp4", bad)
    drop(project, "frame/action/mid.mp4", bad)
    drop(project, "video/action/whole.mp4", good)
    ingest_all(project)
    assert files_under(project.layout.raw) == []
    assert (project.layout.scanned / "video/action/mp4_w160_h90/4.0_whole.mp4").is_file()
    for kind in ("video", "frame"):
        trashed = project.layout.invalid / kind / "action/mid.mp4"
        assert trashed.read_bytes() == bad.read_bytes()
        reason = reason_of(trashed)
        assert reason["reason"].startswith("corrupt video: ")
        assert "mid.mp4" in reason["reason"] and str(project.layout.root) not in reason["reason"]
        assert reason["detail"]
    assert not list((project.layout.scanned / "frame").rglob("*.mp4"))
