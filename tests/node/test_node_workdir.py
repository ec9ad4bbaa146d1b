"""A render node's work dir: one scratch folder per attempt, named after the task's layout id."""

from __future__ import annotations

from pathlib import Path

from storyreel.layout import ATTEMPT_DIR_RE, TASK_ID_RE, attempt_dir_name
from storyreel.node.pipeline import clear_leftovers

TASK = "5679726c-1f79-441a-a214-af56456f98ce"


def test_a_restarted_node_clears_only_its_own_leftovers(tmp_path: Path) -> None:
    left = tmp_path / attempt_dir_name(TASK, 2)
    (left / "inputs").mkdir(parents=True)
    (left / "inputs" / "voice.mp3").write_bytes(b"x")
    mine = tmp_path / "notes"
    mine.mkdir()
    clear_leftovers(tmp_path)
    assert not left.exists() and mine.is_dir()


def test_scratch_names_are_a_task_id_and_an_attempt() -> None:
    assert attempt_dir_name(TASK, 12) == f"{TASK}-a12"
    assert TASK_ID_RE.match(TASK) and ATTEMPT_DIR_RE.match(f"{TASK}-a12")
    for other in (TASK, f"{TASK}-a", f"{TASK}-ax", f"{TASK.upper()}-a1", f"x{TASK}-a1", f"{TASK}-a1/"):
        assert not ATTEMPT_DIR_RE.match(other), other
