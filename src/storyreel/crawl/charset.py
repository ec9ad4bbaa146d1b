"""Decode a page's bytes to text the way browsers pick the charset.

Order: a byte-order mark; the HTTP `charset`; for HTML/XHTML a `<meta charset>`
or XML declaration near the top; strict UTF-8; statistical detection
(charset_normalizer), preferring windows-1252 among equally good readings; and
windows-1252 as the last resort. ISO-8859-1 and ASCII labels are read as
windows-1252, as the WHATWG Encoding Standard says. Undecodable bytes become
U+FFFD; nothing raises.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

# Charset labels that browsers read as windows-1252 (WHATWG Encoding Standard).
_AS_WINDOWS_1252 = frozenset({"iso-8859-1", "iso8859-1", "latin-1", "latin1", "us-ascii", "ascii", "l1"})
# Browsers look for <meta charset> within the first 1024 bytes; we allow a bit more.
_META_SNIFF_BYTES = 4096
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)|<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_.:-]+)""",
    re.IGNORECASE,
)


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().lower()
    if label in _AS_WINDOWS_1252:
        return "cp1252"
    try:
        name = codecs.lookup(label).name
        b"x".decode(name, errors="replace")  # refuses bytes-to-bytes and text transforms (base64, rot13)
    except LookupError:
        return None
    return name


def decode_body(body: bytes, header_charset: str | None, media_type: str) -> tuple[str, str]:
    """The page as text and the codec used: HTTP charset, BOM, <meta>, UTF-8, detection."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if body.startswith(bom):
            return body.decode(name, errors="replace"), name
    codec = _codec(header_charset)
    if codec is None and media_type != "text/plain":
        match = _META_CHARSET.search(body[:_META_SNIFF_BYTES])
        codec = _codec((match.group(1) or match.group(2)).decode("ascii")) if match else None
    if codec is not None:
        return body.decode(codec, errors="replace"), codec
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # Web pages are never BOM-less UTF-16/32; detection proposes them for short bodies.
    matches = [m for m in charset_normalizer.from_bytes(body) if not m.encoding.startswith(("utf_16", "utf_32"))]
    codec = None
    if matches:
        least = min(m.chaos for m in matches)
        tied = [m.encoding for m in matches if m.chaos <= least]
        # Among equally plausible readings prefer the web's default, as browsers do.
        codec = "cp1252" if "cp1252" in tied else _codec(tied[0])
    codec = codec or "cp1252"
    return body.decode(codec, errors="replace"), codec
