"""Items through a Ray Data actor pool whose actors build their models once.

Why actors: loading Whisper, Face Mesh and MiniLM (or a checkpoint) takes seconds, a clip takes
about one, so each worker must keep its models across items. Items and results cross Ray as
pickled bytes, so any Python object (ragged feature arrays, prediction records) travels
unchanged. A failing item comes back as an error string; the run always continues.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from firf.distributed.cluster import connect, pool_size
from firf.distributed.options import RayOptions
from firf.distributed.outcome import Outcome

# Items are split into at most this many blocks (one actor task each): one item per block
# balances small runs across actors; a cap keeps Ray Data's per-block bookkeeping small for a
# corpus of tens of thousands of clips (a block's results arrive together when it finishes).
MAX_BLOCKS = 1000


def map_on_actors(
    items: Sequence[Any],
    setup: Callable[[], Any],
    work: Callable[[Any, Any], Any],
    options: RayOptions,
) -> Iterator[tuple[Any, Outcome]]:
    """``(item, Outcome of work(setup(), item))`` for every item, in input order.

    ``setup`` runs once per actor (on a GPU when the cluster has them; ``setup`` picks the
    device with ``firf.device.resolve_device``). Results stream back as they finish, so a
    caller that stores each one keeps what was done if the run is interrupted.
    """
    if not items:
        return
    ray = connect(options)
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False  # the caller shows one bar of finished items
    actors, gpus = pool_size(ray, options)
    actors = min(actors, len(items))
    rows = [{"index": i, "item": pickle.dumps(item)} for i, item in enumerate(items)]
    blocks = min(len(rows), MAX_BLOCKS)
    dataset = ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
        _Worker,
        batch_size=1,
        fn_constructor_args=(setup, work, options.threads),
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=options.threads,  # Face Mesh runs on the CPU even in a GPU actor
        num_gpus=gpus,
    )
    results = iter(dataset.iter_rows())  # a generator: closing it stops the execution
    try:
        for row in results:
            yield items[int(row["index"])], pickle.loads(row["outcome"])
    finally:
        results.close()  # a caller that stops early (Ctrl-C) releases the actors now


class _Worker:
    """One actor: builds the state once, then runs ``work`` on each batch of pickled items."""

    def __init__(self, setup: Callable[[], Any], work: Callable[[Any, Any], Any], threads: int):
        import torch

        torch.set_num_threads(threads)
        self.work = work
        try:
            self.state, self.broken = setup(), None
        except Exception as error:  # reported per item, so the run still ends with records
            self.state, self.broken = None, f"{type(error).__name__}: {error}"

    def __call__(self, batch: dict[str, Any]) -> dict[str, list]:
        outcomes = [pickle.dumps(self._one(pickle.loads(item))) for item in batch["item"]]
        return {"index": list(batch["index"]), "outcome": outcomes}

    def _one(self, item: Any) -> Outcome:
        if self.broken is not None:
            return Outcome(error=f"worker setup failed: {self.broken}")
        try:
            return Outcome(value=self.work(self.state, item))
        except Exception as error:  # one bad item must not end a long run; it is reported
            return Outcome(error=f"{type(error).__name__}: {error}")
