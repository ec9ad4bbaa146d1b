"""Which engines this machine can run, and the engine and voice a request means.

Each engine is probed for real once per process, in its own process (`--probe`): the
espeak-ng engine loads libespeak-ng and lists its voices, the Piper engine imports
piper-tts (with onnx, for the word timings) and finds its voice package.
"""

from __future__ import annotations

import functools
import logging
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import ValidationError

from storyreel.errors import NarrationError
from storyreel.media.run import die_with_parent
from storyreel.narration.enginekit import EngineFailure
from storyreel.narration.piper_engine import voice_files
from storyreel.narration.protocol import Failed, Ready, parse_event

log = logging.getLogger("storyreel.narration")

# Best first: Piper's neural voice sounds natural; espeak-ng is light and always there.
ENGINES = ("piper", "espeak-ng")
AUTO = "auto"
# The module each engine process runs (`python -m`).
ENGINE_MODULES = {"piper": "storyreel.narration.piper_engine",
                  "espeak-ng": "storyreel.narration.espeak_engine"}
# How each engine is installed, for the message when it is missing.
INSTALL_HINTS = {"piper": "pip install 'storyreel[narration]'",
                 "espeak-ng": "sudo apt-get install espeak-ng"}
# A probe loads a library or imports piper and onnx: seconds, even on a busy machine.
PROBE_TIMEOUT = 120.0


def engine_command(engine: str, *args: str) -> list[str]:
    """The command line of `engine`'s process."""
    return [sys.executable, "-m", ENGINE_MODULES[engine], *args]


@functools.cache
def _probe(engine: str) -> Ready | str:
    """The engine's Ready, or why it cannot run here (asked once per process)."""
    try:
        done = subprocess.run([*die_with_parent(), *engine_command(engine, "--probe")],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"its probe did not finish ({exc})"
    try:
        event = parse_event(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValidationError):
        lines = done.stderr.strip().splitlines()
        return f"its probe failed ({lines[-1] if lines else f'exit code {done.returncode}'})"
    if isinstance(event, Failed):
        return event.reason
    return event if isinstance(event, Ready) else "its probe printed no voice"


def probes(engines: tuple[str, ...] = ENGINES) -> dict[str, Ready | str]:
    """The probes of `engines` (side by side; each one once per process)."""
    with ThreadPoolExecutor(max_workers=len(engines)) as pool:
        found = dict(zip(engines, pool.map(_probe, engines), strict=True))
    for engine, result in found.items():
        if isinstance(result, str):
            log.debug("Narration engine %s is not available: %s", engine, result)
    return found


def available_engines() -> dict[str, str]:
    """Engine → its default voice, for the engines this machine can run, best first."""
    return {engine: ready.voice for engine, ready in probes().items() if isinstance(ready, Ready)}


def _check_voice(engine: str, voice: str, ready: Ready) -> str:
    if engine == "espeak-ng":
        if voice.split("+", 1)[0].lower() not in ready.voices:
            raise NarrationError(f"espeak-ng has no voice {voice!r} (espeak-ng --voices lists them)")
        return voice
    try:
        voice_files(voice)
    except EngineFailure as exc:
        raise NarrationError(str(exc)) from None
    return str(Path(voice).resolve()) if voice.endswith(".onnx") else voice


def resolve(engine: str, voice: str) -> tuple[str, str]:
    """The engine and voice to use: "auto" → the best available engine, "" → its default
    voice; NarrationError (a clear message) when that is unknown or not available here."""
    if engine != AUTO and engine not in ENGINES:
        raise NarrationError(f"unknown narration engine {engine!r}: expected {AUTO}, "
                             + " or ".join(ENGINES))
    found = probes(ENGINES if engine == AUTO else (engine,))
    if engine == AUTO:
        engine = next((name for name in ENGINES if isinstance(found[name], Ready)), "")
        if not engine:
            raise NarrationError("no narration engine can run here: "
                                 + "; ".join(f"{name}: {INSTALL_HINTS[name]}" for name in ENGINES))
    ready = found[engine]
    if isinstance(ready, str):
        raise NarrationError(f"engine {engine!r} cannot run here ({ready}): {INSTALL_HINTS[engine]}")
    return engine, _check_voice(engine, voice or ready.voice, ready)
