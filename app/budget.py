"""A wall-clock budget per request: the page answers within it, whatever the input does.

Decoding caps already bound the work of any one input; the budget is the promise to the person
waiting. Work runs on a pool with as many threads as the queue's concurrency, so a request that
overran keeps its thread until it ends and later requests wait for that thread instead of piling
more work on the CPU.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import gradio as gr

from app.config import BUDGET_SECONDS

log = logging.getLogger("app")


class RequestBudget:
    """Runs handlers on `workers` threads and gives up waiting after `seconds`."""

    def __init__(self, seconds: float = BUDGET_SECONDS, workers: int = 1):
        if seconds <= 0 or workers < 1:
            raise ValueError(f"need seconds > 0 and workers >= 1; got {seconds}, {workers}")
        self.seconds = seconds
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="analyze")

    def wrap(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        """`handler` with the budget; the signature Gradio inspects is kept."""

        @functools.wraps(handler)
        def budgeted(*args: Any, **kwargs: Any) -> Any:
            future = self._pool.submit(handler, *args, **kwargs)
            try:
                return future.result(timeout=self.seconds)
            except FutureTimeout:
                log.warning("request over its %g s budget; answered with an error", self.seconds)
                raise gr.Error(
                    f"the analysis took longer than {self.seconds:g} s; try a shorter clip",
                    title="Cannot analyse this input",
                    print_exception=False,
                ) from None

        return budgeted
