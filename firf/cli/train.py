"""`python -m firf train`: train FIRF or a baseline and save the selected checkpoint.

python -m firf train --data MOSI/aligned_50.pkl --model firf --out runs/firf-mosi
python -m firf train --shards corpus/shards --select-split select --ema-decay 0.99 --out weights
python -m firf train --synthetic --model late_fusion --out runs/late --epochs 10
python -m firf train --shards corpus/shards --select-split select --steps 6000 --out runs/s0

``--steps`` is the benchmark protocol (``firf.train.train_fixed``): a fixed budget with warm-up,
cosine decay and weight averaging, the final averaged weights kept; the selection split only
scores the result, which is how several seeds or settings are compared without picking epochs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from firf.data.dataset import FeatureDataset
from firf.data.mmsa import load_mmsa
from firf.data.shards import load_shards
from firf.data.synthetic import SyntheticConfig, make_synthetic
from firf.errors import InputError
from firf.evaluate import format_table
from firf.missing import TrainMissing
from firf.modalities import DATASET_KINDS
from firf.model import MODEL_NAMES, build_model
from firf.train import FixedBudget, TrainConfig, selection_scores, train, train_fixed
from firf.weights import TEXT_LAYERS_FILE


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Where the features come from; shared with ``firf evaluate``."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="MMSA pickle, e.g. MOSI/aligned_50.pkl")
    source.add_argument("--shards", type=Path, help="feature shard directory (firf extract)")
    source.add_argument(
        "--synthetic", action="store_true", help="the seeded synthetic factor benchmark"
    )
    parser.add_argument(
        "--kind",
        choices=DATASET_KINDS,
        help="metric set and score range for --data (default: detected from feature dims)",
    )
    parser.add_argument(
        "--data-seed", type=int, default=0, help="seed of the --synthetic benchmark (default 0)"
    )


def load_splits(args: argparse.Namespace, splits: tuple[str, ...]) -> dict[str, FeatureDataset]:
    """The named splits of the source chosen with ``add_data_arguments``."""
    if args.shards is not None:
        return {split: load_shards(args.shards, split) for split in splits}
    if args.data is not None:
        datasets = load_mmsa(args.data, kind=args.kind)
    else:
        datasets = make_synthetic(SyntheticConfig(seed=args.data_seed))
    for split in splits:
        if split not in datasets:
            raise InputError(f"no split {split!r} in this data (splits: {', '.join(datasets)})")
    return {split: datasets[split] for split in splits}


def parse_strides(items: list[str]) -> dict[str, int]:
    """``["audio=4", "vision=2"]`` -> ``{"audio": 4, "vision": 2}``."""
    strides = {}
    for item in items:
        name, _, value = item.partition("=")
        if not value.isdigit():
            raise InputError(f"--stride takes MODALITY=FRAMES, e.g. audio=4; got {item!r}")
        strides[name] = int(value)
    return strides


def parse_loss(items: list[str]) -> dict[str, int | float | bool]:
    """``["lambda_kd=0.2", "kd_bidirectional=true"]`` -> ``{"lambda_kd": 0.2, ...}``."""
    settings: dict[str, int | float | bool] = {}
    for item in items:
        name, _, value = item.partition("=")
        if value.lower() in ("true", "false"):
            settings[name] = value.lower() == "true"
            continue
        try:
            settings[name] = int(value) if value.lstrip("-").isdigit() else float(value)
        except ValueError:
            raise InputError(
                f"--loss takes NAME=NUMBER, e.g. lambda_kd=0.2; got {item!r}"
            ) from None
    return settings


def fixed_budget(
    model: torch.nn.Module,
    datasets: dict,
    cfg: TrainConfig,
    args: argparse.Namespace,
    text_layers: Path | None,
) -> int:
    """Train ``args.steps`` steps, score the selection split (complete and damaged), save."""
    budget = FixedBudget(
        steps=args.steps,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        ema_decay=cfg.ema_decay or FixedBudget.ema_decay,
        seed=cfg.seed,
        device=cfg.device,
        missing=cfg.missing,
    )
    started = time.perf_counter()
    tail = train_fixed(model, {"train": datasets["train"]}, budget)
    elapsed = time.perf_counter() - started
    select = datasets["valid"]
    scores = selection_scores(model, select, cfg.missing, budget.device)
    selection_mae = scores.pop("selection_mae")
    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out)
    if text_layers is not None:
        shutil.copyfile(text_layers, args.out / TEXT_LAYERS_FILE)
    log = {
        "budget": asdict(budget),
        "loss_config": asdict(model.loss_config) if hasattr(model, "loss_config") else None,
        "last_tenth_losses": tail,
        "select_split": args.select_split,
        "select": scores,
        "selection_mae": selection_mae,
        "elapsed_s": elapsed,
    }
    (args.out / "train_log.json").write_text(json.dumps(log, indent=2))
    print(f"{args.model}: {args.steps} steps in {elapsed:.0f} s; saved to {args.out}")
    print(format_table(f"{args.select_split} split, final weights", scores, select.kind))
    return 0


def tuned_text_layers(shards: Path | None, extractor: dict | None) -> Path | None:
    """The shards' fine-tuned text layers, which a checkpoint trained on them must carry."""
    digest = ((extractor or {}).get("text") or {}).get("tuned_layers")
    if digest is None or shards is None:
        return None
    from firf.extract.text import tuned_layers_digest

    path = shards / TEXT_LAYERS_FILE
    if tuned_layers_digest(path) != digest:
        raise InputError(f"{path} is not the text layers the shards were extracted with")
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(parser)
    parser.add_argument("--model", choices=MODEL_NAMES, default="firf")
    parser.add_argument("--out", type=Path, required=True, help="checkpoint folder to write")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument("--patience", type=int, default=8, help="early stopping, in epochs")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="fixed budget of this many steps, final averaged weights kept (no epoch selection;"
        " --epochs and --patience are then unused, --ema-decay defaults to 0.995)",
    )
    parser.add_argument(
        "--ema-decay",
        type=float,
        default=0.0,
        help="score and keep an exponential moving average of the weights (e.g. 0.99; 0: off)",
    )
    parser.add_argument(
        "--select-split",
        default="valid",
        help="split that picks the epoch (default valid); e.g. the demo corpus's 'select', "
        "which leaves valid for reporting",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda if any)")
    parser.add_argument(
        "--d-model",
        type=int,
        default=None,
        help="model width (default: 32 for FIRF, 64 for the baselines)",
    )
    parser.add_argument(
        "--dropout", type=float, default=None, help="dropout in every block (default 0.1)"
    )
    parser.add_argument(
        "--loss",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a loss setting of the model, e.g. --loss lambda_kd=0.2 (FIRF: lambda_dist, "
        "lambda_syn, lambda_het, lambda_rec, lambda_miss, lambda_kd, lambda_uni, "
        "kd_bidirectional, dist_sigma_bins, kd_temperature)",
    )
    parser.add_argument(
        "--stride",
        action="append",
        default=[],
        metavar="MODALITY=FRAMES",
        help="average this many frames into one token, e.g. --stride vision=8 for long inputs",
    )
    parser.add_argument(
        "--audio-probe-from",
        type=int,
        default=None,
        metavar="DIM",
        help="FIRF: a fixed tone readout of audio dims DIM.. fitted on the training clips that"
        " carry audio alone (512 with tone-layer Whisper features; docs/method.md)",
    )
    parser.add_argument("--complete-fraction", type=float, default=TrainMissing.complete_fraction)
    parser.add_argument("--max-rate", type=float, default=TrainMissing.max_rate)
    parser.add_argument("--modality-drop-prob", type=float, default=TrainMissing.modality_drop_prob)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    try:
        loaded = load_splits(args, ("train", args.select_split))
        datasets = {"train": loaded["train"], "valid": loaded[args.select_split]}
        train_set = datasets["train"]
        overrides = {"score_range": train_set.score_range, "extractor": train_set.extractor}
        if args.d_model is not None:
            overrides["d_model"] = args.d_model
        if args.dropout is not None:
            overrides["dropout"] = args.dropout
        if args.stride:
            overrides["strides"] = parse_strides(args.stride)
        if args.audio_probe_from is not None:
            overrides["audio_probe_from"] = args.audio_probe_from
        cfg = TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            weight_decay=args.weight_decay,
            patience=args.patience,
            ema_decay=args.ema_decay,
            seed=args.seed,
            device=args.device,
            missing=TrainMissing(args.complete_fraction, args.max_rate, args.modality_drop_prob),
            progress=False if args.no_progress else None,
        )
        text_layers = tuned_text_layers(args.shards, train_set.extractor)
        torch.manual_seed(args.seed)
        model = build_model(args.model, train_set.dims, loss=parse_loss(args.loss), **overrides)
        if args.steps is not None:
            return fixed_budget(model, datasets, cfg, args, text_layers)
        result = train(model, datasets, cfg, out_dir=args.out)
        if text_layers is not None:
            shutil.copyfile(text_layers, args.out / TEXT_LAYERS_FILE)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(
        f"{args.model}: best epoch {result.best_epoch} of {len(result.history)}, "
        f"{result.elapsed_s:.0f} s on {result.device}; saved to {args.out}"
    )
    rows = {"complete": result.best_valid, "damaged": result.best_valid_missing}
    split = args.select_split
    print(format_table(f"{split} split at the selected epoch", rows, train_set.kind))
    print(f"damaged = {split} with the seeded train-time missingness; selection averages both MAEs")
    return 0
