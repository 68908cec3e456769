"""Playwright driving Debian's Chromium (headless; nothing downloaded: no `playwright install`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

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
    # bypass_csp: axe-core is injected as an inline script, which the application's CSP rightly forbids
    context = await browser.new_context(locale="de-DE", bypass_csp=True, viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    page = await context.new_page()
    yield page
    await context.close()
