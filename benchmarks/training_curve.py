"""Where along the fixed budget a model generalises best: its selection-split scores every N steps.

The robustness protocol scores only the final EMA weights (``firf.train.train_fixed``). When a
model ends worse than it was half-way (on ``scarce`` FIRF fits its 300 labelled clips ever
closer while the selection split gets worse), the final score alone cannot say so. This trains
one replicate exactly as the protocol does and scores the EMA weights on the selection split
(never test) every ``--every`` steps; watching does not change the training (``on_step``).

    python benchmarks/training_curve.py --track scarce --every 100
    python benchmarks/training_curve.py --track scarce --set d_model=32 --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from firf.benchmark.protocol import (  # noqa: E402
    PROTOCOLS,
    replicate_datasets,
    replicate_seeds,
    score_model,
)
from firf.benchmark.tracks import TRACKS, get_track  # noqa: E402
from firf.cli.train import parse_loss  # noqa: E402
from firf.errors import InputError  # noqa: E402
from firf.evaluate import predict_scores  # noqa: E402
from firf.model import MODEL_NAMES, build_model  # noqa: E402
from firf.train import FixedBudget, train_fixed  # noqa: E402


def parse_architecture(pairs: list[str]) -> dict:
    """``["d_model=32", 'strides={"text": 4}']`` -> {"d_model": 32, "strides": {"text": 4}}
    (``--loss`` is parsed as ``firf train --loss`` parses it)."""
    fields = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--set takes NAME=VALUE, got {pair!r}")
        try:
            fields[name] = json.loads(value)
        except json.JSONDecodeError:
            fields[name] = value
    return fields


def training_curve(args: argparse.Namespace) -> list[dict]:
    track = get_track(args.track)
    data_seed, init_seed = replicate_seeds(args.replicate)
    datasets = replicate_datasets(track, data_seed, quick=False)
    torch.manual_seed(init_seed)
    model = build_model(
        args.model,
        datasets["train"].dims,
        loss=parse_loss(args.loss) or None,
        **parse_architecture(args.set),
    )
    budget = FixedBudget(steps=args.steps, seed=init_seed, missing=track.missing)
    rows, start = [], time.perf_counter()

    def watch(step: int, averaged: torch.nn.Module) -> None:
        if step % args.every and step != args.steps:
            return
        averaged.eval()
        scores = score_model(averaged, datasets["valid"])
        fit = predict_scores(averaged, datasets["train"], 64)
        row = {
            "step": step,
            **{k: scores[k] for k in ("inter_mae", "inter_f1", "intra_mae", "intra_f1")},
            "train_mae": float(np.abs(fit - datasets["train"].labels).mean()),
        }
        rows.append(row)
        print(
            f"step {step}: inter MAE {row['inter_mae']:.3f}, intra MAE {row['intra_mae']:.3f}, "
            f"train MAE {row['train_mae']:.3f} ({time.perf_counter() - start:.0f} s)",
            file=sys.stderr,
            flush=True,
        )

    train_fixed(model, datasets, budget, on_step=watch)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| step | inter MAE | inter F1 | intra MAE | intra F1 | train MAE (labelled, complete) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        cells = [r[k] for k in ("inter_mae", "inter_f1", "intra_mae", "intra_f1", "train_mae")]
        lines.append(f"| {r['step']} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--track", choices=tuple(TRACKS), default="scarce")
    parser.add_argument("--replicate", type=int, default=0, help="(data, init) seed pair index")
    parser.add_argument("--model", choices=MODEL_NAMES, default="firf")
    parser.add_argument("--set", action="append", default=[], help="architecture NAME=VALUE")
    parser.add_argument("--loss", action="append", default=[], help="loss option NAME=VALUE")
    parser.add_argument("--steps", type=int, default=PROTOCOLS["full"].steps)
    parser.add_argument("--every", type=int, default=100, help="score every N steps")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    if args.every < 1 or args.steps < 1:
        parser.error("--every and --steps must be at least 1")
    torch.set_num_threads(args.threads)
    try:
        rows = training_curve(args)
    except InputError as error:
        parser.error(str(error))
    print(json.dumps(rows) if args.json else markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
