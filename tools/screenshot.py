"""Regenerate docs/screenshot.png from a running demo (needs Playwright and /usr/bin/chromium).

    python app.py &                      # wait until it serves
    python -m tools.screenshot             # or --url http://127.0.0.1:PORT/ --out FILE

It loads the face-and-speech example with text switched off, presses Analyze and captures the
whole page, so the picture shows what reconstruction keeps when a modality is missing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = "Face + speech, text switched off"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def capture(url: str, out: Path, timeout_ms: int = 180_000) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(timeout_ms)
        page.goto(url)
        page.get_by_text(EXAMPLE, exact=True).click()
        page.locator("#analyze").click()
        page.locator(".firf-score").wait_for()
        page.wait_for_timeout(1000)  # let the chart image and the landmark frame finish loading
        page.screenshot(path=str(out), full_page=True)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860/")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "screenshot.png")
    args = parser.parse_args()
    capture(args.url, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
