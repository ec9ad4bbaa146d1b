"""Which render tasks the farm splits across nodes, and where: a long chapter's picture cut
at clip boundaries into parts of about equal cost, each a segment task any node renders.

The parts are render/segments.py's segments (each cut to the exact frames its clips
contribute, so the joined parts are exactly the voice's frames), grouped by decode and
scale cost rather than by output time alone: a 4K clip costs a node several times a 720p
one. The sound is not split: the render task that joins the parts mixes it once over the
whole length and muxes it with the parts copied.

Pure: reads metadata and the clips' recorded shapes, touches no files.
"""

from __future__ import annotations

from storyreel.render.fill import ClipShape
from storyreel.render.picture import fade_lengths
from storyreel.render.segments import (
    MIN_SEGMENT_FRAMES,
    Segment,
    clip_starts,
    frame_count,
    make_segment,
)
from storyreel.taskmeta import TaskMeta

# A chapter is split only when it lasts at least this many times `[render] segment_seconds`:
# one part of a chapter barely longer than a part gains nothing over rendering it whole.
SPLIT_FACTOR = 2.0


def wanted(meta: TaskMeta) -> bool:
    """True when the task's settings ask for a split and its picture can be split: long
    enough, more than one clip, and no frame clip (that is drawn over the whole joined
    picture, so a node would encode it all again)."""
    spec = meta.render
    return (spec.segment_seconds > 0 and meta.voice_duration >= SPLIT_FACTOR * spec.segment_seconds
            and len(meta.video_files) > 1 and not (meta.frame_file and spec.frame))


def parts(meta: TaskMeta, shapes: list[ClipShape]) -> list[Segment] | None:
    """The parts of a task `wanted` says to split, about `segment_seconds` each and of about
    equal cost; None when the clips' lengths are not known or fewer than two parts remain."""
    spec = meta.render
    if len(shapes) != len(meta.video_files) or not all(s.seconds for s in shapes):
        return None
    lengths = [s.seconds or 0.0 for s in shapes]
    fades = fade_lengths(shapes, spec.transition_seconds) if spec.transition == "fade" else None
    total = frame_count(meta.voice_duration, spec.frame_rate)
    starts = clip_starts(lengths, fades, spec.frame_rate)
    used = [k for k in range(len(lengths)) if starts[k] < total]
    ends = [*(starts[k + 1] for k in used[:-1]), total]
    out_pixels = _pixels(spec.resolution)
    costs = [(end - starts[k]) * (_shape_pixels(shapes[k], out_pixels) + out_pixels)
             for k, end in zip(used, ends, strict=True)]
    count = min(len(used), max(2, round(meta.voice_duration / spec.segment_seconds)))
    groups = _balanced(used, costs, count)
    spans: list[tuple[list[int], int]] = []  # clips, frames
    for group in groups:
        end = ends[used.index(group[-1])]
        frames = end - starts[group[0]]
        if spans and frames < MIN_SEGMENT_FRAMES:
            clips, before = spans.pop()
            group, frames = clips + group, before + frames
        spans.append((group, frames))
    if len(spans) < 2:
        return None
    return [make_segment(group, starts[group[0]], frames, lengths, fades) for group, frames in spans]


def _balanced(used: list[int], costs: list[float], count: int) -> list[list[int]]:
    """`used` cut into at most `count` consecutive groups whose costs are as even as the
    clip boundaries allow: each cut goes at the boundary nearest its share of the total."""
    total = sum(costs)
    groups: list[list[int]] = [[]]
    running = 0.0
    for k, cost in zip(used, costs, strict=True):
        mark = total * len(groups) / count  # where the current group should end
        if groups[-1] and len(groups) < count and running + cost / 2 > mark:
            groups.append([])
        groups[-1].append(k)
        running += cost
    return groups


def _pixels(resolution: str) -> int:
    width, _, height = resolution.partition("x")
    return int(width) * int(height) if width.isdigit() and height.isdigit() else 1


def _shape_pixels(shape: ClipShape, fallback: int) -> int:
    return shape.width * shape.height if shape.width and shape.height else fallback


