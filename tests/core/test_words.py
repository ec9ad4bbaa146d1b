"""Counts, sizes, suggestions and URLs as an operator reads and writes them."""

from __future__ import annotations

import pytest

from storyreel.config import did_you_mean, setting_name
from storyreel.errors import ConfigError
from storyreel.netaddr import server_url
from storyreel.units import human_size, plural


def test_plural_counts_one_and_many():
    assert [plural(n, "clip") for n in (0, 1, 2)] == ["0 clips", "1 clip", "2 clips"]
    assert plural(1, "URL") == "1 URL" and plural(3, "URL") == "3 URLs"


@pytest.mark.parametrize(("size", "text"), [
    (0, "0 bytes"), (1, "1 byte"), (999, "999 bytes"), (2_345, "2.3 kB"),
    (41_000_000, "41.0 MB"), (1_500_000_000, "1.5 GB"), (3 * 10**18, "3000.0 PB"),
])
def test_human_size_reads_as_a_person_would(size: int, text: str):
    assert human_size(size) == text


def test_did_you_mean_suggests_the_closest_setting():
    assert did_you_mean("encodr", ["encoder", "preset", "logo"]) == ": did you mean encoder?"
    assert did_you_mean("frame_rat", ["frame_rate", "resolution"]) == ": did you mean frame_rate?"
    assert did_you_mean("zzzz", ["encoder", "preset"]) == ""


def test_a_setting_is_named_as_the_file_shows_it():
    assert setting_name(("render", "encoder")) == "[render] encoder"
    assert setting_name(("crawl", "allow_networks", 0)) == "[crawl] allow_networks"
    assert setting_name(("log_level",)) == "log_level"


@pytest.mark.parametrize(("text", "url", "added"), [
    ("127.0.0.1:8765", "http://127.0.0.1:8765", True),
    ("farm-main:8765/", "http://farm-main:8765", True),
    ("http://farm-main:8765", "http://farm-main:8765", False),
    ("HTTPS://farm.example", "https://farm.example", False),
])
def test_a_server_without_a_scheme_is_fixed_up(text: str, url: str, added: bool):
    assert server_url(text) == (url, added)


@pytest.mark.parametrize("text", ["ftp://farm:21", "http://", "://farm", ":8765"])
def test_a_server_that_can_never_answer_is_refused(text: str):
    with pytest.raises(ConfigError, match="is not the main worker's URL"):
        server_url(text)
