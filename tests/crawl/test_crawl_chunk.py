"""Chunking: at most N words, split at paragraph, then sentence, never inside a word."""

from __future__ import annotations

import pytest
from crawlkit import words

from storyreel.crawl.chunk import chunk_text, count_words
from storyreel.crawl.extract import extract_text, normalise


def test_25000_words_make_three_chunks_that_rejoin_exactly() -> None:
    text = words(25_000, per_paragraph=100, per_sentence=10)
    chunks = chunk_text(text, 10_000)
    assert len(chunks) == 3
    assert "".join(chunks) == text
    assert [count_words(c) for c in chunks] == [10_000, 10_000, 5_000]
    assert all(c.endswith(".\n\n") for c in chunks[:-1])
    # 120-word paragraphs: each chunk ends at the last paragraph that fits (83 × 120 words).
    text = words(25_000, per_paragraph=120)
    chunks = chunk_text(text, 10_000)
    assert "".join(chunks) == text
    assert [count_words(c) for c in chunks] == [9_960, 9_960, 5_080]


def test_paragraph_boundaries_are_preferred() -> None:
    text = words(2_500, per_paragraph=300)
    chunks = chunk_text(text, 1_000)
    assert "".join(chunks) == text
    assert all(count_words(c) <= 1_000 for c in chunks)
    assert all(c.endswith("\n\n") for c in chunks[:-1])
    assert [count_words(c) for c in chunks] == [900, 900, 700]


def test_sentence_boundary_when_a_paragraph_is_too_long() -> None:
    text = words(2_500, per_paragraph=10_000, per_sentence=7)
    chunks = chunk_text(text, 1_000)
    assert "".join(chunks) == text
    assert all(count_words(c) <= 1_000 for c in chunks)
    assert all(c.endswith(". ") for c in chunks[:-1])
    assert count_words(chunks[0]) == 994  # 142 whole sentences of 7 words


def test_word_boundary_when_there_is_no_sentence() -> None:
    text = " ".join(f"w{i}" for i in range(250)) + "\n"
    chunks = chunk_text(text, 100)
    assert "".join(chunks) == text
    assert [count_words(c) for c in chunks] == [100, 100, 50]
    assert chunks[1].startswith("w100 ")


def test_small_and_empty_texts() -> None:
    assert chunk_text("", 10) == []
    assert chunk_text(" \n ", 10) == []
    assert chunk_text("One two three.\n", 10) == ["One two three.\n"]
    with pytest.raises(ValueError):
        chunk_text("a", 0)


def test_unicode_words_and_closing_quotes() -> None:
    text = "« Il dit : “Viens.” » Elle vint.\n\n" + "Ça va » très bien. " * 30
    chunks = chunk_text(text.strip() + "\n", 20)
    assert "".join(chunks) == text.strip() + "\n"
    assert all(count_words(c) <= 20 for c in chunks)


def test_normalise_collapses_whitespace_and_drops_control_characters() -> None:
    assert normalise(["  a\tb\u00a0 c  ", "", "d\u200be\x07f", "  "]) == "a b c\n\ndef\n"
    assert normalise([]) == ""


def test_plain_text_paragraphs_unwrap_lines() -> None:
    text = "Chapter 1\r\n\r\nIt was a dark\r\nand stormy night.\n \nThe end.\n"
    assert extract_text(text, "text/plain", "http://x/") == "Chapter 1\n\nIt was a dark and stormy night.\n\nThe end.\n"
