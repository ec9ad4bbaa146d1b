"""Put assets straight into scanned/ (as ingest would have) for the planning tests."""

from __future__ import annotations

import json
import re
from pathlib import Path

from storyreel.layout import AssetKind
from storyreel.project import Project


def scanned_voice(project: Project, media, category: str = "fantasy", story: str = "dragon",
                  chapter: str = "chapter_0001.mp3") -> Path:
    return media.copy(media.speech(), project.layout.scanned_voice(category, story, chapter))


def scanned_clip(project: Project, media, category: str, stem: str, seconds: float = 1.0) -> Path:
    dst = project.layout.scanned_clip(AssetKind.VIDEO, category, 160, 90, seconds, stem)
    return media.copy(media.clip(seconds=seconds), dst)


def scanned_music(project: Project, media, category: str, stem: str, seconds: float = 3.0) -> Path:
    return media.copy(media.tone(seconds=seconds), project.layout.scanned_music(category, seconds, stem))


def set_settings(project: Project, **sections: dict) -> Project:
    """Set values in storyreel.toml's sections and reopen the project."""
    cfg = project.layout.config_file
    text = cfg.read_text()
    for section, values in sections.items():
        head = text.index(f"[{section}]\n") + len(section) + 3
        nxt = text.find("\n[", head)
        end = len(text) if nxt < 0 else nxt
        body = text[head:end]
        for key, value in values.items():
            line = f"{key} = {json.dumps(value)}"
            body, n = re.subn(rf"(?m)^{key} = .*$", line, body, count=1)
            if not n:
                body = line + "\n" + body
        text = text[:head] + body + text[end:]
    cfg.write_text(text)
    return Project.open(project.layout.root)
