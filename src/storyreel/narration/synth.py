"""Narrate a text into a folder: voice.mp3 and its words.json, timed by the engine itself.

    result = narrate(text, folder, engine="auto", voice="", cancel=event, on_progress=f)

The engine process speaks sentence by sentence into a WAV on disk (so an hour of speech
never sits in memory), reporting the samples of every word as it goes; the WAV is then
brought to the audio path's loudness (-16 LUFS integrated, true peak at most -1.5 dBTP:
`level.py`) in a mono mp3. words.json is the captions' own format, its
words exactly `read_script(text)`'s, every one spoken and trusted fully: a narrated
chapter's captions need no alignment.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from storyreel.captions.timing import Alignment, AlignmentQuality, WordTiming, write_words
from storyreel.errors import MediaError, NarrationError
from storyreel.media.probe import probe
from storyreel.narration import sentences
from storyreel.narration.engineproc import EngineRun, run_engine
from storyreel.narration.engines import resolve
from storyreel.narration.level import encode_voice
from storyreel.narration.protocol import Job, SentenceJob

# Of the progress, the share synthesis takes (the loudness passes take the rest).
SYNTHESIS_SHARE = 0.95
WORK_DIR = ".narration"


@dataclass(frozen=True)
class NarrationResult:
    """What narrate made, and the record the voice is filed with."""

    audio: Path  # folder/voice.mp3
    words: Path  # folder/words.json
    duration: float  # seconds of voice.mp3
    engine: str
    voice: str
    text_sha256: str  # of the text as given (UTF-8)
    cpu_seconds: float  # the engine process's CPU time


def _timings(script: sentences.Script, run: EngineRun, duration: float) -> Alignment:
    owners = [owner for sentence in script.sentences for owner in sentence.owners]
    if len(run.spans) != len(owners) or run.sample_rate <= 0:
        raise NarrationError(f"the engine timed {len(run.spans)} of {len(owners)} words")
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for owner, (start, end) in zip(owners, run.spans, strict=True):
        first.setdefault(owner, start)
        last[owner] = end
    rate = run.sample_rate
    words = []
    for index, word in enumerate(script.words):
        start = min(round(first[index] / rate, 3), duration)
        words.append(WordTiming(word=word.text, start=start,
                                end=max(start, min(round(last[index] / rate, 3), duration))))
    count = len(script.words)
    quality = AlignmentQuality(words=count, aligned=count, unspoken=0, confidence=1.0)
    return Alignment(duration=round(duration, 3), words=words, quality=quality)


def _encode(wav: Path, mp3: Path, sample_rate: int) -> float:
    """`wav` into `mp3` at the voice loudness; its duration in seconds."""
    try:
        encode_voice(wav, mp3, sample_rate)
        duration = probe(mp3).duration
    except MediaError as exc:
        raise NarrationError(f"the voice cannot be encoded: {exc}", path=mp3.parent) from exc
    if not duration:
        raise NarrationError("the encoded voice has no duration", path=mp3.parent)
    return duration


def narrate(text: str, folder: Path | str, *, engine: str = "auto", voice: str = "",
            cancel: threading.Event | None = None,
            on_progress: Callable[[float], None] | None = None) -> NarrationResult:
    """Speak `text` into `folder`/voice.mp3 with its words.json; NarrationError when the
    text has no words, the engine or voice is not available, the engine fails, or
    `cancel` is set (the engine process is killed)."""
    folder = Path(folder)
    engine, voice = resolve(engine, voice)
    script = sentences.plan(text)
    work = folder / WORK_DIR
    work.mkdir(parents=True, exist_ok=True)
    total, done = script.token_count, 0

    def spoken(tokens: int) -> None:
        nonlocal done
        done += tokens
        if on_progress is not None:
            on_progress(SYNTHESIS_SHARE * done / total)

    try:
        job = Job(voice=voice, wav=str(work / "speech.wav"),
                  sentences=[SentenceJob(tokens=list(s.tokens), pause=s.pause) for s in script.sentences])
        run = run_engine(engine, job, work / "job.json", cancel=cancel, on_sentence=spoken)
        duration = _encode(Path(job.wav), work / "voice.mp3", run.sample_rate)
        alignment = _timings(script, run, duration)
        if cancel is not None and cancel.is_set():
            raise NarrationError("cancelled", path=folder)
        (work / "voice.mp3").replace(folder / "voice.mp3")
        words = write_words(alignment, folder / "words.json")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if on_progress is not None:
        on_progress(1.0)
    return NarrationResult(audio=folder / "voice.mp3", words=words, duration=duration, engine=engine,
                           voice=voice, text_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                           cpu_seconds=run.cpu_seconds)
