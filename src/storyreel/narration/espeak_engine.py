"""The espeak-ng engine process: `python -m storyreel.narration.espeak_engine JOB | --probe`.

libespeak-ng (GPL, loaded here through ctypes, in this process only) speaks each sentence
through its synthesis callback, which hands over the samples together with a word event
at the sample where each word starts; a word ends where its sound stops before the next.
"""

from __future__ import annotations

import bisect
import ctypes
import ctypes.util
import sys
from array import array

from storyreel.narration.enginekit import EngineFailure, serve, sound_end
from storyreel.narration.protocol import Ready

DEFAULT_VOICE = "en-us"
# espeak-ng's API constants (speak_lib.h).
SYNCHRONOUS = 2  # AUDIO_OUTPUT_SYNCHRONOUS: the callback gets every buffer
_POS_CHARACTER = 1
CHARS_UTF8 = 1
EVENT_LIST_END = 0
EVENT_WORD = 1
_OK = 0


class EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class Event(ctypes.Structure):
    """espeak_EVENT: a word event's text_position counts characters from 1; sample is
    the output sample (of this synthesis call) where the word starts."""

    _fields_ = [
        ("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int), ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p), ("id", EventId),
    ]


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p), ("languages", ctypes.c_void_p), ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte), ("age", ctypes.c_ubyte), ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte), ("score", ctypes.c_int), ("spare", ctypes.c_void_p),
    ]


SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                                  ctypes.POINTER(Event))


def _library() -> tuple[ctypes.CDLL, int]:
    """libespeak-ng, initialised for synchronous synthesis; its sample rate."""
    name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise EngineFailure(f"libespeak-ng cannot be loaded ({exc}): install espeak-ng") from exc
    rate = lib.espeak_Initialize(SYNCHRONOUS, 0, None, 0)
    if rate <= 0:
        raise EngineFailure("libespeak-ng did not initialise (is espeak-ng-data installed?)")
    lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                 ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
    lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))
    return lib, rate


def _languages(voice: _Voice) -> list[str]:
    """A voice's languages: a priority byte, then a zero-ended name, until a zero byte."""
    found: list[str] = []
    at = voice.languages or 0
    while at and ctypes.string_at(at, 1) != b"\0":
        name = ctypes.string_at(at + 1).decode("utf-8", errors="replace")
        found.append(name)
        at += len(name.encode("utf-8")) + 2
    return found


def voices(lib: ctypes.CDLL) -> list[str]:
    """The language names every installed voice answers to ("en-us", "de", ...)."""
    listed = lib.espeak_ListVoices(None)
    names: set[str] = set()
    index = 0
    while listed[index]:
        names.update(_languages(listed[index].contents))
        index += 1
    return sorted(names)


class EspeakSpeaker:
    engine = "espeak-ng"

    def __init__(self, voice: str) -> None:
        self.lib, self.sample_rate = _library()
        self.voice = voice or DEFAULT_VOICE
        if self.lib.espeak_SetVoiceByName(self.voice.encode("utf-8")) != _OK:
            raise EngineFailure(f"espeak-ng has no voice {self.voice!r} (espeak-ng --voices lists them)")
        self._samples = array("h")
        self._events: list[tuple[int, int]] = []  # (character position from 1, sample)
        self._callback = SYNTH_CALLBACK(self._collect)  # kept: libespeak-ng holds only a pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, samples, count, events) -> int:  # noqa: ANN001 (ctypes callback)
        if count > 0:
            self._samples.frombytes(ctypes.string_at(samples, count * 2))
        index = 0
        while events[index].type != EVENT_LIST_END:
            if events[index].type == EVENT_WORD:
                self._events.append((events[index].text_position, events[index].sample))
            index += 1
        return 0

    def speak(self, tokens: list[str]) -> tuple[array, list[tuple[int, int]]]:
        self._samples, self._events = array("h"), []
        text = " ".join(tokens)
        raw = text.encode("utf-8")
        status = self.lib.espeak_Synth(raw, len(raw) + 1, 0, _POS_CHARACTER, 0, CHARS_UTF8,
                                       None, None)
        if status != _OK or self.lib.espeak_Synchronize() != _OK:
            raise EngineFailure(f"libespeak-ng failed on a sentence (error {status})")
        return self._samples, self._spans(tokens)

    def _spans(self, tokens: list[str]) -> list[tuple[int, int]]:
        """Each token's [start, end): its word event's sample, its end where the sound
        stops before the next token's. With one event per token they pair in order
        (libespeak-ng keeps their order but misplaces some positions: "most of" reports
        "of" inside "most"); else by position, an event between two tokens belonging to
        the one after."""
        events = [max(0, min(sample, len(self._samples))) for _, sample in self._events]
        starts: list[int | None] = [None] * len(tokens)
        if len(events) == len(tokens):
            starts = list(events)
        else:
            ends, at = [], 0
            for token in tokens:
                at += len(token)
                ends.append(at)
                at += 1
            for (position, _), sample in zip(self._events, events, strict=True):
                owner = bisect.bisect_right(ends, position - 1)
                if owner < len(tokens) and starts[owner] is None:
                    starts[owner] = sample
        return _close(starts, len(self._samples), self.sample_rate, self._samples)


def _close(starts: list[int | None], total: int, rate: int, samples: array) -> list[tuple[int, int]]:
    """[start, end) per token; a token espeak-ng gave no event starts where the last ended."""
    spans: list[tuple[int, int]] = []
    last_start = last_end = 0
    for index, start in enumerate(starts):
        begin = max(last_start, start if start is not None else last_end)
        following = next((s for s in starts[index + 1:] if s is not None), total)
        end = sound_end(samples, begin, max(begin, following), rate)
        spans.append((begin, end))
        last_start, last_end = begin, end
    return spans


def probe() -> Ready:
    lib, rate = _library()
    return Ready(engine="espeak-ng", voice=DEFAULT_VOICE, sample_rate=rate, voices=voices(lib))


if __name__ == "__main__":
    sys.exit(serve(EspeakSpeaker, probe, sys.argv[1:]))
