"""Which engines run here, what an unknown engine or voice says, and hostile texts."""

from __future__ import annotations

from pathlib import Path

import pytest
from speechkit import written

from storyreel.captions import read_words
from storyreel.errors import NarrationError
from storyreel.narration import ENGINES, available_engines, narrate, resolve


def test_espeak_is_available_with_its_default_voice() -> None:
    engines = available_engines()
    assert ENGINES == ("piper", "espeak-ng")
    assert engines["espeak-ng"] == "en-us"
    assert list(engines) == [name for name in ENGINES if name in engines]  # best first
    assert resolve("espeak-ng", "") == ("espeak-ng", "en-us")
    assert resolve("espeak-ng", "en-gb+f3") == ("espeak-ng", "en-gb+f3")
    best = next(iter(engines))
    assert resolve("auto", "") == (best, engines[best])


def test_an_unknown_engine_is_named_with_the_choices() -> None:
    with pytest.raises(NarrationError, match=r"unknown narration engine 'festival': expected auto, piper or espeak-ng"):
        resolve("festival", "")


def test_an_unknown_espeak_voice_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(NarrationError, match=r"espeak-ng has no voice 'klingon'"):
        narrate("Hello there.", tmp_path, engine="espeak-ng", voice="klingon")
    assert not list(tmp_path.iterdir())


def test_a_piper_voice_that_is_not_there_is_refused(tmp_path: Path) -> None:
    if "piper" not in available_engines():
        with pytest.raises(NarrationError, match=r"engine 'piper' cannot run here .*storyreel\[narration\]"):
            resolve("piper", "")
        return
    with pytest.raises(NarrationError, match=r"no Piper voice 'nobody-us-voice'"):
        resolve("piper", "nobody-us-voice")
    missing = tmp_path / "gone.onnx"
    with pytest.raises(NarrationError, match=r"gone.onnx and gone.onnx.json"):
        resolve("piper", str(missing))


@pytest.mark.parametrize("text", ["", "  \n\n", "?!… — ...", "日本語 😀"])
def test_a_text_with_nothing_to_say_is_refused(text: str, tmp_path: Path) -> None:
    with pytest.raises(NarrationError, match="no words to speak"):
        narrate(text, tmp_path, engine="espeak-ng")
    assert not (tmp_path / "voice.mp3").exists()


def test_non_ascii_and_a_huge_word_are_spoken_and_timed(tmp_path: Path) -> None:
    text = f"Zoë’s café served crème brûlée — naïve 日本 fans. The {'z' * 3000} ended it, 100%!"
    result = narrate(text, tmp_path, engine="espeak-ng")
    alignment = read_words(result.words)
    assert [w.word for w in alignment.words] == written(text)
    assert 1.0 < result.duration < 30.0  # the huge word is said short, not spelt for minutes
    starts = [w.start for w in alignment.words]
    assert starts == sorted(starts) and alignment.words[-1].end <= result.duration
