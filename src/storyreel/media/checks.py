"""Decode checks: a clip is taken only if ffmpeg can decode its first and last moments.

ffprobe reads headers only; a file cut short by an interrupted copy often still has
valid headers (when its index sits at the front), so we decode a little of each end.
"""

from __future__ import annotations

from pathlib import Path

from storyreel.errors import MediaError
from storyreel.media import run as runner
from storyreel.media.tools import ffmpeg, media_arg

# Seconds decoded at each end: enough for a few GOPs, small enough to stay quick.
EDGE_SECONDS = 1.0
# A decode of a couple of seconds of video; generous for slow network shares.
DECODE_TIMEOUT = 120.0


def check_decodes(path: Path | str, duration: float, *, stream: str = "0:v:0") -> None:
    """Decode the first and the last second of one stream (in one ffmpeg run).

    MediaError carrying ffmpeg's complaint when either end fails to decode.
    """
    path = Path(path)
    edge = f"{EDGE_SECONDS:g}"
    index = stream.split(":", 1)[1] if ":" in stream else stream
    inputs = ["-t", edge, "-i", media_arg(path)]
    maps = ["-map", f"0:{index}"]
    if duration > EDGE_SECONDS:
        inputs += ["-sseof", f"-{edge}", "-t", edge, "-i", media_arg(path)]
        maps += ["-map", f"1:{index}"]
    argv = [ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-xerror", *inputs, *maps, "-f", "null", "-"]
    done = runner.run(argv, verb="decode", path=path, timeout=DECODE_TIMEOUT, check=False)
    problems = [ln.strip() for ln in done.stderr.splitlines() if ln.strip()]
    if done.returncode != 0 or problems:
        last = problems[-1] if problems else f"ffmpeg exited with code {done.returncode}"
        raise MediaError("decode", path, last, returncode=done.returncode, stderr=done.stderr)
