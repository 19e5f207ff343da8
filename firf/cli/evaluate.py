"""`python -m firf evaluate`: a checkpoint's robustness sweep on one split.

python -m firf evaluate --checkpoint runs/firf-mosi --data MOSI/aligned_50.pkl --split test
python -m firf evaluate --checkpoint weights --shards corpus/shards --split valid --json
python -m firf evaluate --checkpoint runs/late --synthetic --protocol inter

Intra rows are means over the evaluation seeds (1111, 1112, 1113) with their std; inter rows are
deterministic.
"""

from __future__ import annotations

import argparse
import json
import sys

from torch import nn

from firf.cli.train import add_data_arguments, load_splits
from firf.data.dataset import FeatureDataset
from firf.device import resolve_device
from firf.errors import InputError
from firf.evaluate import EVAL_BATCH_SIZE, evaluate_robustness, format_report
from firf.missing import INTRA_RATES
from firf.modalities import SUBSETS
from firf.model import load_model


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="folder (or Hub repo id) of a model")
    add_data_arguments(parser)
    parser.add_argument(
        "--split", default="test", help="train, valid, test, or a shard split such as select"
    )
    parser.add_argument("--protocol", choices=("intra", "inter", "both"), default="both")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--device", default=None, help="cpu, cuda (default: cuda if any)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=EVAL_BATCH_SIZE,
        help=f"changes which frames are dropped; keep {EVAL_BATCH_SIZE} to compare with others",
    )


def check_compatible(model: nn.Module, dataset: FeatureDataset) -> None:
    """Refuse features the checkpoint cannot read, before any number is computed."""
    expected = model.config.dims()
    if expected != dataset.dims:
        raise InputError(
            f"the checkpoint expects feature dims {expected}, the data has {dataset.dims}; "
            "evaluate it on features made the same way as its training data"
        )
    trained_with, given = model.config.extractor, dataset.extractor
    if trained_with and given and trained_with != given:
        raise InputError(
            "the features were made by different extractors than the checkpoint was trained "
            f"with:\n  checkpoint: {trained_with}\n  features:   {given}"
        )


def run(args: argparse.Namespace) -> int:
    try:
        device = resolve_device(args.device)
        model = load_model(args.checkpoint, device=device)
        dataset = load_splits(args, (args.split,))[args.split]
        check_compatible(model, dataset)
        report = evaluate_robustness(
            model,
            dataset,
            rates=INTRA_RATES if args.protocol in ("intra", "both") else (),
            subsets=SUBSETS if args.protocol in ("inter", "both") else (),
            batch_size=args.batch_size,
            device=device,
        )
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    report = {protocol: rows for protocol, rows in report.items() if rows}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{args.checkpoint} on the {args.split} split ({len(dataset)} clips)\n")
        print(format_report(report, dataset.kind))
    return 0
