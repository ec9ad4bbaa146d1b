"""Captions written out: `captions.ass` to burn in (pysubs2, PlayRes = the output size),
`captions.srt` and `captions.vtt` sidecars (closed captions YouTube and TikTok accept).

The sidecars always hold plain two-line cues (`lines`), whatever the burned-in style.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pysubs2

from storyreel.captions.cues import Cue, cues
from storyreel.captions.safearea import safe_area
from storyreel.captions.settings import CaptionPosition, CaptionSettings, CaptionStyle
from storyreel.captions.timing import Alignment, WordTiming

STYLE_NAME = "Caption"
# ASS alignment numbers (numpad layout), centred horizontally.
_ALIGNMENT = {CaptionPosition.BOTTOM: 2, CaptionPosition.MIDDLE: 5, CaptionPosition.TOP: 8}
# A caption glyph's average advance as a share of the font height (DejaVu Sans Bold
# measures about 0.6): how many characters fit across the safe area.
GLYPH_WIDTH = 0.6
# Sidecar cues: two lines of at most this many characters (the usual closed-caption limit).
SIDECAR = CaptionSettings(style=CaptionStyle.LINES, chars_per_line=42, lines_per_cue=2)


@dataclass(frozen=True)
class Subtitles:
    ass: Path
    srt: Path
    vtt: Path


def _colour(hex_colour: str) -> pysubs2.Color:
    return pysubs2.Color(int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))


def _ass_text(text: str) -> str:
    """Plain text made safe inside an ASS event (braces start override tags there)."""
    return text.replace("\\", "/").replace("{", "(").replace("}", ")")


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def caption_style(settings: CaptionSettings, width: int, height: int) -> pysubs2.SSAStyle:
    """The one ASS style every caption uses: font, size, colours, safe-area margins."""
    area = safe_area(width, height)
    size = round(settings.size * height)
    karaoke = settings.style is CaptionStyle.KARAOKE
    vertical = area.margin_top if settings.position is CaptionPosition.TOP else area.margin_bottom
    return pysubs2.SSAStyle(
        fontname=settings.font, fontsize=size, bold=settings.bold,
        # Karaoke fills each word from the secondary colour to the primary as it is said.
        primarycolor=_colour(settings.highlight if karaoke else settings.colour),
        secondarycolor=_colour(settings.colour if karaoke else settings.highlight),
        outlinecolor=_colour(settings.outline_colour), backcolor=_colour(settings.outline_colour),
        outline=round(settings.outline * size, 1), shadow=0, borderstyle=1,
        alignment=pysubs2.Alignment(_ALIGNMENT[settings.position]),
        marginl=area.margin_left, marginr=area.margin_right, marginv=vertical,
    )


def fitting_chars(settings: CaptionSettings, width: int, height: int) -> int:
    """How many characters of the caption font fit across the safe area of the frame."""
    area = safe_area(width, height)
    return max(8, int((area.right - area.left) / (GLYPH_WIDTH * settings.size * height)))


def _line_text(cue: Cue, render) -> str:  # noqa: ANN001 (word → text)
    return "\\N".join(" ".join(render(word) for word in line) for line in cue.lines)


def _events(cue: Cue, settings: CaptionSettings) -> list[pysubs2.SSAEvent]:
    if settings.style is CaptionStyle.KARAOKE:
        words = cue.words
        following = [w.start for w in words[1:]] + [cue.end]
        sweep = {id(w): max(1, round((until - w.start) * 100)) for w, until in zip(words, following, strict=True)}
        text = _line_text(cue, lambda w: f"{{\\kf{sweep[id(w)]}}}{_ass_text(w.word)}")
        return [pysubs2.SSAEvent(start=_ms(cue.start), end=_ms(cue.end), text=text, style=STYLE_NAME)]
    if settings.style is CaptionStyle.WORDS:
        highlight = _colour(settings.highlight)
        tag = f"{{\\1c&H{highlight.b:02X}{highlight.g:02X}{highlight.r:02X}&}}"
        words = cue.words
        events = []
        for index, now in enumerate(words):
            until = words[index + 1].start if index + 1 < len(words) else cue.end
            text = _line_text(cue, lambda w, now=now: f"{tag}{_ass_text(w.word)}{{\\r}}" if w is now
                              else _ass_text(w.word))
            events.append(pysubs2.SSAEvent(start=_ms(now.start), end=_ms(until), text=text,
                                           style=STYLE_NAME))
        return events
    return [pysubs2.SSAEvent(start=_ms(cue.start), end=_ms(cue.end),
                             text=_line_text(cue, lambda w: _ass_text(w.word)), style=STYLE_NAME)]


def ass_file(words: list[WordTiming], settings: CaptionSettings, width: int, height: int) -> pysubs2.SSAFile:
    """The burned-in captions for a width × height output."""
    subs = pysubs2.SSAFile()
    subs.info.update({"PlayResX": str(width), "PlayResY": str(height), "WrapStyle": "0",
                      "ScaledBorderAndShadow": "yes"})
    subs.styles = {STYLE_NAME: caption_style(settings, width, height)}
    for cue in cues(words, settings, max_chars=fitting_chars(settings, width, height)):
        subs.events += _events(cue, settings)
    return subs


def sidecar_file(words: list[WordTiming]) -> pysubs2.SSAFile:
    """Plain cues for the SRT and VTT sidecars."""
    subs = pysubs2.SSAFile()
    for cue in cues(words, SIDECAR):
        subs.events.append(pysubs2.SSAEvent(start=_ms(cue.start), end=_ms(cue.end),
                                            text=cue.text.replace("\n", "\\N")))
    return subs


def _save(subs: pysubs2.SSAFile, path: Path, fmt: str) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    subs.save(str(tmp), format_=fmt, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_subtitles(alignment: Alignment, settings: CaptionSettings, *, width: int, height: int,
                    folder: Path | str) -> Subtitles:
    """Write captions.ass, captions.srt and captions.vtt for the aligned words into `folder`."""
    folder = Path(folder)
    sidecars = sidecar_file(alignment.words)
    return Subtitles(
        ass=_save(ass_file(alignment.words, settings, width, height), folder / "captions.ass", "ass"),
        srt=_save(sidecars, folder / "captions.srt", "srt"),
        vtt=_save(sidecars, folder / "captions.vtt", "vtt"),
    )
