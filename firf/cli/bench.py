"""`python -m firf bench robustness --track NAME`: FIRF, its ablations, the baselines and the
linear ceilings on one benchmark track, over (data seed, init seed) replicates.

python -m firf bench robustness --track shift --quick --json   # 2 replicates, 3 models
python -m firf bench robustness --track shift --out runs/shift.json   # 6 replicates, 8 models

stdout (with --json) is one JSON object: track, replicates, generator_hash, models (means over
replicates), paired ("firf-X": mean paired difference and 95 % t-interval per metric), probes
(FIRF's factors) and ceilings. ``--out`` also keeps every replicate's raw numbers;
``python benchmarks/robustness_report.py RESULT.json`` turns that into the markdown table.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import torch

from firf.benchmark.protocol import (
    FULL_MODELS,
    PROTOCOLS,
    QUICK_MODELS,
    Protocol,
    mean_over,
    paired,
    run_replicate,
)
from firf.benchmark.tracks import TRACKS, Track, get_track
from firf.cache import cache_dir
from firf.data.synthetic import generator_hash
from firf.device import resolve_device
from firf.distributed.options import add_ray_arguments
from firf.errors import InputError
from firf.model.build import MODEL_NAMES

# A smoke test of the whole path in seconds; its numbers mean nothing.
TINY_DATA = {
    "n_train": 48,
    "n_valid": 16,
    "n_test": 48,
    "text_dim": 16,
    "text_frames": (3, 6),
    "audio_frames": (3, 6),
    "vision_frames": (3, 6),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", choices=("robustness",), help="which benchmark")
    parser.add_argument("--track", choices=tuple(TRACKS), default="control")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="2 replicates, 3 models, small sets")
    size.add_argument("--tiny", action="store_true", help="smoke test of the harness (seconds)")
    parser.add_argument("--replicates", type=int, default=None, help="(data, init) seed pairs")
    parser.add_argument("--steps", type=int, default=None, help="training steps per model")
    parser.add_argument(
        "--models",
        default=None,
        help="comma-separated subset of the models; without firf nothing is paired (add the "
        "run to an earlier one of the same replicates with benchmarks/merge_runs.py)",
    )
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    parser.add_argument("--device", default=None, help="cpu, cuda (default: cuda if any)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--out", type=Path, default=None, help="also save result + raw replicates")
    parser.add_argument(
        "--split",
        choices=("test", "valid"),
        default="test",
        help="valid: score the selection split (for choosing model changes; test is for reports)",
    )
    add_ray_arguments(parser)
    parser.add_argument(
        "--ray-cache",
        type=Path,
        default=None,
        help="with --ray: folder of finished replicates (default: ~/.cache/firf/bench/replicates)",
    )


def result_of(track: str, replicates: list[dict], elapsed: float) -> dict:
    """The output contract's object (plus ceilings and wall time) from raw replicates."""
    return {
        "track": track,
        "replicates": len(replicates),
        "generator_hash": generator_hash(),
        "models": mean_over([r["models"] for r in replicates]),
        # Without FIRF there is nothing to pair against; benchmarks/merge_runs.py pairs such a
        # run with an earlier one of the same replicates that has it.
        "paired": paired(replicates) if "firf" in replicates[0]["models"] else {},
        "probes": mean_over([r["probes"] for r in replicates]),
        "ceilings": mean_over([r["ceilings"] for r in replicates]),
        "elapsed_s": round(elapsed, 1),
    }


def format_result(result: dict) -> str:
    lines = [
        f"track {result['track']}, {result['replicates']} replicate(s), "
        f"generator {result['generator_hash']}, {result['elapsed_s']:.0f} s",
        f"{'':<20}{'inter F1':>9}{'inter MAE':>10}{'inter Corr':>11}{'intra F1':>9}{'intra MAE':>10}",
    ]
    rows = {**result["models"], **{f"[{k}]": v for k, v in result["ceilings"].items()}}
    for name, r in rows.items():
        lines.append(
            f"{name:<20}{r['inter_f1']:>9.3f}{r['inter_mae']:>10.3f}{r['inter_corr']:>11.3f}"
            f"{r['intra_f1']:>9.3f}{r['intra_mae']:>10.3f}"
        )
    lines.append("paired (mean [95% CI])   inter F1 / inter MAE / intra F1")
    for name, p in result["paired"].items():
        cells = [
            f"{p[k]['mean']:+.3f} [{p[k]['ci95'][0]:+.3f}, {p[k]['ci95'][1]:+.3f}]"
            for k in ("inter_f1", "inter_mae", "intra_f1")
        ]
        lines.append(f"{name:<24} " + " / ".join(cells))
    for name, probes in result["probes"].items():
        for m, row in probes.items():
            cells = ", ".join(f"{k} {v:.2f}" for k, v in row.items())
            lines.append(f"probe {name} {m}: {cells}")
    return "\n".join(lines)


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run, for the record."""
    parts = ["python -m firf bench robustness", f"--track {args.track}"]
    parts += [f"--{flag}" for flag in ("quick", "tiny") if getattr(args, flag)]
    if args.split != "test":
        parts.append(f"--split {args.split}")
    for option in ("replicates", "steps", "models", "out"):
        if getattr(args, option) is not None:
            parts.append(f"--{option} {getattr(args, option)}")
    return " ".join(parts)


def source_hash(root: Path = Path(__file__).parents[1]) -> str:
    """First 12 hex digits of a SHA-256 over every ``.py`` file under ``root`` (the firf
    package): its path and its bytes. Any edit to the models, losses or training loop changes
    it."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def replicate_keys(
    track: Track, protocol: Protocol, models: tuple, quick: bool, split: str
) -> list[str]:
    """The cache key of each replicate: a cached result is read back only for the same track,
    protocol, models, split, data generator and package source."""
    settings = repr((track, protocol, models, quick, split, generator_hash(), source_hash()))
    digest = hashlib.sha1(settings.encode()).hexdigest()[:12]
    return [f"{track.name}-{split}-{digest}-r{i}" for i in range(protocol.replicates)]


