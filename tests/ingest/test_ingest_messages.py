"""What ingest's log lines tell an operator: a duplicate names the file already filed."""

from __future__ import annotations

from ingest_helpers import drop, ingest_all, log_messages


def test_a_duplicate_rejection_names_the_file_in_scanned(project, media):
    clip = media.clip(seconds=2.0)
    drop(project, "video/action/same.mp4", clip)
    ingest_all(project)
    drop(project, "video/action/same.mp4", clip)
    ingest_all(project)
    rejected = [m for m in log_messages(project, "WARN") if m.startswith("Rejected raw/video/action/same.mp4")]
    assert rejected == ["Rejected raw/video/action/same.mp4 → trash/invalid/video/action/same.mp4: "
                        "duplicate of scanned/video/action/mp4_w160_h90/2.0_same.mp4"]
