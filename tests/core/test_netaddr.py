"""HOST:PORT: one type for the coordinator, the dashboard, `status` and the settings."""

from __future__ import annotations

import pytest

from storyreel.config import CoordinatorSettings
from storyreel.errors import ConfigError
from storyreel.netaddr import Listen


@pytest.mark.parametrize(("text", "host", "port", "url", "loopback"), [
    ("127.0.0.1:8765", "127.0.0.1", 8765, "http://127.0.0.1:8765", True),
    ("0.0.0.0:8765", "0.0.0.0", 8765, "http://127.0.0.1:8765", False),
    ("[::1]:9000", "::1", 9000, "http://[::1]:9000", True),
    ("[::]:9000", "::", 9000, "http://127.0.0.1:9000", False),
    ("localhost:80", "localhost", 80, "http://localhost:80", True),
    ("farm-main:8765", "farm-main", 8765, "http://farm-main:8765", False),
])
def test_listen_parses_and_says_where_to_connect(text: str, host: str, port: int, url: str, loopback: bool) -> None:
    listen = Listen.parse(text)
    assert (listen.host, listen.port, listen.url, listen.is_loopback) == (host, port, url, loopback)
    assert Listen.parse(str(listen)) == listen


@pytest.mark.parametrize("text", ["8765", ":8765", "host:", "host:http", "host:65536", ""])
def test_a_bad_listen_address_is_a_clear_error(text: str) -> None:
    with pytest.raises(ConfigError, match="expected HOST:PORT, e.g. 127.0.0.1:8765"):
        Listen.parse(text)


def test_the_bound_port_replaces_port_zero() -> None:
    assert str(Listen.parse("127.0.0.1:0").on_port(40123)) == "127.0.0.1:40123"


def test_settings_check_the_listen_address_on_load() -> None:
    assert CoordinatorSettings(listen="0.0.0.0:8765").listen == "0.0.0.0:8765"
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        CoordinatorSettings(listen="8765")
