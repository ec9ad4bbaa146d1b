"""Time intervals as sorted lists of (start, end) seconds: merge, clip, intersect, subtract.

The metrics add up busy and idle time with these; "merged" lists are sorted and
disjoint, which lets the clipping and subtracting functions use binary search.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

Interval = tuple[float, float]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping intervals covering the same time."""
    out: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def total(intervals: Iterable[Interval]) -> float:
    return sum(end - start for start, end in intervals)


def clip(intervals: Iterable[Interval], lo: float, hi: float) -> list[Interval]:
    return [(max(s, lo), min(e, hi)) for s, e in intervals if min(e, hi) > max(s, lo)]


def clip_sorted(intervals: list[Interval], lo: float, hi: float) -> list[Interval]:
    """`clip` for merged (sorted, disjoint) intervals, in time proportional to the result."""
    out: list[Interval] = []
    for k in range(bisect_right(intervals, lo, key=lambda iv: iv[1]), len(intervals)):
        start, end = intervals[k]
        if start >= hi:
            break
        out.append((max(start, lo), min(end, hi)))
    return out


def intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    """Time covered by both merged lists."""
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if end > start:
            out.append((start, end))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: list[Interval], b: list[Interval]) -> list[Interval]:
    """Parts of merged `a` not covered by merged `b`."""
    out: list[Interval] = []
    for start, end in a:
        cursor = start
        for k in range(bisect_right(b, start, key=lambda iv: iv[1]), len(b)):
            bs, be = b[k]
            if bs >= end:
                break
            if be <= cursor:
                continue
            if bs > cursor:
                out.append((cursor, bs))
            cursor = max(cursor, be)
            if cursor >= end:
                break
        if cursor < end:
            out.append((cursor, end))
    return out
