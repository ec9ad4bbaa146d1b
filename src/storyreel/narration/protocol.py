"""What storyreel and an engine process say to each other.

storyreel writes one `Job` as JSON to a file and starts the engine with its path; the
engine appends every sentence's audio to the job's WAV file and prints one JSON line per
`Event` on stdout: `Ready` once it has loaded its voice, `Spoken` after each sentence (the
sample where each of its tokens starts and ends in the WAV), `Done` at the end, or
`Failed` with a reason. `--probe` prints only `Ready` (with the voices it offers).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, TypeAdapter


class SentenceJob(BaseModel):
    """One sentence to speak: its tokens in order, and the silence to leave after it."""

    tokens: list[str]  # spoken words; phrase punctuation stays on the word it follows
    pause: float = Field(ge=0.0)  # seconds of silence after the sentence


class Job(BaseModel):
    """Everything one engine run speaks, into one WAV file (mono, 16-bit)."""

    voice: str
    wav: str
    sentences: list[SentenceJob]


class Ready(BaseModel):
    kind: Literal["ready"] = "ready"
    engine: str
    voice: str  # the voice loaded (or, for a probe, the default one)
    sample_rate: int
    voices: list[str] = []  # a probe's list of the voices this engine offers


class Spoken(BaseModel):
    kind: Literal["spoken"] = "spoken"
    sentence: int  # index into Job.sentences
    # [start, end) in samples from the start of the WAV, one pair per token
    tokens: list[tuple[int, int]]
    samples: int  # samples in the WAV after this sentence and its pause


class Done(BaseModel):
    kind: Literal["done"] = "done"
    cpu_seconds: float  # the engine process's own CPU time


class Failed(BaseModel):
    kind: Literal["failed"] = "failed"
    reason: str


Event = Annotated[Ready | Spoken | Done | Failed, Field(discriminator="kind")]
EVENTS: TypeAdapter[Ready | Spoken | Done | Failed] = TypeAdapter(Event)


def parse_event(line: str) -> Ready | Spoken | Done | Failed:
    """One line an engine printed (pydantic's ValidationError when it is not an event)."""
    return EVENTS.validate_json(line)
