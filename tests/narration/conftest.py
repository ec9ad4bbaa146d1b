"""Narration fixtures: the two-paragraph text by espeak-ng, a short chunk by Piper."""

from __future__ import annotations

import pytest
from speechkit import SHORT_CHUNK, TWO_PARAGRAPHS

from storyreel.narration import NarrationResult, available_engines, narrate


@pytest.fixture(scope="session")
def espeak_narration(tmp_path_factory: pytest.TempPathFactory) -> NarrationResult:
    return narrate(TWO_PARAGRAPHS, tmp_path_factory.mktemp("espeak"), engine="espeak-ng")


@pytest.fixture(scope="session")
def piper_narration(tmp_path_factory: pytest.TempPathFactory) -> NarrationResult:
    if "piper" not in available_engines():
        pytest.skip("piper-tts is not installed (pip install 'storyreel[narration]')")
    return narrate(SHORT_CHUNK, tmp_path_factory.mktemp("piper"), engine="piper")
