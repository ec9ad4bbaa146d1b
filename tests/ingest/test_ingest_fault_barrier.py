"""No error while handling one file stops the main worker: the file goes to trash/invalid/
with the error as its reason, or waits in raw/ for a pause that grows with each failure."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_helpers import drop, files_under, ingest_all, log_messages, reason_of

import storyreel.ingest as ingest
from storyreel.errors import FilesystemError
from storyreel.ingest import Ingestor
from storyreel.ingest.holds import MAX_RETRY_SECONDS, RETRY_SECONDS
from storyreel.layout import Layout, RawRole


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _classify_failing_for(monkeypatch, name: str, exc: Exception) -> None:
    real = Layout.classify_raw

    def classify(self, path: Path):
        if Path(path).name == name:
            raise exc
        return real(self, path)

    monkeypatch.setattr(Layout, "classify_raw", classify)


def test_an_unexpected_error_in_a_check_trashes_that_file_only(project, media, monkeypatch):
    real = ingest.STAGES[RawRole.VIDEO]

    def stage(project, asset, sig):
        if asset.name == "cursed.mp4":
            raise RuntimeError("decoder table overflow")
        return real(project, asset, sig)

    monkeypatch.setitem(ingest.STAGES, RawRole.VIDEO, stage)
    drop(project, "video/action/cursed.mp4", media.clip(seconds=1.0))
    drop(project, "video/action/fine.mp4", media.clip(seconds=1.0))
    ingest_all(project)
    assert files_under(project.layout.raw) == []
    assert (project.layout.scanned / "video/action/mp4_w160_h90/1.0_fine.mp4").is_file()
    reason = reason_of(project.layout.invalid / "video/action/cursed.mp4")["reason"]
    assert reason == "storyreel could not handle this file (RuntimeError: decoder table overflow)"
    errors = log_messages(project, "ERROR")
    assert errors == ["Moved raw/video/action/cursed.mp4 to trash/invalid/ after an unexpected error: "
                      "RuntimeError: decoder table overflow"]


def test_an_unexpected_error_in_the_main_thread_does_not_stop_the_pass(project, media, monkeypatch):
    _classify_failing_for(monkeypatch, "odd.mp4", UnicodeEncodeError("utf-8", "x", 0, 1, "surrogates"))
    drop(project, "video/action/odd.mp4", media.clip(seconds=1.0))
    drop(project, "video/action/fine.mp4", media.clip(seconds=1.0))
    ingest_all(project)
    assert files_under(project.layout.raw) == []
    assert (project.layout.scanned / "video/action/mp4_w160_h90/1.0_fine.mp4").is_file()
    assert "UnicodeEncodeError" in reason_of(project.layout.invalid / "video/action/odd.mp4")["reason"]
    (error,) = log_messages(project, "ERROR")
    assert error.startswith("Moved raw/video/action/odd.mp4 to trash/invalid/ after an unexpected error")


def test_a_file_that_cannot_even_be_trashed_waits_ever_longer(project, media, monkeypatch):
    _classify_failing_for(monkeypatch, "stuck.mp4", KeyError("no such role"))
    tries = []

    def reject(project, path, reason, **_kw):
        tries.append(reason)
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(ingest, "reject", reject)
    raw = drop(project, "video/action/stuck.mp4", media.clip(seconds=1.0))
    clock = _Clock()
    ingestor = Ingestor(project, clock=clock)
    try:
        pauses = []
        for _ in range(9):
            ingestor.run_pass()
            ingestor.run_pass()  # nothing new within the pause
            pauses.append(ingestor.holds.pause(raw))
            clock.now += pauses[-1] + 0.1
        assert not ingestor.pending()
    finally:
        ingestor.close()
    assert raw.is_file()
    assert len(tries) == 9
    assert pauses[:4] == [RETRY_SECONDS, 2 * RETRY_SECONDS, 4 * RETRY_SECONDS, 8 * RETRY_SECONDS]
    assert pauses[-1] == MAX_RETRY_SECONDS
    errors = log_messages(project, "ERROR")
    assert len(errors) == 9  # one line per try, each naming the file
    assert all(e.startswith("Left raw/video/action/stuck.mp4 in raw/ after an unexpected error (KeyError")
               and e.endswith("failed too: [Errno 5] Input/output error") for e in errors)


def test_a_held_file_is_tried_again_at_once_when_it_changes(project, media, monkeypatch):
    calls = []

    def full(project, asset, sig):
        calls.append(asset.name)
        raise FilesystemError("move", asset.path, None, "disk full")

    monkeypatch.setitem(ingest.STAGES, RawRole.VIDEO, full)
    raw = drop(project, "video/action/big.mp4", media.clip(seconds=1.0))
    clock = _Clock()
    ingestor = Ingestor(project, clock=clock)
    try:
        for _ in range(3):
            ingestor.run_pass()
            while ingestor.pending():
                ingestor.run_pass()
        assert calls == ["big.mp4"]
        raw.write_bytes(raw.read_bytes() + b"\0")  # the operator copies it again
        ingestor.run_pass()
        while ingestor.pending():
            ingestor.run_pass()
    finally:
        ingestor.close()
    assert calls == ["big.mp4", "big.mp4"]
    assert raw.is_file()  # disk full is not the file's fault: it stays for later
    assert ingestor.holds.pause(raw) == RETRY_SECONDS


@pytest.mark.parametrize("where", ["check", "main"])
def test_a_missing_tool_still_stops_the_worker(project, media, monkeypatch, where):
    from storyreel.errors import ToolMissingError

    def missing(*_a, **_k):
        raise ToolMissingError("ffprobe was not found on PATH")

    if where == "check":
        monkeypatch.setitem(ingest.STAGES, RawRole.VIDEO, missing)
    else:
        monkeypatch.setattr(Layout, "classify_raw", missing)
    raw = drop(project, "video/action/a.mp4", media.clip(seconds=1.0))
    with pytest.raises(ToolMissingError):
        ingest_all(project)
    assert raw.is_file()


def test_a_file_that_cannot_even_be_looked_at_is_not_retried_every_pass(project, media, monkeypatch):
    raw = drop(project, "video/action/locked.mp4", media.clip(seconds=1.0))
    real_lstat = ingest.os.lstat

    def lstat(path, *a, **kw):
        if Path(path) == raw:
            raise PermissionError(13, "Permission denied")
        return real_lstat(path, *a, **kw)

    def reject(project, path, reason, **_kw):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(ingest.os, "lstat", lstat)
    monkeypatch.setattr(ingest, "reject", reject)
    clock = _Clock()
    ingestor = Ingestor(project, clock=clock)
    try:
        for _ in range(3):
            ingestor.run_pass()
        assert len(log_messages(project, "ERROR")) == 1
        clock.now += RETRY_SECONDS + 0.1
        ingestor.run_pass()
        assert len(log_messages(project, "ERROR")) == 2
        assert ingestor.holds.pause(raw) == 2 * RETRY_SECONDS
    finally:
        ingestor.close()
    assert raw.is_file()
