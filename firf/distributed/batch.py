"""``predict --batch --ray``: the batch's job groups on a pool of Ray actors, output in order.

Why it reuses ``firf.job_runner``: the same grouping (text-only jobs share a pass), the same
per-job error records and the same writer make the output lines identical to the single-process
path; only where a group runs changes. Each actor loads the checkpoint and extractors once.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any, TextIO

from firf.distributed.actors import map_on_actors
from firf.distributed.options import RayOptions


def run_jobs_on_ray(
    weights: str | Path,
    device: str | None,
    jobs: Iterable[Any],
    options: Any,
    ray_options: RayOptions,
    out: TextIO = sys.stdout,
) -> tuple[int, int]:
    """Like ``job_runner.run_jobs``, on Ray: one record per job in input order; (done, failed).

    ``weights`` must be readable on every node (a shared folder, or a Hub repo id). The jobs are
    read in full first: Ray Data needs the item list, and the reader bounds its size.
    """
    from firf.job_runner import Progress, groups, run_group, write_records
    from firf.pipeline import Pipeline

    progress = Progress(options.progress_every)
    setup = partial(Pipeline.from_pretrained, str(weights), device=device)
    work = partial(run_group, options=options)
    for group, outcome in map_on_actors(list(groups(jobs, options)), setup, work, ray_options):
        write_records(group, outcome.value, outcome.error, out, progress)
    progress.finish()
    return progress.done, progress.failed
