"""Which input of a failed render ffmpeg blames, read from its stderr.

ffmpeg names a failing input in one of two ways, depending on its version and on where
the input failed:

    by index:  Error while decoding stream #1:0: Invalid data found when processing input
               [vist#1:0/h264 @ 0x55d3] Decoding error: Invalid data found when processing input
               [in#1/mov,mp4,m4a,3gp,3g2,mj2 @ 0x55d3] Error during demuxing: I/O error
    by name:   file:/work/T/video_0002.mp4: corrupt decoded frame in stream 0
               file:/work/T/video_0002.mp4: Invalid data found when processing input
               Error opening input file file:/work/T/video_0002.mp4.

The first such line is the cause; what follows it is often only the consequence (other
inputs cut short, the encoder flushed). Decoder lines such as `[h264 @ 0x55d3] error while
decoding MB 4 4` name no input and are passed over.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# ffmpeg 4-6: "Error while decoding stream #N:M".
_DECODING_RE = re.compile(r"Error while decoding stream #(\d+):\d+")
# ffmpeg 6.1+: a line of input N's decoder or demuxer, "[vist#N:M/codec @ 0x…]" or "[in#N/fmt @ 0x…]".
_TAGGED_RE = re.compile(r"\[(?:[va]?ist#(\d+):\d+|in#(\d+))/[^\]]*\](.*)")
# Words of a tagged line that reports a fault rather than progress.
_FAULT_RE = re.compile(r"error|invalid|corrupt|failed|cannot|unable", re.IGNORECASE)
# "URL: message" is how ffmpeg reports an input's own fault.
_SEPARATOR_RE = re.compile(r": (?=\S)")
# ffmpeg 6+: "Error opening input file URL."
_OPENING_RE = re.compile(r"Error opening input file (.+?)\.?$")


def input_urls(argv: Sequence[str]) -> list[str]:
    """The inputs of an ffmpeg command line, in input order (each argument after `-i`)."""
    return [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == "-i"]


def failing_input(stderr: str, inputs: Sequence[str]) -> int | None:
    """The index of the input ffmpeg's stderr blames first, or None when no line names one.
    `inputs` are the input arguments as given to ffmpeg (`input_urls`)."""
    urls = {url: index for index, url in enumerate(inputs)}
    for line in stderr.splitlines():
        index = _blamed(line.strip(), urls)
        if index is not None and index < len(inputs):
            return index
    return None


def _blamed(line: str, urls: dict[str, int]) -> int | None:
    """The input one stderr line blames, or None."""
    if found := _DECODING_RE.search(line):
        return int(found.group(1))
    if (found := _TAGGED_RE.search(line)) and _FAULT_RE.search(found.group(3)):
        return int(found.group(1) or found.group(2))
    if found := _OPENING_RE.search(line):
        return urls.get(found.group(1))
    for sep in _SEPARATOR_RE.finditer(line):  # "URL: message", the URL may hold ": " itself
        if (index := urls.get(line[:sep.start()])) is not None:
            return index
    return None
