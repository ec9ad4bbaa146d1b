"""The narration with its pauses cut out, and the way back to the narration's own clock.

The aligner models speech without silences between words (see recogniser.py), so the
pauses are cut out of the audio before it aligns, leaving a sliver of each so no word
is clipped. Times found in the cut audio are mapped back with `original`: a word that
starts where a pause was cut starts where the pause ended.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from storyreel.captions.recogniser import BYTES_PER_SECOND, FRAMES_PER_SECOND
from storyreel.media.speech import Pause

# Of each pause, this much is kept on either side (whole analysis frames).
KEEP_SECONDS = 0.02
# A word edge this close to a cut is taken to be at the cut: the aligner puts word edges
# a frame or two into the sliver of pause that was kept.
SNAP_SECONDS = KEEP_SECONDS + 0.03
_FRAME_BYTES = BYTES_PER_SECOND // FRAMES_PER_SECOND


@dataclass(frozen=True)
class Piece:
    """A stretch of the narration kept in the cut audio."""

    at: float  # where it starts in the cut audio (seconds)
    source: float  # where it starts in the narration
    length: float


@dataclass(frozen=True)
class Timeline:
    pcm: bytes  # the cut audio
    pieces: list[Piece]
    cuts: list[tuple[float, float]]  # (time in the cut audio, length of the pause cut there)

    @property
    def duration(self) -> float:
        return len(self.pcm) / BYTES_PER_SECOND

    def original(self, t: float, *, end: bool = False) -> float:
        """The narration's time for `t` in the cut audio; at a cut, a start maps to the
        pause's end and an end to the pause's start."""
        starts = [piece.at for piece in self.pieces]
        index = max(0, (bisect.bisect_left(starts, t) if end else bisect.bisect_right(starts, t)) - 1)
        piece = self.pieces[index]
        if not end and index + 1 < len(self.pieces) and self.pieces[index + 1].at - t <= SNAP_SECONDS:
            return self.pieces[index + 1].source
        if end and index > 0 and t - piece.at <= SNAP_SECONDS:
            before = self.pieces[index - 1]
            return before.source + before.length
        return piece.source + min(max(0.0, t - piece.at), piece.length)


def _frames(seconds: float) -> int:
    return int(round(seconds * FRAMES_PER_SECOND))


def cut_pauses(pcm: bytes, pauses: list[Pause]) -> Timeline:
    """`pcm` without the inside of its pauses (all but KEEP_SECONDS at each edge)."""
    keep, total = _frames(KEEP_SECONDS), len(pcm) // _FRAME_BYTES
    chunks: list[bytes] = []
    pieces: list[Piece] = []
    cuts: list[tuple[float, float]] = []
    at = source = 0  # in frames
    for pause in pauses:
        ends = total if pause.end == float("inf") else _frames(pause.end) - keep
        first, last = _frames(pause.start) + keep, min(total, ends)
        if first <= source or last <= first:
            continue
        chunks.append(pcm[source * _FRAME_BYTES:first * _FRAME_BYTES])
        pieces.append(Piece(at / FRAMES_PER_SECOND, source / FRAMES_PER_SECOND, (first - source) / FRAMES_PER_SECOND))
        at += first - source
        cuts.append((at / FRAMES_PER_SECOND, pause.end - pause.start))
        source = last
    chunks.append(pcm[source * _FRAME_BYTES:])
    pieces.append(Piece(at / FRAMES_PER_SECOND, source / FRAMES_PER_SECOND, (total - source) / FRAMES_PER_SECOND))
    return Timeline(b"".join(chunks), pieces, cuts)
