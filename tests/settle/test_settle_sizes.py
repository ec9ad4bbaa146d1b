"""Sizes in log lines and refusals read as a person reads them (`6.0 GB`), not byte counts."""

from __future__ import annotations

import re

import pytest

from storyreel.coordinator.upload import check_room
from storyreel.errors import DiskFull, LinkFileError, UploadTooLarge
from storyreel.ingest.story import MAX_LINK_FILE_BYTES, read_urls

GB = 10**9


def test_upload_refusals_name_sizes_in_units():
    with pytest.raises(UploadTooLarge) as big:
        check_room("t1", 6 * GB, cap=5 * GB, spare=100 * GB)
    assert str(big.value) == "upload of task t1 announces 6.0 GB, over the 5.0 GB [coordinator] max_upload_gb allows"
    with pytest.raises(DiskFull) as full:
        check_room("t1", 2 * GB, cap=5 * GB, spare=1_500_000)
    assert "announces 2.0 GB and the main worker has 1.5 MB free above its disk floor" in str(full.value)
    assert not re.search(r"\d{5,}", str(big.value) + str(full.value))


def test_an_oversized_link_file_names_its_limit_in_units(tmp_path):
    link = tmp_path / "links.txt"
    link.write_bytes(b"https://example.org/\n" * (MAX_LINK_FILE_BYTES // 20))
    with pytest.raises(LinkFileError, match=r"link file is over \d+\.\d [kM]B; expected a few URLs"):
        read_urls(link)
