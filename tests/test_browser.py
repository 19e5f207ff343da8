"""The demo page in headless Chromium: what a person sees after typing text and pressing Analyze.

Uses Debian's /usr/bin/chromium through Playwright (no browser download); skipped, with the
reason, only where that browser is not installed (scripts/install-system-deps.sh installs it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client
from test_app import serve_app

from firf.weights import BUNDLED_WEIGHTS
from tools.screenshot import CHROMIUM_ARGS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path("/usr/bin/chromium").exists(),
        reason="/usr/bin/chromium is not installed (apt-get install chromium)",
    ),
]

TEXT = "The service was slow and the food was cold, a real disappointment."
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("app")
    with serve_app(folder, BUNDLED_WEIGHTS) as url:
        yield url


@pytest.fixture
def page(app_url: str):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(app_url)
        yield page
        browser.close()


def test_typed_text_shows_the_models_score(page, app_url: str):
    page.locator("#text-input textarea").fill(TEXT)
    page.locator("#analyze").click()
    score = page.locator(".firf-score")
    score.wait_for()
    shown = float(score.get_attribute("data-score"))
    expected = Client(app_url, verbose=False, analytics_enabled=False).predict(
        None, None, TEXT, ["text", "audio", "vision"], api_name="/analyze"
    )
    assert shown == pytest.approx(expected["score"], abs=1e-4)
    assert score.inner_text() == f"{expected['score']:+.2f}"
    assert page.locator(".firf-label").inner_text() == expected["label"]
    assert "Text used: the typed text" in page.locator("#text-source").inner_text()
    assert "text\tused" in page.locator("#coverage").inner_text()


def test_everything_switched_off_shows_the_reason(page):
    page.locator("#text-input textarea").fill(TEXT)
    for name in ("text", "audio", "vision"):
        page.get_by_role("checkbox", name=name).uncheck()
    page.locator("#analyze").click()
    page.get_by_text("every modality is switched off").first.wait_for()
    assert page.locator(".firf-score").count() == 0
