"""Counts and sizes as a person reads them in log lines and views: "1 clip", "3 URLs",
"1.5 GB". One place, so every line counts and rounds the same way."""

from __future__ import annotations

# Decimal units, as `df -H`, disk vendors and diskspace.py count (1 GB = 10⁹ bytes).
_UNITS = ("bytes", "kB", "MB", "GB", "TB", "PB")
_STEP = 1000


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """`1 clip`, `2 clips`, `0 clips`; `nouns` for an irregular plural."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


def human_size(size: float) -> str:
    """`512 bytes`, `1 byte`, `2.3 kB`, `41.0 MB`, `1.5 GB`: one decimal from kB up."""
    if abs(size) < _STEP:
        return plural(int(size), "byte")
    value, unit = float(size), 0
    while abs(value) >= _STEP and unit < len(_UNITS) - 1:
        value, unit = value / _STEP, unit + 1
    return f"{value:.1f} {_UNITS[unit]}"


def seconds_text(value: float) -> str:
    """Seconds as ffmpeg reads them: up to six decimals, no trailing zeros."""
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def duration_text(seconds: float) -> str:
    """A wait as people say it: `45 s`, `9 min`, `2 h 5 min`."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"
