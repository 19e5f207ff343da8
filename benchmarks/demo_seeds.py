"""Seed study of demo-checkpoint recipes: how each setting scores on select and valid, per seed.

One checkpoint is one training run; runs are grouped into settings by their folder name without
the trailing ``-s<seed>``. For each run the table shows, on the selection split (what may be
used to choose a setting and a seed) and on validation (what the model card reports):
complete input, each modality alone, and the cost of dropping one modality, all at r = 0.

    python benchmarks/demo_seeds.py --corpus /tmp/demo/corpus-s runs/firf-ema-s0 runs/... \\
        --json seeds.json

A setting is only better than another if the gap is larger than its own spread over seeds.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # run as a script from a checkout, like the others

import torch  # noqa: E402

from firf.data.shards import load_shards  # noqa: E402
from firf.metrics import regression_metrics  # noqa: E402
from firf.model import load_model  # noqa: E402
from recipes.demo_corpus.paths import shared_data_dir  # noqa: E402
from recipes.demo_corpus.report import (  # noqa: E402
    EVAL_SEEDS,
    face_balanced_accuracy,
    face_sets,
    has_any,
    scores,
    subset_of,
)

SPLITS = ("select", "valid")
COLUMNS = ("tav", "t", "a", "face_ba", "drop_t", "drop_a", "drop_v")


def acc2(model: torch.nn.Module, dataset, subset: str) -> float:
    part = subset_of(dataset, has_any(dataset, subset))
    preds = scores(model, part, subset, 0.0, EVAL_SEEDS[0])
    return regression_metrics(preds, part.labels)["acc2_non0"]


def run_scores(model: torch.nn.Module, dataset, faces) -> dict[str, float]:
    """Acc-2 (non0) of complete input and of each modality alone; Acc-2 lost per dropped one."""
    model.eval()
    full = acc2(model, dataset, "tav")
    return {
        "tav": full,
        "t": acc2(model, dataset, "t"),
        "a": acc2(model, dataset, "a"),
        "face_ba": face_balanced_accuracy(model, faces),
        "drop_t": full - acc2(model, dataset, "av"),
        "drop_a": full - acc2(model, dataset, "tv"),
        "drop_v": full - acc2(model, dataset, "ta"),
    }


def setting_of(path: Path) -> str:
    return re.sub(r"-s\d+$", "", path.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="demo corpus folder")
    parser.add_argument("--seed", type=int, default=0, help="the corpus's seed (face split)")
    parser.add_argument("runs", nargs="+", type=Path, help="checkpoint folders")
    parser.add_argument("--json", type=Path, help="write every number as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)

    shards = args.corpus / "shards"
    data = {split: load_shards(shards, split) for split in SPLITS}
    faces = face_sets(args.corpus, shared_data_dir(), args.seed, data["valid"], SPLITS)

    results: dict[str, dict] = {}
    for path in args.runs:
        model = load_model(path)
        log = json.loads((path / "train_log.json").read_text())
        best = log["result"]["history"][log["result"]["best_epoch"] - 1]
        results[path.name] = {
            "setting": setting_of(path),
            "best_epoch": log["result"]["best_epoch"],
            "selection_mae": best["selection_mae"],
            **{split: run_scores(model, data[split], faces[split]) for split in SPLITS},
        }
        print(f"{path.name}: done", file=sys.stderr)
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def markdown(results: dict[str, dict]) -> str:
    """Per split: one row per run, then mean ± sd per setting."""
    header = "| {first} | epoch | sel. MAE | " + " | ".join(COLUMNS) + " |"
    rule = "|" + "---|" * (3 + len(COLUMNS))
    settings: dict[str, list[dict]] = {}
    for r in results.values():
        settings.setdefault(r["setting"], []).append(r)
    sections = []
    for split in SPLITS:
        lines = [f"#### {split} split, Acc-2 (non0) at r = 0", "", header.format(first="run"), rule]
        for name, r in results.items():
            cells = " | ".join(f"{r[split][c]:.3f}" for c in COLUMNS)
            lines.append(f"| {name} | {r['best_epoch']} | {r['selection_mae']:.3f} | {cells} |")
        lines += ["", header.format(first="setting (mean ± sd)"), rule]
        for setting, runs in settings.items():
            cells = " | ".join(_mean_sd([r[split][c] for r in runs]) for c in COLUMNS)
            epochs = "/".join(str(r["best_epoch"]) for r in runs)
            selection = _mean_sd([r["selection_mae"] for r in runs])
            lines.append(f"| {setting} | {epochs} | {selection} | {cells} |")
        sections.append("\n".join(lines))
    legend = (
        "tav, t, a: Acc-2 of complete input, text alone, audio alone; face_ba: balanced accuracy "
        "of the vision-only score on the split's happy and negative CK+ sequences; drop_x: Acc-2 "
        "lost when modality x is missing (tav minus the other two). sel. MAE: the selection "
        "score of the kept epoch (mean MAE on complete and damaged select clips)."
    )
    return "\n\n".join([*sections, legend])


def _mean_sd(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


if __name__ == "__main__":
    sys.exit(main())
