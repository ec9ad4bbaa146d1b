"""A project that narrates its chunks: small renders, espeak-ng, no wait for a voice."""

from __future__ import annotations

from pathlib import Path

import mediakit

from storyreel.project import Project

WIDTH, HEIGHT = 320, 180
STORY = (
    "The lighthouse keeper counted the ships every night. Nobody had asked him to, "
    "but the numbers kept him company.\n\n"
    "One winter a ship came that was not on any chart. Its lamps were green, and it made no sound "
    "at all as it passed the rocks.\n\n"
    "He wrote it down anyway. Number four hundred and twelve, he said, and went to bed."
)


def narrating(project: Project, *, wait_seconds: float = 0.0, engine: str = "espeak-ng",
              mode: str = "missing") -> Project:
    """The project with [narration] on, small fast renders and loopback crawling allowed."""
    cfg = project.layout.config_file
    text = cfg.read_text()
    for old, new in (('resolution = "3840x2160"', f'resolution = "{WIDTH}x{HEIGHT}"'),
                     ('preset = "medium"', 'preset = "ultrafast"'),
                     ("allow_private_networks = false", "allow_private_networks = true"),
                     ('mode = "off"', f'mode = "{mode}"'),
                     ("wait_seconds = 600.0", f"wait_seconds = {float(wait_seconds)}"),
                     ('engine = "auto"', f'engine = "{engine}"')):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    cfg.write_text(text)
    return Project.open(project.layout.root)


def assets(project: Project, work: Path, *, category: str = "default", seconds: float = 40.0) -> None:
    """One black clip and one hum in `category`, filed as ingest would."""
    mediakit.scanned_backdrop(project.layout, work, category, WIDTH, HEIGHT, seconds)


def chunk(project: Project, text: str = STORY, *, category: str = "default", story: str = "keeper",
          number: int = 1) -> Path:
    path = project.layout.scanned_chunk(category, story, number)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")
    return path
