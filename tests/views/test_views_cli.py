"""`storyreel tasks` and `storyreel outputs` as an operator runs them: subprocesses on a
project with a task in every state; names (category, story, chapter) shown, JSON parses,
nothing moved."""

from __future__ import annotations

import json
from pathlib import Path

from cli.clikit import storyreel
from viewskit import STATES, every_state


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if "logs" not in p.parts}


def test_tasks_lists_every_state_by_name(tmp_path: Path, media):
    project, ids = every_state(tmp_path / "root", media)
    root = project.layout.root
    before = _tree(root)

    listed = storyreel("tasks", root, "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]["story"]: row for row in json.loads(listed.stdout)}
    assert set(rows) == set(STATES)
    for story, state in STATES.items():
        row = rows[story]
        assert row["task_id"] == ids[story]
        assert row["state"] == state
        assert row["name"] == {"category": "tales", "story": story, "chapter": 1, "profile": "main",
                               "label": f"tales/{story} chapter 1"}
        assert row["folder"].endswith(ids[story])
    assert rows["story1"]["node"] == ""  # queued: nobody holds it
    assert rows["story2"]["node"] == rows["story3"]["node"] == rows["story4"]["node"] == "render-1"
    assert rows["story4"]["reason"] == "ffmpeg exited with status 1"
    assert all(row["since"] is not None and row["created"] is not None for row in rows.values())

    table = storyreel("tasks", root, columns=200)
    assert table.returncode == 0, table.stderr
    lines = {line.split("│")[2].strip(): line for line in table.stdout.splitlines() if "│ tales" in line}
    for story, state in STATES.items():
        assert state in lines[story] and ids[story][:8] in lines[story]
    assert ids["story1"] not in table.stdout  # the uuid is short, the name comes first
    assert f"failed {ids['story4'][:8]} tales/story4 chapter 1: ffmpeg exited with status 1" in table.stdout

    failed = storyreel("tasks", root, "--state", "failed", "--state", "done", "--json")
    assert sorted(r["name"]["story"] for r in json.loads(failed.stdout)) == ["story3", "story4"]
    one = storyreel("tasks", root, "--story", "story2", "--json")
    assert [r["state"] for r in json.loads(one.stdout)] == ["processing"]
    assert "no task matches" in storyreel("tasks", root, "--category", "nowhere").stdout
    assert _tree(root) == before  # a reader moves nothing


def test_outputs_lists_finished_videos_with_path_duration_and_size(tmp_path: Path, media):
    project, ids = every_state(tmp_path / "root", media)
    root = project.layout.root
    listed = storyreel("outputs", root, "--json")
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    video = project.layout.output_file(ids["story3"])
    assert row["task_id"] == ids["story3"]
    assert row["name"]["label"] == "tales/story3 chapter 1"
    assert row["path"] == f"output/{ids['story3']}/final.mp4"
    assert row["size_bytes"] == video.stat().st_size > 0
    assert abs(row["duration"] - 3.0) < 0.1  # the voice it was rendered to (render/verify checks it)

    table = storyreel("outputs", root, columns=250)
    assert table.returncode == 0, table.stderr
    assert "story3" in table.stdout and row["path"] in table.stdout and "3.0s" in table.stdout and "kB" in table.stdout
    assert "story1" not in table.stdout  # only finished videos


def test_tasks_and_outputs_on_a_folder_that_is_not_a_project(tmp_path: Path):
    for command in ("tasks", "outputs"):
        result = storyreel(command, tmp_path / "nowhere")
        assert result.returncode == 2
        assert "storyreel init" in result.stderr and "Traceback" not in result.stderr
