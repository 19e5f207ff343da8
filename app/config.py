"""The demo's settings and command line, kept free of heavy imports.

``python app.py --help`` reads only this module, so it answers at once; Gradio, torch and the
models are imported after the arguments are parsed (``app.server``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

BUDGET_SECONDS = 120.0  # default wall-clock budget of one request


@dataclass
class AppConfig:
    weights: str | None = None  # None: $FIRF_WEIGHTS, else the bundled weights/
    device: str | None = None  # None: CUDA when present, else CPU
    share: bool = False
    concurrency: int = 1
    queue_size: int = 16
    max_file_size: str = "50mb"
    max_seconds: float = 30.0
    budget_seconds: float = BUDGET_SECONDS  # wall-clock limit of one request
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
        "--budget-seconds",
        type=float,
        default=defaults.budget_seconds,
        help="a request running longer is answered with an error (default: %(default)s)",
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
    if args.max_seconds <= 0 or args.budget_seconds <= 0:
        parser.error("--max-seconds and --budget-seconds must be positive")
    if args.device is not None:
        from firf import InputError, resolve_device

        try:
            resolve_device(args.device)
        except InputError as error:
            parser.error(str(error))
    return AppConfig(
        weights=args.weights,
        device=args.device,
        share=args.share,
        concurrency=args.concurrency,
        queue_size=args.queue_size,
        max_file_size=args.max_file_size,
        max_seconds=args.max_seconds,
        budget_seconds=args.budget_seconds,
        examples_dir=args.examples_dir,
    )