def _replicates_on_ray(
    args: argparse.Namespace,
    track: Track,
    protocol: Protocol,
    models: tuple,
    quick: bool,
    device: str,
) -> list[dict] | None:
    """The replicates as Ray tasks, finished ones read from the cache; None if one failed.

    A replicate's cache key holds a digest of everything that decides its numbers
    (``replicate_keys``), so a changed track, protocol, model list, split, data generator or
    model code never reuses a result.
    """
    from firf.distributed.options import options_from
    from firf.distributed.replicates import run_replicates

    keys = replicate_keys(track, protocol, models, quick, args.split)
    jobs = {
        key: partial(
            run_replicate, track, i, protocol, models, quick, _log_to_stderr, args.split, device
        )
        for i, key in enumerate(keys)
    }
    cache = args.ray_cache or cache_dir("bench", "replicates")
    try:
        gpus = 1.0 if device.startswith("cuda") else 0.0  # a CUDA run: one GPU per task
        outcomes = run_replicates(jobs, cache, options_from(args), gpus=gpus)
    except InputError as error:  # no Ray, bad --ray-* values, an unreachable cluster
        print(f"error: {error}", file=sys.stderr)
        return None
    failed = {key: outcome.error for key, outcome in outcomes.items() if outcome.error}
    for key, why in failed.items():
        print(f"error: replicate {key} failed ({why}); rerun to retry it", file=sys.stderr)
    return None if failed else [outcome.value for outcome in outcomes.values()]


def _log_to_stderr(text: str) -> None:
    """A replicate's log on a Ray worker (Ray forwards it; stdout stays for --json)."""
    print(text, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """The benchmark; logs go to stderr under --json so stdout holds only the JSON."""
    protocol: Protocol = PROTOCOLS["quick" if args.quick or args.tiny else "full"]
    models = QUICK_MODELS if args.quick or args.tiny else FULL_MODELS
    if args.tiny:
        protocol = replace(protocol, steps=3, probe_clips=48)
    if args.replicates is not None:
        protocol = replace(protocol, replicates=args.replicates)
    if args.steps is not None:
        protocol = replace(protocol, steps=args.steps)
    if args.models:
        models = tuple(m.strip() for m in args.models.split(","))
        unknown = sorted(set(models) - set(MODEL_NAMES))
        if unknown:
            print(f"error: --models takes names from {MODEL_NAMES}", file=sys.stderr)
            return 2
    if protocol.replicates < 1 or protocol.steps < 1:
        print("error: --replicates and --steps must be at least 1", file=sys.stderr)
        return 2
    device = str(resolve_device(args.device))  # a bad device fails here, before any work
    track = get_track(args.track)
    if args.tiny:
        sizes = {**TINY_DATA, "n_unlabelled": 48 if track.data.n_unlabelled else 0}
        track = replace(track, quick_sizes=sizes)
    torch.set_num_threads(max(1, args.threads))

    def log(text: str) -> None:
        print(text, file=sys.stderr if args.json else sys.stdout, flush=True)

    start = time.perf_counter()
    quick = args.quick or args.tiny
    if args.ray is None:
        replicates = [
            run_replicate(track, i, protocol, models, quick, log, args.split, device)
            for i in range(protocol.replicates)
        ]
    else:
        replicates = _replicates_on_ray(args, track, protocol, models, quick, device)
        if replicates is None:
            return 1
    result = result_of(args.track, replicates, time.perf_counter() - start)
    result["split"] = args.split
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(format_result(result))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        raw = {**result, "steps": protocol.steps, "command": command_line(args), "raw": replicates}
        args.out.write_text(json.dumps(raw, indent=2))
        log(f"wrote {args.out}")
    return 0
