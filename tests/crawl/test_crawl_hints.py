"""A refused story link says how an operator allows it, when it can be allowed."""

from __future__ import annotations

import pytest

from storyreel.crawl.safety import check_url
from storyreel.errors import UnsafeURLError


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/story", "http://[::1]/story", "http://10.0.0.5/"])
def test_a_loopback_or_private_link_names_allow_private_networks(url: str):
    with pytest.raises(UnsafeURLError) as refused:
        check_url(url)
    assert "blocked address" in str(refused.value)
    assert "set [crawl] allow_private_networks = true" in str(refused.value)


def test_the_cloud_metadata_address_gets_no_hint_it_is_never_allowed():
    with pytest.raises(UnsafeURLError) as refused:
        check_url("http://169.254.169.254/latest/")
    assert "allow_private_networks" not in str(refused.value)
