"""``python -m recipes.demo_corpus``: build the demo corpus (and optionally report on models)."""

import argparse
import sys

from recipes.demo_corpus.cli import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recipes.demo_corpus", description="build the demo checkpoint's corpus"
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
