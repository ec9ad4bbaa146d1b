"""Keep a page's story text and drop its boilerplate.

HTML goes through trafilatura (the reference extractor in published benchmarks),
which keeps the main text's paragraphs and drops navigation, comments, ads,
scripts and footers. Plain-text pages are taken as they are. Either way the
result is normalised: Unicode NFC, one paragraph per block separated by a blank
line, runs of whitespace (tabs, no-break spaces, hard line wraps) inside a
paragraph collapsed to one space, control characters removed.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import unicodedata

from storyreel.errors import ExtractError

# trafilatura takes about a second to import: it is loaded by the first HTML page, not
# by every main worker that starts with no story links. A missing one still stops this
# module's import, so the crawler reports itself not installed (ingest.open_link_processor).
if importlib.util.find_spec("trafilatura") is None:
    raise ModuleNotFoundError("No module named 'trafilatura'", name="trafilatura")

# trafilatura warns "discarding data" for every page without text; we report that
# ourselves, in the SPEC §9 format, as the link's reason.
logging.getLogger("trafilatura").setLevel(logging.ERROR)

PARAGRAPH_BREAK = "\n\n"
# Plain text wraps lines inside a paragraph; a blank line ends one.
_BLANK_LINE = re.compile(r"\n[ \t\u00a0\u3000]*\n")
# Control and invisible formatting characters that are not whitespace.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def _clean_paragraph(text: str) -> str:
    text = "".join(" " if ch.isspace() else ch for ch in text if ch.isspace() or unicodedata.category(ch) not in _INVISIBLE)
    return " ".join(text.split())


def normalise(paragraphs: list[str]) -> str:
    """Paragraphs joined by blank lines, whitespace collapsed, with a final newline; '' when empty."""
    kept = [p for p in (_clean_paragraph(unicodedata.normalize("NFC", p)) for p in paragraphs) if p]
    return PARAGRAPH_BREAK.join(kept) + "\n" if kept else ""


def plain_paragraphs(text: str) -> list[str]:
    """A plain-text page's paragraphs: blocks separated by blank lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _BLANK_LINE.split(text)


def html_paragraphs(html: str, url: str) -> list[str]:
    """The main text of an HTML page, one entry per paragraph or heading."""
    import trafilatura

    extracted = trafilatura.extract(
        html, url=url, output_format="txt", include_comments=False, include_tables=True,
        include_images=False, include_links=False, deduplicate=False, favor_precision=False,
    )
    return extracted.split("\n") if extracted else []


def extract_text(content: str, media_type: str, url: str) -> str:
    """The story text of a page: normalised paragraphs ending in a newline."""
    if media_type == "text/plain":
        paragraphs = plain_paragraphs(content)
    else:
        paragraphs = html_paragraphs(content, url)
    text = normalise(paragraphs)
    if not text:
        raise ExtractError(url, "no text found")
    return text
