"""Decode checks: a clip is taken only if ffmpeg can decode every frame of its video.

ffprobe reads headers only; a file cut short by an interrupted copy often still has
valid headers (when its index sits at the front), and damaged bytes in the middle pass
any check of its two ends, then fail every render that uses it (`-xerror`). So the
whole video stream is decoded once, with all threads, in one ffmpeg run.
"""

from __future__ import annotations

from pathlib import Path

from storyreel.errors import MediaError
from storyreel.media import run as runner
from storyreel.media.tools import ffmpeg, media_arg

# A decode may take this long whatever the clip's length: start-up, a slow network share.
DECODE_TIMEOUT = 120.0
# ...plus this many seconds per second of video: 2160p30 decodes at about 1.3× real time
# on two cores (RENDER-NOTES), so three times its length is ample even on a busy machine.
DECODE_SECONDS_PER_SECOND = 3.0


def decode_timeout(duration: float) -> float:
    """How long the full decode of a clip of `duration` seconds may take."""
    return DECODE_TIMEOUT + DECODE_SECONDS_PER_SECOND * max(duration, 0.0)


def decode_argv(path: Path | str, *, stream: str = "0:v:0") -> list[str]:
    """ffmpeg decoding every frame of one stream (all threads) to nothing, stopping at the
    first error."""
    index = stream.split(":", 1)[1] if ":" in stream else stream
    return [
        ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-xerror", "-threads", "0",
        "-i", media_arg(path), "-map", f"0:{index}", "-f", "null", "-",
    ]


def check_decodes(path: Path | str, duration: float, *, stream: str = "0:v:0") -> None:
    """Decode the whole of one stream; MediaError carrying ffmpeg's complaint when any
    part of it does not decode (or the decode does not finish in decode_timeout)."""
    path = Path(path)
    done = runner.run(decode_argv(path, stream=stream), verb="decode", path=path,
                      timeout=decode_timeout(duration), check=False)
    problems = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
    if done.returncode != 0 or problems:
        last = problems[-1] if problems else f"ffmpeg exited with code {done.returncode}"
        raise MediaError("decode", path, f"not every frame decodes ({last})",
                         returncode=done.returncode, stderr=done.stderr)
