"""Playwright driving Debian's Chromium (headless; nothing downloaded: no `playwright install`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.support.browser import staff_context

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("browser tests need Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.async_api import async_playwright

    pw = await async_playwright().start()
    browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
    yield browser
    await browser.close()
    await pw.stop()


@pytest_asyncio.fixture
async def page(browser: object) -> AsyncIterator[object]:
    context = await staff_context(browser)
    page = await context.new_page()
    yield page
    await context.close()
