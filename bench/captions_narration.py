"""espeak-ng narration with exact reference word starts, for the caption tests and benchmark.

libespeak-ng reports a word event with the output sample at which each word starts; the
narration is synthesised through its callback (ctypes), so the audio and the reference
times come from the same run and cannot drift apart.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import wave
from dataclasses import dataclass
from pathlib import Path

from storyreel.narration.espeak_engine import (
    CHARS_UTF8,
    EVENT_LIST_END,
    EVENT_WORD,
    SYNCHRONOUS,
    SYNTH_CALLBACK,
)

_END_PAUSE = 0x1000  # a sentence's pause after the last word, as the espeak-ng program adds


@dataclass(frozen=True)
class SpokenWord:
    """One word espeak-ng spoke: its text and the second its sound starts."""

    text: str
    pos: int  # index of its first character in the text spoken
    start: float


@dataclass(frozen=True)
class Narration:
    wav: Path
    seconds: float
    words: list[SpokenWord]


def _library() -> ctypes.CDLL:
    name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
    return ctypes.CDLL(name)


def narrate(text: str, wav: Path, *, voice: str = "en-us", words_per_minute: int = 175) -> Narration:
    """Speak `text` into `wav` (mono s16) and return each word's reference start."""
    lib = _library()
    rate = lib.espeak_Initialize(SYNCHRONOUS, 0, None, 0)
    if rate <= 0:
        raise OSError("libespeak-ng did not initialise")
    lib.espeak_SetVoiceByName(voice.encode())
    lib.espeak_SetParameter(1, words_per_minute, 0)  # espeakRATE
    raw = text.encode("utf-8")
    chunks: list[bytes] = []
    events: list[tuple[int, int, int]] = []

    def collect(samples, count, event_list) -> int:  # noqa: ANN001 (ctypes callback)
        if count > 0:
            chunks.append(ctypes.string_at(samples, count * 2))
        index = 0
        while event_list[index].type != EVENT_LIST_END:
            event = event_list[index]
            if event.type == EVENT_WORD:
                events.append((event.text_position, event.length, event.sample))
            index += 1
        return 0

    callback = SYNTH_CALLBACK(collect)
    lib.espeak_SetSynthCallback(callback)
    lib.espeak_Synth(ctypes.c_char_p(raw), len(raw) + 1, 0, 0, 0, CHARS_UTF8 | _END_PAUSE, None, None)
    lib.espeak_Synchronize()
    pcm = b"".join(chunks)
    with wave.open(str(wav), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm)
    words = [
        SpokenWord(text[pos - 1:pos - 1 + length], pos - 1, sample / rate)
        for pos, length, sample in events
    ]
    return Narration(wav, len(pcm) / 2 / rate, words)
