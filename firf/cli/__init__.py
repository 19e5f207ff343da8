"""`python -m firf {predict,extract,train,evaluate,bench}`.

Each subcommand is a module of this package, ``firf.cli.<command>``, exposing
``add_arguments(parser)`` and ``run(args) -> int``. They are imported only when chosen, so
``--help`` stays instant and ``predict`` never pays for training code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from firf.errors import InputError
from firf.sanitize import printable

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "predict": ("firf.cli.predict", "sentiment of a video / audio / text (or a JSONL batch)"),
    "extract": ("firf.cli.extract", "features for a raw corpus in the MMSA-FET layout"),
    "train": (
        "firf.cli.train",
        "train FIRF or a baseline on MMSA pickles, shards or synthetic data",
    ),
    "evaluate": ("firf.cli.evaluate", "robustness sweep: intra-modal rates and modality subsets"),
    "bench": ("firf.cli.bench", "benchmark tracks: FIRF, ablations, baselines, ceilings"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="firf", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] not in COMMANDS:
        args = parser.parse_args(argv)  # prints help or the usage error
        parser.print_help()
        return 0 if not argv else 2
    name = argv[0]
    module = importlib.import_module(COMMANDS[name][0])
    sub_parser = argparse.ArgumentParser(prog=f"firf {name}", description=COMMANDS[name][1])
    module.add_arguments(sub_parser)
    args = sub_parser.parse_args(argv[1:])
    try:
        if getattr(args, "device", None) is not None:
            from firf.device import resolve_device

            resolve_device(args.device)  # a bad --device is one line, before any model loads
        return int(module.run(args) or 0)
    except InputError as error:
        print(f"firf {name}: error: {printable(str(error))}", file=sys.stderr)
        return 2
