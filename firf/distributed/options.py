"""The ``--ray`` options of the CLI commands; importing this module does not import Ray (only
``import_ray`` does, when a command is given ``--ray``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firf.errors import InputError

LOCAL = "local"  # `--ray` without an address


@dataclass(frozen=True)
class RayOptions:
    """Where to run and how wide. ``actors=0``: one actor per ``threads`` CPUs (or per GPU)."""

    address: str = LOCAL
    actors: int = 0
    threads: int = 1  # torch threads inside each actor / task
    local_cpus: int | None = None  # CPUs a local instance may use (default: all)
    object_store_bytes: int | None = None  # object store of a local instance


def add_ray_arguments(parser: Any) -> None:
    """``--ray [ADDRESS]``, ``--ray-actors``, ``--ray-threads`` for a CLI command."""
    parser.add_argument(
        "--ray",
        nargs="?",
        const=LOCAL,
        metavar="ADDRESS",
        help="run on Ray: without ADDRESS a local instance, with it an existing cluster "
        "(e.g. 10.0.0.1:6379 or auto); needs pip install -e '.[distributed]'",
    )
    parser.add_argument(
        "--ray-actors",
        type=int,
        default=0,
        help="Ray workers (default: one per --ray-threads CPUs, or one per GPU)",
    )
    parser.add_argument(
        "--ray-threads", type=int, default=1, help="torch threads per Ray worker (default: 1)"
    )


def options_from(args: Any) -> RayOptions:
    """The parsed ``--ray`` options, checked (and Ray found) before any model is loaded."""
    if args.ray_actors < 0 or args.ray_threads < 1:
        raise InputError("--ray-actors must be >= 0 and --ray-threads >= 1")
    import_ray()
    return RayOptions(address=args.ray, actors=args.ray_actors, threads=args.ray_threads)


def import_ray() -> Any:
    """``ray``, or a one-line InputError saying how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401  (extraction and scoring need Ray Data)
    except ImportError as error:
        raise InputError(
            f"--ray needs Ray ({error}); install it with: pip install -e '.[distributed]'"
        ) from None
    return ray
