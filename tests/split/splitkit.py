"""A project whose one chapter is long enough to split, with tiny media."""

from __future__ import annotations

from pathlib import Path

from storyreel.layout import AssetKind
from storyreel.plan import Planner
from storyreel.project import Project

WIDTH, HEIGHT, FPS = 160, 90, 30
STORY = " ".join(["The dragon flew on over the quiet hills and the sleeping town below."] * 3)


def settle(project: Project, render: str = "") -> Project:
    """Tiny renders split into parts of 5 s; `render` lines (`key = value`) override or add
    [render] settings."""
    cfg = project.layout.config_file
    values = {"resolution": f'"{WIDTH}x{HEIGHT}"', "frame_rate": str(FPS), "preset": '"ultrafast"',
              "encoder": '"libx264"', "segment_seconds": "5.0"}
    values |= dict(line.split(" = ", 1) for line in render.strip().splitlines() if line)
    lines = "".join(f"{key} = {value}\n" for key, value in values.items())
    keys = tuple(f"{key} = " for key in values)
    text = "\n".join(ln for ln in cfg.read_text().splitlines() if not ln.startswith(keys)) + "\n"
    cfg.write_text(text.replace("[render]\n", "[render]\n" + lines, 1))
    return Project.open(project.layout.root)


def scanned_story(project: Project, media, clips: int = 6, seconds: float = 2.0) -> Path:
    """The chapter's voice (about 12 s), music and `clips` clips, filed in scanned/."""
    layout = project.layout
    voice = media.copy(media.speech(STORY), layout.scanned_voice("fantasy", "dragon", "chapter_0001.mp3"))
    media.copy(media.tone(seconds=3.0), layout.scanned_music("fantasy", 3.0, "calm"))
    for k in range(clips):
        src = media.clip(seconds=seconds, source="testsrc2" if k % 2 else "smptebars")
        media.copy(src, layout.scanned_clip(AssetKind.VIDEO, "fantasy", WIDTH, HEIGHT, seconds, f"c{k}"))
    return voice


def planned(project: Project, media, **kw) -> str:
    """The chapter planned: its render task's id."""
    scanned_story(project, media, **kw)
    (task_id,) = Planner(project).plan_pending()
    return task_id
