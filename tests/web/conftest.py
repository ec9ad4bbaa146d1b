"""The browser the dashboard tests drive: real headless Chromium through Playwright."""

from __future__ import annotations

import pytest
from webkit import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture()
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
