"""Shared fixtures: a fresh project root per test and a session cache of tiny media."""

from __future__ import annotations

import shutil
from pathlib import Path

import mediakit
import pytest

from storyreel.logs import setup_logging
from storyreel.project import Project


def pytest_configure(config: pytest.Config) -> None:
    for tool in ("ffmpeg", "ffprobe", "espeak-ng"):
        if shutil.which(tool) is None:
            raise pytest.UsageError(f"{tool} is required for the tests: sudo apt-get install ffmpeg espeak-ng")


@pytest.fixture()
def project(tmp_path: Path) -> Project:
    """An initialised project root with a zero stability window (tests drop whole files)."""
    root = tmp_path / "root"
    Project.init(root)
    cfg = root / "storyreel.toml"
    cfg.write_text(cfg.read_text().replace("stable_seconds = 3.0", "stable_seconds = 0.0"))
    project = Project.open(root)
    setup_logging(project.layout.log_file, "DEBUG")
    return project


class MediaCache:
    """Makes each distinct media file once per test session; `copy` puts one where needed."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _cached(self, key: str, make) -> Path:
        path = self.folder / key
        if not path.exists():
            make(path)
        return path

    def clip(self, **kw) -> Path:
        key = "clip_" + "_".join(f"{k}-{v}" for k, v in sorted(kw.items())) + ".mp4"
        return self._cached(key, lambda p: mediakit.clip(p, **kw))

    def tone(self, **kw) -> Path:
        key = "tone_" + "_".join(f"{k}-{v}" for k, v in sorted(kw.items())) + ".mp3"
        return self._cached(key, lambda p: mediakit.tone_mp3(p, **kw))

    def speech(self, text: str = "Once upon a time a dragon learned to fly over the hills.") -> Path:
        key = f"speech_{abs(hash(text)) % 10**8}.mp3"
        return self._cached(key, lambda p: mediakit.speech_mp3(p, text))

    def silence(self, seconds: float = 3.0) -> Path:
        return self._cached(f"silence_{seconds}.mp3", lambda p: mediakit.silence_mp3(p, seconds=seconds))

    def wav(self) -> Path:
        return self._cached("tone.wav", lambda p: mediakit.wav(p))

    def logo(self) -> Path:
        return self._cached("logo.png", lambda p: mediakit.logo_png(p))

    @staticmethod
    def copy(src: Path, dst: Path) -> Path:
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        return dst


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> MediaCache:
    return MediaCache(tmp_path_factory.mktemp("media"))
