"""Read several trained seeds of the demo recipe as one checkpoint.

    python -m recipes.demo_corpus.ensemble --shards DIR/shards RUN [RUN ...] --out DIR

Writes a checkpoint folder (``config.json``, ``model.safetensors`` holding every member, the
members' shared text layers) and ``selection.json``: the ensemble's score on the select split,
complete and damaged, computed as ``firf train`` scores one run, so the two compare.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from firf.data.shards import load_shards
from firf.errors import InputError
from firf.model import FIRF, load_model
from firf.model.ensemble import combine_members
from firf.train import selection_scores
from firf.weights import CHECKPOINT_FILES, TEXT_LAYERS_FILE


def combine_runs(runs: list[Path], out: Path) -> FIRF:
    """Save the runs in ``runs`` as one ensemble in ``out``; their text layers must agree."""
    layers = {
        (run / TEXT_LAYERS_FILE).read_bytes() for run in runs if (run / TEXT_LAYERS_FILE).is_file()
    }
    if len(layers) > 1:
        raise InputError("the runs carry different text layers: they read different features")
    ensemble = combine_members([load_model(run) for run in runs])
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as saved:  # only the checkpoint's files reach ``out``:
        ensemble.save_pretrained(saved)  # the hub mixin also writes a generic README.md card
        for name in CHECKPOINT_FILES:
            shutil.copyfile(Path(saved) / name, out / name)
    if layers:
        shutil.copyfile(runs[0] / TEXT_LAYERS_FILE, out / TEXT_LAYERS_FILE)
    return ensemble


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders of `firf train`")
    parser.add_argument("--shards", type=Path, required=True, help="the corpus's shard folder")
    parser.add_argument("--split", default="select", help="split to score (default: select)")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint folder to write")
    args = parser.parse_args()
    torch.set_num_threads(1)
    try:
        ensemble = combine_runs(args.runs, args.out)
        scores = selection_scores(ensemble, load_shards(args.shards, args.split))
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    scores["members"] = [str(run) for run in args.runs]
    (args.out / "selection.json").write_text(json.dumps(scores, indent=2) + "\n")
    print(
        f"{len(args.runs)} members -> {args.out}: {args.split} MAE complete "
        f"{scores['complete']['mae']:.4f}, damaged {scores['damaged']['mae']:.4f}, "
        f"selection {scores['selection_mae']:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
