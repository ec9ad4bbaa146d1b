"""H.264 encoders: per-encoder options, and a once-per-machine probe by test encode.

The probe tries, in order, NVENC, Quick Sync, VideoToolbox, VAAPI and libx264 with
a one-second encode of a test picture; the first that works is "auto". Results are
cached per ffmpeg binary (path and mtime) in $XDG_CACHE_HOME/storyreel/encoders.json.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from storyreel import fsops
from storyreel.errors import ConfigError, MediaError, StoryreelError
from storyreel.logs import RENDER_WORKER, get_logger
from storyreel.media import run as runner
from storyreel.media.tools import ffmpeg

log = get_logger(RENDER_WORKER)

# Probe order: hardware encoders first (fast, free CPU), the software encoder last.
ENCODER_ORDER = ("h264_nvenc", "h264_qsv", "h264_videotoolbox", "h264_vaapi", "libx264")
AUTO = "auto"

# Render node on Linux with one GPU: the first DRM render node is the usual VAAPI device.
VAAPI_DEVICE = os.environ.get("STORYREEL_VAAPI_DEVICE", "/dev/dri/renderD128")

# A test encode takes well under a second when the encoder works; a driver that hangs
# must not hang the node's start.
PROBE_TIMEOUT = 30.0

X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                "slower", "veryslow")
# NVENC's p1 (fastest) … p7 (best), matched to x264's names by speed.
_NVENC_PRESETS = {"ultrafast": "p1", "superfast": "p2", "veryfast": "p3", "faster": "p3",
                  "fast": "p4", "medium": "p5", "slow": "p6", "slower": "p7", "veryslow": "p7"}
# Quick Sync has no ultrafast/superfast; its fastest is veryfast.
_QSV_PRESETS = {"ultrafast": "veryfast", "superfast": "veryfast"}
# Presets at or above this speed ask VideoToolbox for real-time (faster) encoding.
_FAST_PRESETS = frozenset({"ultrafast", "superfast", "veryfast", "faster"})


@dataclass(frozen=True)
class EncoderSetup:
    """How to drive one encoder: where its options go in the ffmpeg command line."""

    name: str
    output_args: list[str]  # after the maps: codec, preset, quality
    global_args: list[str] = field(default_factory=list)  # before every input (devices)
    clip_input_args: list[str] = field(default_factory=list)  # before each clip's -i (hw decode)
    gpu_scale: bool = False  # clips are decoded to GPU memory and scaled there (scale_cuda)
    pix_fmt_filter: str = "format=yuv420p"  # last filter of the video chain


def presets_for(name: str) -> tuple[str, ...]:
    """The names `[render] preset` may hold for encoder `name` (or auto). Every encoder
    takes x264's names: NVENC through its table, Quick Sync by name (its missing fastest
    two as veryfast), VideoToolbox as real-time or not; VAAPI ignores the preset."""
    if name == "h264_nvenc":
        return tuple(_NVENC_PRESETS)
    return X264_PRESETS


def _check_preset(preset: str, name: str = AUTO) -> str:
    if preset not in presets_for(name):
        raise ConfigError(f"unknown preset {preset!r}: expected one of {', '.join(presets_for(name))}")
    return preset


def setup(name: str, preset: str = "medium", quality: int = 23, *, hw_decode: bool = True) -> EncoderSetup:
    """The options of encoder `name` at a speed preset (x264 names) and constant quality.

    `hw_decode=False` keeps decoding and scaling on the CPU (NVENC's fallback when the
    GPU cannot decode a clip)."""
    preset = _check_preset(preset, name)
    quality = str(int(quality))
    if name == "libx264":
        return EncoderSetup(name, ["-c:v", "libx264", "-preset", preset, "-crf", quality])
    if name == "h264_nvenc":
        return EncoderSetup(
            name,
            ["-c:v", "h264_nvenc", "-preset", _NVENC_PRESETS[preset], "-tune", "hq",
             "-rc", "vbr", "-cq", quality, "-b:v", "0"],
            clip_input_args=["-hwaccel", "cuda", "-hwaccel_output_format", "cuda"] if hw_decode else [],
            gpu_scale=hw_decode,
        )
    if name == "h264_qsv":
        return EncoderSetup(
            name, ["-c:v", "h264_qsv", "-preset", _QSV_PRESETS.get(preset, preset),
                   "-global_quality", quality],
            pix_fmt_filter="format=nv12",
        )
    if name == "h264_videotoolbox":
        # VideoToolbox quality is 1..100, higher is better; map the 0..51 CRF-like scale onto it.
        vt_quality = str(max(1, min(100, round(100 - int(quality) * 100 / 51))))
        args = ["-c:v", "h264_videotoolbox", "-q:v", vt_quality]
        if preset in _FAST_PRESETS:
            args += ["-realtime", "1"]
        return EncoderSetup(name, args)
    if name == "h264_vaapi":
        return EncoderSetup(
            name, ["-c:v", "h264_vaapi", "-rc_mode", "CQP", "-qp", quality],
            global_args=["-vaapi_device", VAAPI_DEVICE],
            pix_fmt_filter="format=nv12,hwupload",
        )
    raise ConfigError(f"unknown encoder {name!r}: expected auto or one of {', '.join(ENCODER_ORDER)}")


def test_encode_argv(name: str, ffmpeg_path: str) -> list[str]:
    """A one-second encode of a small test picture, thrown away."""
    enc = setup(name, "veryfast", 28)
    return [
        ffmpeg_path, "-hide_banner", "-nostdin", "-v", "error", *enc.global_args,
        "-f", "lavfi", "-i", "testsrc2=s=256x144:r=30:d=1",
        "-vf", enc.pix_fmt_filter, *enc.output_args, "-f", "null", "-",
    ]


def _cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "storyreel" / "encoders.json"


def _binary_key(ffmpeg_path: str) -> str:
    try:
        mtime = os.stat(ffmpeg_path).st_mtime_ns
    except OSError:
        mtime = 0
    return f"{os.path.realpath(ffmpeg_path)}:{mtime}"


def _read_cache(path: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: [e for e in v if e in ENCODER_ORDER] for k, v in data.items() if isinstance(v, list)}


def probe_encoder(name: str, ffmpeg_path: str) -> bool:
    """True when a one-second test encode with `name` succeeds on this machine."""
    done = runner.run(test_encode_argv(name, ffmpeg_path), verb="test encoder", path=name,
                      timeout=PROBE_TIMEOUT, check=False)
    return done.returncode == 0


_lock = threading.Lock()


def usable_encoders() -> list[str]:
    """The encoders that work here, best first (probed once per ffmpeg binary, then cached)."""
    path = ffmpeg()
    key = _binary_key(path)
    cache = _cache_file()
    with _lock:
        known = _read_cache(cache)
        if key in known:
            return known[key]
        found = _probe_all(path)
        known = _read_cache(cache)
        known[key] = found
        try:
            fsops.write_json(cache, known)
        except StoryreelError as exc:
            # An unwritable cache only means probing again at the next start.
            log.warning("Cannot cache encoder probe results: %s", exc)
        return found


def _probe_all(path: str) -> list[str]:
    found = []
    for name in ENCODER_ORDER:
        try:
            ok = probe_encoder(name, path)
        except MediaError:
            ok = False  # timed out or could not start: not usable
        if ok:
            found.append(name)
    return found


def choose(requested: str) -> str:
    """The encoder to use: a forced name as is, or "auto" → the best usable one here."""
    if requested and requested != AUTO:
        setup(requested)  # rejects unknown names
        return requested
    usable = usable_encoders()
    if not usable:
        raise MediaError("choose an encoder for", ffmpeg(),
                         f"no H.264 encoder works on this machine (tried {', '.join(ENCODER_ORDER)})")
    return usable[0]
