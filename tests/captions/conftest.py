"""Caption fixtures: the known paragraph narrated by espeak-ng, in full and with words left out."""

from __future__ import annotations

import pytest
from narrationkit import PARAGRAPH, SKIPPED, Spoken, speak


@pytest.fixture(scope="session")
def narrated(tmp_path_factory: pytest.TempPathFactory) -> Spoken:
    """The paragraph spoken in full."""
    return speak(PARAGRAPH.split(), tmp_path_factory.mktemp("narration") / "full.wav")


@pytest.fixture(scope="session")
def skipping(tmp_path_factory: pytest.TempPathFactory) -> Spoken:
    """The paragraph spoken with the SKIPPED words left out."""
    return speak(PARAGRAPH.split(), tmp_path_factory.mktemp("narration") / "skipping.wav",
                 skip=SKIPPED)
