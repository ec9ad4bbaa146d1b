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
# Of a pause that runs to the end, this much is kept: the alignment needs some silence
# after the last word to end it.
TRAILING_KEEP_SECONDS = 0.15
# A word reaching across a cut by this little is taken to lie wholly on one side: the
# aligner (which has no silence model) pulls word edges a few frames into the sliver of
# pause that was kept, or across it.
SNAP_SECONDS = KEEP_SECONDS + 0.08
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

    def _at(self, t: float, index: int) -> float:
        piece = self.pieces[index]
        return piece.source + min(max(0.0, t - piece.at), piece.length)

    def original(self, start: float, end: float) -> tuple[float, float]:
        """The narration's times of a word found from `start` to `end` in the cut audio.

        A word that spans a cut by no more than SNAP_SECONDS on one side is taken to lie
        on the other side: its edge was pulled into the pause that was cut out."""
        starts = [piece.at for piece in self.pieces]
        first = max(0, bisect.bisect_right(starts, start) - 1)
        last = max(0, bisect.bisect_left(starts, end) - 1)
        if last > first and starts[first + 1] - start <= SNAP_SECONDS:
            first += 1
            start = starts[first]
        if last > first and end - starts[last] <= SNAP_SECONDS:
            last -= 1
            end = starts[last] + self.pieces[last].length
        return self._at(start, first), self._at(end, last)


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
        trailing = pause.end == float("inf")
        ends = total if trailing else _frames(pause.end) - keep
        first = _frames(pause.start) + (_frames(TRAILING_KEEP_SECONDS) if trailing else keep)
        last = min(total, ends)
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
