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

from app.examples import TIMELINE_EXAMPLE
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
    # Only text was given: the explanation has the one subset the chart shows.
    assert page.locator("#explanation li").all_inner_texts() == [
        f"The words alone read {expected['score']:+.2f} ({expected['label']}) — your selection, "
        "the score above."
    ]


def test_everything_switched_off_shows_the_reason(page):
    page.locator("#text-input textarea").fill(TEXT)
    for name in ("text", "audio", "vision"):
        page.get_by_role("checkbox", name=name).uncheck()
    page.locator("#analyze").click()
    page.get_by_text("every modality is switched off").first.wait_for()
    # The score panel's "No result" comes from the failure handler, an event after the toast.
    page.locator("#score", has_text="No result").wait_for(timeout=15_000)
    assert page.locator(".firf-score").count() == 0
    # The error toast says it all: no "Error" badge over each output panel besides it.
    assert page.get_by_text("Error", exact=True).filter(visible=True).count() <= 1


def test_example_clip_explains_every_subset_and_the_loss(page):
    page.get_by_text("Face + speech, 40% of frames and tokens dropped", exact=True).click()
    page.locator("#analyze").click()
    score = page.locator(".firf-score")
    score.wait_for()
    lines = page.locator("#explanation li").all_inner_texts()
    assert len(lines) == 7 + 1  # every subset of text, audio and vision, then the loss
    assert lines[0].startswith("The words alone read ")
    assert lines[2].startswith("The face alone reads ")
    assert lines[6].startswith("The words, the voice and the face together read ")
    assert "your selection" in lines[6] and "every input you gave" in lines[6]
    assert "the face (" in lines[6] and "the words (" in lines[6]
    assert lines[7].startswith("With 40% of frames and tokens dropped at random")
    assert f"your selection reads {score.inner_text()} " in lines[7]
    coverage = page.locator("#coverage").inner_text()
    assert coverage.count("simulated loss:") == 3  # text, audio and vision all lost some
    # Loading another example clears the result computed from the previous inputs.
    page.get_by_text("Typed: negative", exact=True).click()
    score.wait_for(state="detached")
    assert page.locator("#explanation li").count() == 0


def test_a_long_clip_shows_its_timeline(page):
    page.get_by_text(TIMELINE_EXAMPLE, exact=True).click()
    page.locator("#analyze").click()
    page.locator(".firf-score").wait_for()
    # The score over time, one line per modality, drawn below the robustness chart.
    page.locator("#timeline img").wait_for()
    assert page.locator("#timeline").is_visible()
    # A short clip gets none: the timeline is hidden again.
    page.get_by_text("Face + speech, text switched off", exact=True).click()
    page.locator("#analyze").click()
    page.locator(".firf-score").wait_for()
    page.locator("#timeline").wait_for(state="hidden")
