"""Independent functions (benchmark replicates) as Ray tasks, each result cached on disk.

Why a cache: a replicate trains several models for minutes, so an interrupted run must not
redo the finished ones. Each result is pickled under the caller's key as soon as its task
returns; a rerun loads those and submits only the rest. A replicate that raises becomes an
error outcome (not cached, so a rerun retries it) and the others still finish.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from firf.data.shards import safe_name, write_atomic
from firf.distributed.cluster import connect
from firf.distributed.options import RayOptions
from firf.distributed.outcome import Outcome


def cached_path(cache: Path, key: str) -> Path:
    return cache / f"{safe_name(key)}.pkl"


def run_replicates(
    jobs: Mapping[str, Callable[[], Any]],
    cache: str | Path,
    options: RayOptions,
    gpus: float = 0.0,
) -> dict[str, Outcome]:
    """``{key: Outcome of jobs[key]()}`` in the order of ``jobs``; each job a Ray task with
    ``options.threads`` CPUs (and ``gpus`` GPUs), unless ``cache`` already holds its result."""
    from tqdm import tqdm

    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    outcomes = {
        key: Outcome(value=pickle.loads(cached_path(cache, key).read_bytes()))
        for key in jobs
        if cached_path(cache, key).is_file()
    }
    todo = [key for key in jobs if key not in outcomes]
    if todo:
        ray = connect(options)
        task = ray.remote(num_cpus=options.threads, num_gpus=gpus, max_retries=0)(_call)
        running = {task.remote(jobs[key], options.threads): key for key in todo}
        bar = tqdm(total=len(jobs), initial=len(outcomes), desc="replicates", unit="replicate")
        try:
            while running:
                (ref,), _ = ray.wait(list(running), num_returns=1)
                key = running.pop(ref)
                outcomes[key] = _collect(ray, ref)
                if outcomes[key].error is None:
                    write_atomic(cached_path(cache, key), pickle.dumps(outcomes[key].value))
                else:
                    bar.write(f"replicate {key} failed: {outcomes[key].error}")
                bar.update()
        finally:
            bar.close()
            for ref in running:  # interrupted: stop what is still running
                ray.cancel(ref, force=True)
    return {key: outcomes[key] for key in jobs}


def _call(job: Callable[[], Any], threads: int) -> Outcome:
    import torch

    torch.set_num_threads(threads)
    try:
        return Outcome(value=job())
    except Exception as error:  # one failing replicate must not end the run; it is reported
        return Outcome(error=f"{type(error).__name__}: {error}")


def _collect(ray: Any, ref: Any) -> Outcome:
    """The task's outcome; a worker that died (killed, out of memory) is an error outcome."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayError as error:
        return Outcome(error=f"{type(error).__name__}: {str(error).splitlines()[0]}")
