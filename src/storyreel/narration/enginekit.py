"""What both engine processes share: reading the job, writing the WAV, printing events.

An engine is a `Speaker`: it loads its voice, then turns one sentence's tokens into
16-bit mono samples and the [start, end) sample of each token within them. `serve`
runs the job around it. The GPL libraries (piper, libespeak-ng) are loaded only in these
processes, never in storyreel's own.
"""

from __future__ import annotations

import sys
import time
import wave
from array import array
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel

from storyreel.narration.protocol import Done, Failed, Job, Ready, Spoken

# A sample quieter than this (of 32767) counts as silence when a word's sound ends.
SILENCE_LEVEL = 300
# How far back from the next word a quiet stretch is looked for (samples in 10 ms).
TRIM_STEP_SECONDS = 0.01


class EngineFailure(Exception):
    """The engine cannot do the job (no such voice, the library failed): told as Failed."""


class Speaker(Protocol):
    engine: str
    voice: str
    sample_rate: int

    def speak(self, tokens: list[str]) -> tuple[array, list[tuple[int, int]]]:
        """One sentence's samples ('h' array) and each token's [start, end) in them."""
        ...


def emit(event: BaseModel) -> None:
    sys.stdout.write(event.model_dump_json() + "\n")
    sys.stdout.flush()


def sound_end(samples: array, start: int, stop: int, rate: int) -> int:
    """Where the sound that starts at `start` ends before `stop`: trailing quiet dropped
    in steps of 10 ms (never before `start` + one step)."""
    step = max(1, int(rate * TRIM_STEP_SECONDS))
    end = stop
    while end - step > start + step:
        window = samples[end - step:end]
        if max(window, default=0) > SILENCE_LEVEL or -min(window, default=0) > SILENCE_LEVEL:
            break
        end -= step
    return end


def _speak_all(speaker: Speaker, job: Job, out: wave.Wave_write) -> None:
    written = 0
    for index, sentence in enumerate(job.sentences):
        samples, spans = speaker.speak(sentence.tokens)
        if len(spans) != len(sentence.tokens):
            raise EngineFailure(f"sentence {index + 1}: {len(spans)} word times for "
                                f"{len(sentence.tokens)} words")
        out.writeframes(samples.tobytes())
        pause = int(round(sentence.pause * speaker.sample_rate))
        out.writeframes(bytes(2 * pause))
        tokens = [(written + start, written + end) for start, end in spans]
        written += len(samples) + pause
        emit(Spoken(sentence=index, tokens=tokens, samples=written))


def serve(load: Callable[[str], Speaker], probe: Callable[[], Ready], argv: list[str]) -> int:
    """The engine process's main: `--probe`, or speak the job at argv[0]; its exit code."""
    try:
        if argv[:1] == ["--probe"]:
            emit(probe())
            return 0
        job = Job.model_validate_json(Path(argv[0]).read_text(encoding="utf-8"))
        speaker = load(job.voice)
        emit(Ready(engine=speaker.engine, voice=speaker.voice, sample_rate=speaker.sample_rate))
        with wave.open(job.wav, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(speaker.sample_rate)
            _speak_all(speaker, job, out)
    except EngineFailure as exc:
        emit(Failed(reason=str(exc)))
        return 1
    emit(Done(cpu_seconds=round(time.process_time(), 3)))
    return 0
