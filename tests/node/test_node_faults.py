"""The upload fault switch (a test and drill switch, documented in the README)."""

from __future__ import annotations

import pytest

from storyreel.node.faults import FAULT_UPLOADS_ENV, WRONG_SHA256, UploadFaults

REAL = "ab" * 32


def test_the_first_n_upload_tries_announce_a_wrong_sha256(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAULT_UPLOADS_ENV, "2")
    faults = UploadFaults.from_env()
    announced = [faults.announced_sha256("T1", REAL) for _ in range(4)]
    assert announced == [WRONG_SHA256, WRONG_SHA256, REAL, REAL]
    assert WRONG_SHA256 != REAL and len(WRONG_SHA256) == 64


@pytest.mark.parametrize("value", [None, "", "0"])
def test_unset_the_switch_changes_nothing(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv(FAULT_UPLOADS_ENV, raising=False)
    else:
        monkeypatch.setenv(FAULT_UPLOADS_ENV, value)
    assert UploadFaults.from_env().announced_sha256("T1", REAL) == REAL


def test_the_switch_is_the_one_the_readme_documents() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert FAULT_UPLOADS_ENV == "STORYREEL_FAULT_UPLOAD_FAILURES" and f"{FAULT_UPLOADS_ENV}=N" in readme
