"""Joining a Ray cluster, or starting a local one: the settings every distributed command shares."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from firf.distributed.options import LOCAL, RayOptions, import_ray
from firf.errors import InputError

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding firf/


def connect(options: RayOptions) -> Any:
    """Join the cluster (or start a local instance) unless this process already has; ``ray``.

    Workers must import the same ``firf`` as this process: a local instance gets this checkout
    on ``PYTHONPATH``; a cluster gets the ``firf`` package shipped as a runtime-env module.
    """
    ray = import_ray()
    if ray.is_initialized():
        return ray
    threads = str(options.threads)
    env_vars = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    if options.address == LOCAL:
        path = os.pathsep.join(p for p in (str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")) if p)
        runtime_env = {"env_vars": {**env_vars, "PYTHONPATH": path}}
        ray.init(
            num_cpus=options.local_cpus,
            include_dashboard=False,
            object_store_memory=options.object_store_bytes,
            runtime_env=runtime_env,
        )
    else:
        runtime_env = {"env_vars": env_vars, "py_modules": [str(PACKAGE_ROOT / "firf")]}
        try:
            ray.init(address=options.address, runtime_env=runtime_env)
        except ConnectionError as error:
            raise InputError(
                f"cannot reach the Ray cluster at {options.address}: {error}"
            ) from None
    return ray


def pool_size(ray: Any, options: RayOptions) -> tuple[int, float]:
    """(actors, GPUs per actor): one actor per GPU when the cluster has GPUs, else per CPUs."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    if options.actors:
        return options.actors, (1.0 if gpus >= options.actors else 0.0)
    if gpus:
        return gpus, 1.0
    return max(1, int(resources.get("CPU", 1)) // options.threads), 0.0
