"""Cues, styles and the ASS/SRT/VTT files: what each style shows, and nothing over skipped words."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pysubs2
import pytest
from narrationkit import PARAGRAPH, Spoken

from storyreel.captions import (
    Alignment,
    AlignmentQuality,
    CaptionSettings,
    CaptionStyle,
    WordTiming,
    align,
    read_script,
    write_subtitles,
)
from storyreel.captions.cues import cues


def _alignment(text: str, *, unspoken: set[int] = frozenset(), step: float = 0.4) -> Alignment:
    words = [WordTiming(word=w, start=round(i * step, 3), end=round(i * step + step * 0.8, 3),
                        spoken=i not in unspoken) for i, w in enumerate(text.split())]
    quality = AlignmentQuality(words=len(words), aligned=len(words) - len(unspoken),
                               unspoken=len(unspoken), confidence=1.0)
    return Alignment(duration=len(words) * step, words=words, quality=quality)


TEXT = ("The old lighthouse keeper climbed the stairs each night, and he lit the lamp "
        "before the ships came home. Nobody thanked him, but he did not mind at all.")


def test_srt_and_vtt_parse_and_the_last_cue_ends_with_the_voice(narrated: Spoken, tmp_path: Path) -> None:
    alignment = align(narrated.wav, read_script(PARAGRAPH), work=tmp_path)
    files = write_subtitles(alignment, CaptionSettings(), width=1280, height=720, folder=tmp_path)
    for path in (files.srt, files.vtt):
        subs = pysubs2.load(str(path))
        assert len(subs) >= 5
        assert abs(subs[-1].end / 1000 - narrated.seconds) <= 1.0
        assert all(event.start < event.end for event in subs)
        assert all(a.end <= b.start for a, b in zip(subs, subs[1:], strict=False))  # one caption at a time
        shown = " ".join(event.plaintext.replace("\n", " ") for event in subs).split()
        assert shown == PARAGRAPH.split()  # every word, as written ("17F", "Mr.")
        assert all(len(line) <= 42 for event in subs for line in event.plaintext.splitlines())
    ass = pysubs2.load(str(files.ass))
    assert (ass.info["PlayResX"], ass.info["PlayResY"]) == ("1280", "720")
    assert ass.styles["Caption"].fontname == "DejaVu Sans"
    assert ass.styles["Caption"].fontsize == round(0.045 * 720)


def test_words_flagged_unspoken_get_no_captions(tmp_path: Path) -> None:
    words = TEXT.split()
    skipped = {words.index("stairs"), words.index("each"), words.index("Nobody")}
    alignment = _alignment(TEXT, unspoken=skipped)
    for style in CaptionStyle:
        files = write_subtitles(alignment, CaptionSettings(style=style), width=720, height=1280,
                                folder=tmp_path)
        for path in (files.ass, files.srt, files.vtt):
            subs = pysubs2.load(str(path))
            shown = " ".join(e.plaintext.replace("\n", " ") for e in subs).split()
            assert shown and not {"stairs", "each", "Nobody"} & set(shown), (style, path.name)
            assert "climbed" in shown and "thanked" in shown
            for index in skipped:  # nothing at all on screen while a skipped word would be said
                gap = alignment.words[index]
                assert not any(e.start < gap.end * 1000 and e.end > gap.start * 1000 for e in subs)


def test_each_style_groups_and_marks_words(tmp_path: Path) -> None:
    alignment = _alignment(TEXT)
    words = CaptionSettings(style=CaptionStyle.WORDS, words_per_cue=3)
    grouped = cues(alignment.words, words)
    assert all(len(cue.words) <= 3 for cue in grouped)
    assert [w.word for w in grouped[0].words] == ["The", "old", "lighthouse"]
    assert any(cue.words[-1].word == "night," for cue in grouped)  # breaks after punctuation
    files = write_subtitles(alignment, words, width=720, height=1280, folder=tmp_path)
    events = pysubs2.load(str(files.ass)).events
    assert len(events) == len(TEXT.split())  # one event per word said, that word highlighted
    assert all(e.text.count("\\1c&H00D4FF&") == 1 for e in events)
    karaoke = write_subtitles(alignment, CaptionSettings(style=CaptionStyle.KARAOKE),
                              width=1280, height=720, folder=tmp_path)
    events = pysubs2.load(str(karaoke.ass)).events
    assert sum(e.text.count("\\kf") for e in events) == len(TEXT.split())
    assert all("\\N" not in e.text for e in events)  # one line at a time
    lines = cues(alignment.words, CaptionSettings(chars_per_line=30))
    assert all(len(cue.lines) <= 2 for cue in lines)
    assert all(len(" ".join(w.word for w in line)) <= 30 for cue in lines for line in cue.lines)
    assert any(line[0].word in ("and", "but") for cue in lines for line in cue.lines)


def test_settings_override_and_refuse_bad_values() -> None:
    base = CaptionSettings()
    shorts = base.overridden({"style": "words", "size": 0.06, "highlight": "#00ff88"})
    assert (shorts.style, shorts.size, shorts.highlight, shorts.font) == (
        CaptionStyle.WORDS, 0.06, "#00FF88", "DejaVu Sans")
    assert base.style is CaptionStyle.LINES
    with pytest.raises(pydantic.ValidationError):
        base.overridden({"colour": "white"})
    with pytest.raises(pydantic.ValidationError):
        base.overridden({"stlye": "words"})
