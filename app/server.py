"""Serving the demo: loading the models once, step by step, and launching Gradio with bounded load.

Why the limits: every request runs Whisper, Face Mesh and a text encoder. On a CPU one request
already keeps the cores busy, so running more at once only adds memory, not throughput. The queue
runs `concurrency` requests at a time and turns people away (a clear "queue is full" message)
beyond `queue_size` waiting ones; uploads above `max_file_size` are refused by Gradio before they
reach the models, and decoding stops after `max_seconds` of media.

Why the imports sit inside functions: Gradio and torch take many seconds to import, and
``python app.py --help`` should not wait for them.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from app.config import AppConfig, parse_args
from firf import InputError

if TYPE_CHECKING:
    from firf import Pipeline

log = logging.getLogger("app")


# What MediaPipe's C++ side (TFLite, absl) writes straight to the stderr file descriptor while
# Face Mesh loads: INFO lines and a warning about a feature it does not use. No Python logger
# or documented switch controls them, so they are filtered out of a captured stderr instead.
NATIVE_NOISE = (
    "INFO: Created TensorFlow Lite XNNPACK delegate",
    "WARNING: All log messages before absl::InitializeLog() is called",
    "Feedback manager requires a model with a single signature inference",
)


class _ElapsedFormatter(logging.Formatter):
    """``[  4.2 s] message``: the seconds since start-up, so a slow step stands out."""

    def __init__(self, started: float):
        super().__init__()
        self.started = started

    def format(self, record: logging.LogRecord) -> str:
        return f"[{record.created - self.started:5.1f} s] {record.getMessage()}"


def configure_logging(started: float) -> None:
    """Our steps and the extractors' on the original stderr, even while fd 2 is captured."""
    stream = os.fdopen(os.dup(sys.stderr.fileno()), "w", buffering=1)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_ElapsedFormatter(started))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    for name in ("app", "firf"):
        logging.getLogger(name).setLevel(logging.INFO)


@contextmanager
def native_noise_filtered() -> Iterator[None]:
    """Capture the stderr file descriptor for the block and pass on all but ``NATIVE_NOISE``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not any(noise in line for noise in NATIVE_NOISE):
                    sys.stderr.write(line)
            sys.stderr.flush()


def load_pipeline(cfg: AppConfig) -> Pipeline:
    """The pipeline, loaded and run once; a missing checkpoint fails before any model loads."""
    from firf import Pipeline

    pipeline = Pipeline.from_pretrained(cfg.weights, device=cfg.device, max_seconds=cfg.max_seconds)
    pipeline.warm_up()
    return pipeline


def serve(cfg: AppConfig, started: float) -> None:
    """Generate the examples, load the models, then serve until interrupted.

    Host and port come from Gradio's environment variables. Gradio's own start-up lines are
    turned off (``quiet``): one of them tells people to edit ``launch()`` for a public link,
    which here is the ``--share`` flag.
    """
    log.info("importing Gradio")
    import gradio as gr

    from app.budget import RequestBudget
    from app.examples import build_examples
    from app.plots import PAGE_CSS
    from app.ui import build_demo
    from firf import cache_dir

    folder = cfg.examples_dir or cache_dir("app")
    log.info("preparing the example media in %s", folder)
    examples = build_examples(folder)
    with native_noise_filtered():
        pipeline = load_pipeline(cfg)
    log.info("building the page")
    demo = build_demo(pipeline, examples, RequestBudget(cfg.budget_seconds, cfg.concurrency))
    demo.queue(default_concurrency_limit=cfg.concurrency, max_size=cfg.queue_size)
    # System fonts: the default theme fetches Google Fonts, which an offline machine cannot reach.
    theme = gr.themes.Soft(
        font=["ui-sans-serif", "system-ui", "sans-serif"],
        font_mono=["ui-monospace", "monospace"],
    )
    demo.launch(
        share=cfg.share,
        max_file_size=cfg.max_file_size,
        theme=theme,
        css=PAGE_CSS,
        quiet=True,
        prevent_thread_lock=True,
    )
    log.info("ready in %.1f s: %s", time.time() - started, demo.local_url)
    if demo.share_url:
        log.info("public link: %s", demo.share_url)
    demo.block_thread()


def main(argv: list[str] | None = None) -> None:
    started = time.time()
    cfg = parse_args(argv)  # before anything heavy is imported: --help answers at once
    configure_logging(started)
    try:
        serve(cfg, started)
    except InputError as error:  # no checkpoint, mismatched extractors: say so and stop
        raise SystemExit(f"app.py: {error}") from None
