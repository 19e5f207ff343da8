"""`python -m firf bench robustness`: FIRF, its ablations and the baselines on the synthetic
factor benchmark, under both missing-modality protocols.

python -m firf bench robustness --quick            # 1 training seed, small data, a few minutes
python -m firf bench robustness --write benchmarks/BENCHMARKS.md   # 3 seeds, 8 models

Every model is trained with the same data, epochs and seeds and selected on the valid split;
the test split is then swept over all intra rates and modality subsets. The synthetic data is a
sanity check of the method's mechanics, not a reproduction of the paper's numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from firf.data.synthetic import SyntheticConfig, make_synthetic
from firf.evaluate import Report, evaluate_robustness, format_table, rate_key
from firf.missing import INTRA_RATES
from firf.modalities import SUBSETS
from firf.model import build_model
from firf.train import TrainConfig, train

QUICK_MODELS = (
    "firf",
    "late_fusion",
    "misa",
    "firf_no_fcf",
    "firf_no_noise",
    "firf_no_dcsd",
)
FULL_MODELS = (*QUICK_MODELS, "firf_no_rec", "firf_oneway")
INCOMPLETE_RATES = tuple(rate_key(r) for r in INTRA_RATES if r < 1.0)
INCOMPLETE_SUBSETS = tuple(s for s in SUBSETS if s != "tav")
SECTION_START = "<!-- firf bench robustness: start -->"
SECTION_END = "<!-- firf bench robustness: end -->"


@dataclass
class BenchSetup:
    data: SyntheticConfig
    epochs: int
    patience: int
    seeds: int
    models: tuple[str, ...]


# Short sequences keep the CPU runs affordable; the split of information across modalities and
# the noise levels are the generator's defaults.
SHORT = {"text_frames": (8, 16), "audio_frames": (10, 20), "vision_frames": (10, 20)}
SETUPS = {
    "full": BenchSetup(
        SyntheticConfig(**SHORT), epochs=20, patience=5, seeds=3, models=FULL_MODELS
    ),
    "quick": BenchSetup(
        SyntheticConfig(n_train=400, n_valid=100, n_test=150, **SHORT),
        epochs=6,
        patience=6,
        seeds=1,
        models=QUICK_MODELS,
    ),
    # A smoke test of the whole path in seconds; its numbers mean nothing.
    "tiny": BenchSetup(
        SyntheticConfig(
            n_train=48,
            n_valid=24,
            n_test=24,
            text_dim=16,
            text_frames=(3, 6),
            audio_frames=(3, 6),
            vision_frames=(3, 6),
        ),
        epochs=1,
        patience=1,
        seeds=1,
        models=QUICK_MODELS,
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", choices=("robustness",), help="which benchmark")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="1 seed, 6 models, small data")
    size.add_argument("--tiny", action="store_true", help="smoke test of the harness (seconds)")
    parser.add_argument("--seeds", type=int, default=None, help="training seeds per model")
    parser.add_argument("--models", default=None, help="comma-separated subset of the models")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--device", default=None, help="cpu, cuda (default: cuda if any)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads for torch (default 1: these models are small, and extra threads mostly "
        "add synchronisation cost, badly so on a busy machine)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument(
        "--write",
        type=Path,
        default=None,
        metavar="MARKDOWN",
        help="write tables into this file (its robustness section) and the JSON + plot beside it",
    )


def mean_over_seeds(reports: list[Report]) -> Report:
    """Mean of every metric over training seeds; ``*_std`` is the spread over those seeds."""
    merged: Report = {}
    for protocol in ("intra", "inter"):
        merged[protocol] = {}
        for key in reports[0][protocol]:
            runs = [r[protocol][key] for r in reports]
            metrics = [name for name in runs[0] if not name.endswith("_std")]
            row = {}
            for name in metrics:
                values = np.array([run[name] for run in runs])
                row[name] = float(values.mean())
                row[f"{name}_std"] = float(values.std())
            merged[protocol][key] = row
    return merged


def summary(results: dict[str, Report]) -> dict[str, dict[str, float]]:
    """Per model: mean F1 (non0) over intra rates 0.0-0.9 and over the 6 incomplete subsets."""
    return {
        name: {
            "intra_f1_non0": float(np.mean([r["intra"][k]["f1_non0"] for k in INCOMPLETE_RATES])),
            "inter_f1_non0": float(np.mean([r["inter"][k]["f1_non0"] for k in INCOMPLETE_SUBSETS])),
        }
        for name, r in results.items()
    }


def format_summary(rows: dict[str, dict[str, float]]) -> str:
    lines = [
        "mean F1 (non0)      intra 0.0-0.9   inter (6 incomplete subsets)",
        *(
            f"{name:<18} {row['intra_f1_non0']:>14.4f}   {row['inter_f1_non0']:>14.4f}"
            for name, row in rows.items()
        ),
    ]
    return "\n".join(lines)


def run_benchmark(setup: BenchSetup, device: str | None, log=print) -> dict[str, Report]:
    datasets = make_synthetic(setup.data)
    dims = datasets["train"].dims
    results = {}
    for name in setup.models:
        reports = []
        for seed in range(setup.seeds):
            start = time.perf_counter()
            torch.manual_seed(seed)
            model = build_model(name, dims)
            cfg = TrainConfig(
                epochs=setup.epochs, patience=setup.patience, seed=seed, device=device
            )
            fit = train(model, datasets, cfg)
            reports.append(evaluate_robustness(model, datasets["test"], device=device))
            log(
                f"{name} seed {seed}: best epoch {fit.best_epoch}, "
                f"valid MAE {fit.best_valid['mae']:.3f}, {time.perf_counter() - start:.0f} s"
            )
        results[name] = mean_over_seeds(reports)
    return results


def machine() -> str:
    return (
        f"{platform.platform()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, threads {torch.get_num_threads()}"
        + (f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "")
    )


def plot(results: dict[str, Report], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, report in results.items():
        keys = list(report["intra"])
        means = np.array([report["intra"][k]["f1_non0"] for k in keys])
        stds = np.array([report["intra"][k]["f1_non0_std"] for k in keys])
        rates = [float(k) for k in keys]
        ax.plot(rates, means, marker="o", markersize=3, label=name)
        ax.fill_between(rates, means - stds, means + stds, alpha=0.15)
    ax.set_xlabel("intra-modal missing rate")
    ax.set_ylabel("F1 (non0), test")
    ax.set_title("Synthetic factor benchmark: robustness to missing frames")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown_section(
    results: dict[str, Report], setup: BenchSetup, command: str, elapsed: float, png: Path
) -> str:
    def table(header: str, keys: tuple[str, ...] | list[str], protocol: str) -> list[str]:
        lines = [f"| model | {' | '.join(keys)} |", "|---|" + "---|" * len(keys)]
        for name, report in results.items():
            rows = report[protocol]
            if setup.seeds > 1:
                cells = [f"{rows[k]['f1_non0']:.3f}±{rows[k]['f1_non0_std']:.3f}" for k in keys]
            else:
                cells = [f"{rows[k]['f1_non0']:.3f}" for k in keys]
            lines.append(f"| {name} | {' | '.join(cells)} |")
        return [header, "", *lines, ""]

    rows = summary(results)
    data = asdict(setup.data)
    return "\n".join(
        [
            SECTION_START,
            "## Robustness on the synthetic factor benchmark",
            "",
            f"- command: `{command}`",
            f"- date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
            f"- machine: {machine()}",
            f"- wall time: {elapsed:.0f} s; {setup.seeds} training seed(s), "
            f"{setup.epochs} epochs max (patience {setup.patience}), selection on valid",
            f"- data: {data['n_train']}/{data['n_valid']}/{data['n_test']} clips, "
            f"dims {data['text_dim']}/{data['audio_dim']}/{data['vision_dim']}, "
            f"seed {data['seed']}; scores on the test split"
            + ("; ± is the spread over training seeds" if setup.seeds > 1 else ""),
            "",
            "Mean F1 (non0): intra over rates 0.0-0.9, inter over the 6 incomplete subsets.",
            "",
            "| model | intra | inter |",
            "|---|---|---|",
            *(
                f"| {n} | {r['intra_f1_non0']:.4f} | {r['inter_f1_non0']:.4f} |"
                for n, r in rows.items()
            ),
            "",
            *table(
                "F1 (non0) by intra missing rate:",
                list(results[next(iter(results))]["intra"]),
                "intra",
            ),
            *table("F1 (non0) by modalities kept:", SUBSETS, "inter"),
            f"![F1 (non0) vs missing rate]({png.name})",
            SECTION_END,
        ]
    )


def write_results(
    results: dict[str, Report], setup: BenchSetup, command: str, elapsed: float, markdown: Path
) -> None:
    """The JSON and the plot beside ``markdown``, and its robustness section (replaced)."""
    folder = markdown.parent
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "robustness.json").write_text(json.dumps({"models": results}, indent=2))
    png = folder / "robustness_intra.png"
    plot(results, png)
    section = markdown_section(results, setup, command, elapsed, png)
    text = markdown.read_text() if markdown.is_file() else "# Benchmarks\n"
    if SECTION_START in text and SECTION_END in text:
        before, rest = text.split(SECTION_START, 1)
        after = rest.split(SECTION_END, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    markdown.write_text(text)


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run, for the record in the markdown."""
    parts = ["python -m firf bench robustness"]
    parts += [f"--{size}" for size in ("quick", "tiny") if getattr(args, size)]
    for option in ("seeds", "models", "epochs", "device", "threads", "write"):
        value = getattr(args, option)
        if value is not None:
            parts.append(f"--{option} {value}")
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    setup = SETUPS["tiny" if args.tiny else "quick" if args.quick else "full"]
    if args.seeds is not None:
        setup = replace(setup, seeds=args.seeds)
    if args.epochs is not None:
        setup = replace(setup, epochs=args.epochs)
    if args.models:
        chosen = tuple(m.strip() for m in args.models.split(","))
        unknown = sorted(set(chosen) - set(FULL_MODELS))
        if unknown:
            print(f"error: unknown models {unknown}; choose from {FULL_MODELS}", file=sys.stderr)
            return 2
        setup = replace(setup, models=chosen)
    if setup.seeds < 1 or setup.epochs < 1:
        print("error: --seeds and --epochs must be at least 1", file=sys.stderr)
        return 2

    torch.set_num_threads(max(1, args.threads))

    def log(text: str) -> None:
        print(text, file=sys.stderr if args.json else sys.stdout)

    start = time.perf_counter()
    results = run_benchmark(setup, args.device, log)
    elapsed = time.perf_counter() - start
    if args.json:
        print(json.dumps({"models": results}, indent=2))
    else:
        for name, report in results.items():
            print(f"\n== {name}")
            print(format_table("intra (missing rate)", report["intra"]))
            print(format_table("inter (modalities kept)", report["inter"]))
        print()
    log(format_summary(summary(results)))
    log(f"total {elapsed:.0f} s")
    if args.write is not None:
        write_results(results, setup, command_line(args), elapsed, args.write)
        log(f"wrote {args.write} and its robustness.json / robustness_intra.png")
    return 0
