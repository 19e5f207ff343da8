"""Serving the demo: settings, loading the models once, and launching Gradio with bounded load.

Why the limits: every request runs Whisper, Face Mesh and a text encoder. On a CPU one request
already keeps the cores busy, so running more at once only adds memory, not throughput. The queue
runs `concurrency` requests at a time and turns people away (a clear "queue is full" message)
beyond `queue_size` waiting ones; uploads above `max_file_size` are refused by Gradio before they
reach the models, and decoding stops after `max_seconds` of media.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from app.examples import build_examples
from app.plots import GAUGE_CSS
from app.ui import build_demo
from firf import InputError, Pipeline, cache_dir

log = logging.getLogger("app")

# System fonts: the default theme fetches Google Fonts, which an offline machine cannot reach.
THEME = gr.themes.Soft(
    font=["ui-sans-serif", "system-ui", "sans-serif"],
    font_mono=["ui-monospace", "monospace"],
)


@dataclass
class AppConfig:
    weights: str | None = None  # None: $FIRF_WEIGHTS, else the bundled weights/
    device: str | None = None  # None: CUDA when present, else CPU
    share: bool = False
    concurrency: int = 1
    queue_size: int = 16
    max_file_size: str = "50mb"
    max_seconds: float = 30.0
    examples_dir: Path | None = None  # None: the FIRF cache (FIRF_CACHE, ~/.cache/firf)


def parse_args(argv: list[str] | None = None) -> AppConfig:
    defaults = AppConfig()
    parser = argparse.ArgumentParser(
        prog="app.py",
        description="FIRF demo: sentiment from webcam, microphone and text, with modality toggles. "
        "Host and port come from GRADIO_SERVER_NAME / GRADIO_SERVER_PORT "
        "(default 127.0.0.1:7860).",
    )
    parser.add_argument(
        "--weights",
        help="checkpoint folder or Hugging Face Hub repo id (default: $FIRF_WEIGHTS or weights/)",
    )
    parser.add_argument("--device", default=None, help="torch device (default: cuda if present)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=defaults.concurrency,
        help="requests analysed at the same time (default: %(default)s)",
    )
    parser.add_argument(
        "--queue-size",
        type=int,
        default=defaults.queue_size,
        help="requests allowed to wait; more are refused (default: %(default)s)",
    )
    parser.add_argument(
        "--max-file-size",
        default=defaults.max_file_size,
        help="largest upload accepted (default: %(default)s)",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=defaults.max_seconds,
        help="media longer than this is cut (default: %(default)s)",
    )
    parser.add_argument(
        "--examples-dir",
        type=Path,
        default=None,
        help="where example media are generated (default: $FIRF_CACHE/app, ~/.cache/firf/app)",
    )
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.queue_size < 1:
        parser.error("--concurrency and --queue-size must be at least 1")
    return AppConfig(
        weights=args.weights,
        device=args.device,
        share=args.share,
        concurrency=args.concurrency,
        queue_size=args.queue_size,
        max_file_size=args.max_file_size,
        max_seconds=args.max_seconds,
        examples_dir=args.examples_dir,
    )


def load_pipeline(cfg: AppConfig) -> Pipeline:
    """The pipeline, loaded and run once; a missing checkpoint fails before any model loads."""
    pipeline = Pipeline.from_pretrained(cfg.weights, device=cfg.device, max_seconds=cfg.max_seconds)
    pipeline.warm_up()
    return pipeline


def create_demo(cfg: AppConfig) -> gr.Blocks:
    """The demo with its example media generated and its models loaded and warmed up."""
    started = time.perf_counter()
    examples = build_examples(cfg.examples_dir or cache_dir("app"))
    log.info("%d examples ready in %.1f s", len(examples), time.perf_counter() - started)
    pipeline = load_pipeline(cfg)
    log.info("models loaded and warmed up in %.1f s", time.perf_counter() - started)
    return build_demo(pipeline, examples)


def launch(cfg: AppConfig) -> None:
    """Serve until interrupted; host and port come from Gradio's environment variables."""
    demo = create_demo(cfg)
    demo.queue(default_concurrency_limit=cfg.concurrency, max_size=cfg.queue_size)
    demo.launch(
        share=cfg.share,
        max_file_size=cfg.max_file_size,
        theme=THEME,
        css=GAUGE_CSS,
    )


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    cfg = parse_args(argv)
    try:
        launch(cfg)
    except InputError as error:  # no checkpoint, mismatched extractors: say so and stop
        raise SystemExit(f"app.py: {error}") from None
