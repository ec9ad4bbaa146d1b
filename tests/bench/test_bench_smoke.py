"""The benchmarks' smoke mode still runs end to end and reports figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(660)
def test_bench_smoke_writes_figures(tmp_path: Path) -> None:
    out = tmp_path / "BENCHMARKS.md"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "run.py"),
            "--smoke",
            "--work",
            str(tmp_path / "work"),
            "--out",
            str(out),
            "--json",
            str(tmp_path / "figures.json"),
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=650,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text(encoding="utf-8")
    assert "Smoke mode" in text
    for title in (
        "1. Render vs its limits",
        "2. Node pipeline",
        "3. Scaling",
        "4. Ingest",
        "5. Memory",
        "6. Fleet",
        "7. Captions",
        "8. Picture and sound",
        "9. Main worker and per-task cost",
        "10. Narration",
        "11. Memory and clip count",
        "12. Narrate and render sharing nodes",
        "13. One long chapter across nodes",
    ):
        assert f"## {title}" in text
    figures = json.loads((tmp_path / "figures.json").read_text(encoding="utf-8"))
    assert figures["machine"]["cores"]
    render = figures["sections"]["1. Render vs its limits"]["smoke"]
    assert render["median_wall"]["template"] > 0
    assert render["limit_wall"] > 0
    duration, frames = render["template_output"]
    assert duration == pytest.approx(render["voice_seconds"], abs=0.2)
    ingest = figures["sections"]["4. Ingest"]
    assert ingest["ingested"] + ingest["rejected"] == ingest["files"]
    assert ingest["files_per_second"] > 0
    narration = figures["sections"]["10. Narration"]["espeak-ng"]
    assert narration["seconds"] > 0 and narration["engine_realtime"] > 1
    assert text.index("## 9. Main worker") < text.index("## 10. Narration")
    assert text.index("## 5. Memory") < text.index("## 6. Fleet")
    fleet = figures["sections"]["6. Fleet"]
    assert fleet["fleet_beats_sent"] > 0
    assert fleet["claims"] > 0 and 0 < fleet["claim_p99"] < 5
    # Every node that came and went is still a row of the node table.
    assert fleet["churn"]["rows"] == fleet["fleet_nodes"] + fleet["churn"]["cycles"]
    captions = figures["sections"]["7. Captions"]["20 s"]
    assert captions["reference_words"] > 0.8 * captions["words"]
    assert captions["realtime"] > 0 and captions["median_error"] < 0.1
    split = figures["sections"]["13. One long chapter across nodes"]["split-2"]
    assert split["parts"] >= 2 and split["frames"] == split["expected"]
    assert 0.99 < split["min_step"] <= split["max_step"] < 1.01  # one frame apart at every joint
    picture = figures["sections"]["8. Picture and sound"]["picture"]
    assert set(picture["ratios"]) >= {"blur fill", "crop fill", "fade", "frame overlay", "all at once"}
    assert all(ratio > 0 for ratio in picture["ratios"].values()) and picture["thumbnail_wall"] > 0
    render = figures["sections"]["7. Captions"]["render"]
    assert render["aligned_ratio"] > 0 and render["burned_ratio"] > 0
    main = figures["sections"]["9. Main worker and per-task cost"]
    for count in (k for k in main if k.startswith("idle_")):
        assert set(main[count]["cpu"]) == {"before", "after"}
        assert all(0 <= v < 2 for v in main[count]["cpu"].values())
        assert all(v > 0 for v in main[count]["state"].values())
    assert main["planning"]["per_chapter"]["after"] > 0
    assert main["task_cycle"]["ffmpeg_alone"] > 0
    assert all(tree["per_task"] > 0 and tree["programs"] > 0 for tree in main["task_cycle"]["per_tree"].values())
    sound = figures["sections"]["8. Picture and sound"]["sound"]
    assert sound["cost"]["ratio"] > 1.0  # the loudness pass and the check cost something
    assert sound["chapters"] and all(abs(c["output"] - -14.0) <= 1.0 for c in sound["chapters"])
    clips = figures["sections"]["11. Memory and clip count"]
    for count in clips["counts"]:
        ours, one = clips["checks"][str(count)]["frames"]
        assert ours == one > 0  # the segments add up to exactly the one pass's frames
        assert clips["checks"][str(count)]["psnr"][0] >= 35
        assert clips["variants"][f"{count} ours"]["rss"] > 0
    assert text.index("## 9. Main worker") < text.index("## 11. Memory and clip count")
