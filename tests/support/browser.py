"""Browser test helpers: axe-core (vendored in tests/support/axe, MPL-2.0 with its licence header)
run in the page against the WCAG 2.1 A/AA rules, screenshots of each main screen as test artefacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).resolve().parent / "axe" / "axe.min.js"
SCREENS = ROOT / "test-artifacts" / "screens"
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


async def staff_context(browser: Any) -> Any:
    """A browser context as a staff member's: German locale, a desk screen's size. bypass_csp: axe-core
    is injected as an inline script, which the application's CSP rightly forbids."""
    return await browser.new_context(locale="de-DE", bypass_csp=True, viewport={"width": 1280, "height": 900})


async def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations of the WCAG 2.0/2.1 level A and AA rules on the current page."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    result = await page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_21_AA,
    )
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
    ]


async def screen(page: Any, name: str) -> Path:
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def check_screen(page: Any, name: str) -> None:
    """Saves the screenshot, then asserts that axe finds no WCAG 2.1 A/AA violation."""
    await screen(page, name)
    violations = await axe_violations(page)
    assert violations == [], f"{name}: {violations}"
