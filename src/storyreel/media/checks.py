"""Decode checks: a clip is taken only if ffmpeg can decode every frame of its video.

ffprobe reads headers only; a file cut short by an interrupted copy often still has
valid headers (when its index sits at the front), and damaged bytes in the middle pass
any check of its two ends, then fail every render that uses it (`-xerror`). So the
whole video stream is decoded once:

- `probe_decoding`: at ingest, by the probe itself (one ffprobe reads the headers and
  decodes every frame), so a clip costs one process start, not two;
- `check_decodes`: by one ffmpeg run with all threads, for a file already probed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from storyreel.errors import MediaError
from storyreel.media import run as runner
from storyreel.media.probe import MediaInfo, probe_run
from storyreel.media.tools import ffmpeg, media_arg

# A decode may take this long whatever the clip's length: start-up, a slow network share.
DECODE_TIMEOUT = 120.0
# ...plus this many seconds per second of video: 2160p30 decodes at about 1.3× real time
# on two cores (RENDER-NOTES), so three times its length is ample even on a busy machine.
DECODE_SECONDS_PER_SECOND = 3.0
# ...or, before the probe knows the length, this many bytes per second: a 2160p clip holds
# about 6 MB a second of video and decodes faster than real time, so 1 MB/s is ample.
DECODE_BYTES_PER_SECOND = 1_000_000

# "[h264 @ 0x55d0c0a1b2c0] error while decoding MB 5 0": the decoder's name, not its address.
_ADDRESS = re.compile(r"^\[([^\]@]+?) @ 0x[0-9a-fA-F]+\]\s*")


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


@dataclass(frozen=True)
class Decoded:
    """One ffprobe run that read a file's headers and decoded every frame of its picture."""

    info: MediaInfo  # lists the picture streams only (cover art aside)
    stderr: str  # what ffprobe complained of while decoding; empty for a clean file

    def damage(self) -> MediaError | None:
        """Why the picture does not decode whole, or None when every frame decodes."""
        path = self.info.path
        problems = [_ADDRESS.sub(r"\1: ", ln.strip()) for ln in self.stderr.splitlines() if ln.strip()]
        if problems:
            return MediaError("decode", path, f"{media_arg(path)}: not every frame decodes ({problems[-1]})",
                              stderr=self.stderr)
        if any(v.frames_decoded == 0 for v in self.info.video):
            return MediaError("decode", path, f"{media_arg(path)}: no frame of its picture decodes")
        return None


def probe_decoding(path: Path | str) -> Decoded:
    """Probe a file and decode every frame of its picture in the same ffprobe process;
    MediaError (verb "probe") when not even its headers can be read."""
    path = Path(path)
    size = path.stat().st_size if path.exists() else 0
    info, done = probe_run(path, decode_video=True,
                           timeout=DECODE_TIMEOUT + size / DECODE_BYTES_PER_SECOND)
    return Decoded(info, done.stderr)
