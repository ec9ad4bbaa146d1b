"""A chapter that does not narrate its own chunk: the span it narrates is found in the
story's whole text (real espeak-ng narration, real pocketsphinx, a real render)."""

from __future__ import annotations

import logging
import statistics

import pytest
from storykit import narrated_story, small_render

from storyreel import taskmeta
from storyreel.captions import read_words
from storyreel.layout import TaskState
from storyreel.media.probe import probe
from storyreel.plan import Planner
from storyreel.render.job import render_task

# The tolerances for word starts against the reference.
MEDIAN_ERROR = 0.030
MAX_ERROR = 0.250

ONE = ("The ferry left the northern harbour an hour late, heavy with mail and sheep. "
       "Captain Moreau blamed the fog, though the sky was perfectly clear. "
       "Her first mate counted the crates twice and wrote the numbers on his sleeve. "
       "By noon the island was a grey line on the water.")
TWO = ("Nobody on the island expected visitors that week. "
       "The baker had gone to the mainland to bury his brother. "
       "Only the postmistress stood on the pier, holding a lantern she did not need. "
       "She waved once, turned, and walked back up the hill.")


def _sentences(text: str) -> list[str]:
    return [s if s.endswith(".") else s + "." for s in text.split(". ")]


def _render(project, tmp_path, *, said: str, chapter: int):
    project = small_render(project)
    narration = narrated_story(project, tmp_path, said=said, chapter=chapter, chunks=[ONE, TWO])
    [task_id] = Planner(project).plan_pending()
    task = project.layout.task_dir(task_id, TaskState.QUEUED)
    meta = taskmeta.read(task)
    assert meta.captions.story_file == taskmeta.CAPTIONS_STORY_NAME
    assert (task / meta.captions.story_file).read_text(encoding="utf-8").split() == (ONE + " " + TWO).split()
    out = tmp_path / "out"
    result = render_task(task, out / "final.mp4")
    return narration, result, read_words(out / "words.json"), out


def _errors(narration, said: str, words) -> list[float]:
    """|aligned start − espeak-ng start| over the words espeak-ng reports."""
    at, owner = 0, {}
    for index, token in enumerate(said.split()):
        at = said.index(token, at)
        owner[at] = index
        at += len(token)
    return sorted(abs(words[owner[w.pos]].start - w.start) for w in narration.words if w.pos in owner)


def test_a_chapter_running_from_one_chunk_into_the_next_is_aligned_over_both(project, tmp_path, caplog):
    said = " ".join(_sentences(ONE)[2:] + _sentences(TWO)[:2])
    with caplog.at_level(logging.INFO):
        narration, result, words, out = _render(project, tmp_path, said=said, chapter=1)
    assert [w.word for w in words.words] == said.split()
    assert all(w.spoken for w in words.words)
    start = len(" ".join(_sentences(ONE)[:2]).split())
    assert words.quality.span == [start, start + len(said.split())]
    assert result.captions.unspoken == 0 and result.captions.span == words.quality.span
    errors = _errors(narration, said, words.words)
    assert len(errors) >= 0.9 * len(said.split())
    assert statistics.median(errors) <= MEDIAN_ERROR and errors[-1] <= MAX_ERROR, errors
    assert probe(out / "final.mp4").duration == pytest.approx(narration.seconds, abs=0.2)
    assert not [r for r in caplog.records if "are not in the narration" in r.getMessage()]


def test_a_chapter_narrating_another_chunk_than_its_number_gets_that_chunks_words(project, tmp_path):
    narration, result, words, _ = _render(project, tmp_path, said=ONE, chapter=2)
    assert [w.word for w in words.words] == ONE.split()
    assert all(w.spoken for w in words.words) and words.quality.span == [0, len(ONE.split())]
    errors = _errors(narration, ONE, words.words)
    assert statistics.median(errors) <= MEDIAN_ERROR and errors[-1] <= MAX_ERROR, errors


def test_a_chapter_numbered_past_the_last_chunk_finds_its_text_in_the_story(project, tmp_path):
    said = " ".join(_sentences(ONE)[2:])  # the end of the first chunk; the planner gives the last
    narration, _, words, _ = _render(project, tmp_path, said=said, chapter=3)
    assert [w.word for w in words.words] == said.split() and all(w.spoken for w in words.words)
    errors = _errors(narration, said, words.words)
    assert statistics.median(errors) <= MEDIAN_ERROR and errors[-1] <= MAX_ERROR, errors
