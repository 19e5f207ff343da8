"""Regenerate the demo's screenshots in docs/ from a running demo (Playwright, /usr/bin/chromium).

    python app.py &                      # wait until it serves
    python -m tools.screenshot           # or --url http://127.0.0.1:PORT/ --out-dir DIR

Each picture loads one example, presses Analyze and captures the whole page: the face-and-speech
example with text switched off shows what reconstruction keeps when a modality is missing, the
one whose typed words contradict the smiling face shows the explanation of a disagreement, the
16 s talk shows its timeline.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import sync_playwright

from app.examples import TIMELINE_EXAMPLE

REPO_ROOT = Path(__file__).resolve().parent.parent
# file in docs/ -> the example it shows
SHOTS = {
    "screenshot.png": "Face + speech, text switched off",
    "screenshot-disagreement.png": "Smiling face, kind voice, harsh typed words",
    "screenshot-timeline.png": TIMELINE_EXAMPLE,
}
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def capture(url: str, out_dir: Path, timeout_ms: int = 180_000) -> list[Path]:
    written = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        for name, example in SHOTS.items():
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(timeout_ms)
            page.goto(url)
            page.get_by_text(example, exact=True).click()
            page.locator("#analyze").click()
            page.locator(".firf-score").wait_for()
            if example == TIMELINE_EXAMPLE:
                page.locator("#timeline img").wait_for()
            page.wait_for_timeout(1000)  # let the chart and the landmark frame finish loading
            page.screenshot(path=str(out_dir / name), full_page=True)
            page.close()
            written.append(out_dir / name)
        browser.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860/")
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT / "docs")
    args = parser.parse_args()
    for path in capture(args.url, args.out_dir):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
