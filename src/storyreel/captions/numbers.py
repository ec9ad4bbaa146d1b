"""Numbers as a narrator says them: 17 → "seventeen", 1999 → "nineteen ninety nine",
3rd → "third", 2.5 → "two point five"."""

from __future__ import annotations

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    if n >= 100:
        words += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(_TENS[n // 10])
        n %= 10
        if n:
            words.append(_ONES[n])
    elif n or not words:
        words.append(_ONES[n])
    return words


def cardinal(n: int) -> list[str]:
    """The words of a whole number (negative numbers start with "minus")."""
    if n < 0:
        return ["minus", *cardinal(-n)]
    if n < 1000:
        return _below_thousand(n)
    words: list[str] = []
    for scale, name in _SCALES:
        if n >= scale:
            words += [*cardinal(n // scale), name]
            n %= scale
    if n:
        words += _below_thousand(n)
    return words


def year(n: int) -> list[str]:
    """A four-digit year as said: 1999 → nineteen ninety nine, 2005 → two thousand five."""
    high, low = divmod(n, 100)
    if 2000 <= n < 2010 or low == 0 and n % 1000 == 0:
        return cardinal(n)
    if low == 0:
        return [*cardinal(high), "hundred"]
    if low < 10:
        return [*cardinal(high), "oh", _ONES[low]]
    return [*cardinal(high), *cardinal(low)]


def ordinal(n: int) -> list[str]:
    """3 → third, 21 → twenty first, 100 → one hundredth."""
    words = cardinal(n)
    last = words[-1]
    if last in _ORDINAL_WORDS:
        words[-1] = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return words


def decimal(text: str) -> list[str]:
    """"2.50" → two point five zero; "1,000" → one thousand."""
    whole, _, fraction = text.replace(",", "").partition(".")
    words = cardinal(int(whole or "0"))
    if fraction:
        words += ["point", *(_ONES[int(digit)] for digit in fraction)]
    return words
