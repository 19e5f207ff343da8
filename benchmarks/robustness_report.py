"""Turn saved `firf bench robustness --out RESULT.json` runs into BENCHMARKS.md sections.

python benchmarks/robustness_report.py runs/shift.json runs/scarce.json --write benchmarks/BENCHMARKS.md

Each track gets its own section (replaced when it is already there) with the command, the
generator hash, the mean table, the paired differences with their 95 % t-intervals, each
model's distance from the per-pattern oracle per modality subset, and the probes, plus a bar
chart of inter MAE per modality subset beside the markdown.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SUBSETS = ("t", "a", "v", "ta", "tv", "av")


def section_markers(label: str) -> tuple[str, str]:
    return (
        f"<!-- firf bench robustness {label}: start -->",
        f"<!-- firf bench robustness {label}: end -->",
    )


def rows_with_ceilings(result: dict) -> dict[str, dict]:
    """Each model's mean row, then each ceiling's, the ceilings' names in italics."""
    return {**result["models"], **{f"*{k}*": v for k, v in result["ceilings"].items()}}


def table(result: dict) -> list[str]:
    lines = [
        "| model | inter MAE | inter Corr | inter F1 | intra MAE | intra Corr | intra F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = rows_with_ceilings(result)
    for name, r in rows.items():
        cells = [r[k] for k in ("inter_mae", "inter_corr", "inter_f1")]
        cells += [r[k] for k in ("intra_mae", "intra_corr", "intra_f1")]
        lines.append(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    return lines


def paired_table(result: dict) -> list[str]:
    metrics = ("inter_mae", "inter_corr", "inter_f1", "intra_mae", "intra_f1")
    lines = ["| difference | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for name, cells in result["paired"].items():
        text = [
            f"{cells[m]['mean']:+.3f} [{cells[m]['ci95'][0]:+.3f}, {cells[m]['ci95'][1]:+.3f}]"
            for m in metrics
        ]
        lines.append(f"| {name} | " + " | ".join(text) + " |")
    return lines


def subset_paired_block(result: dict) -> list[str]:
    """FIRF minus each model, inter F1 per modality subset: where a mean F1 difference comes
    from. Nothing for runs made before the bench stored per-subset F1."""
    lines = ["| difference | " + " | ".join(SUBSETS) + " |", "|---|" + "---|" * len(SUBSETS)]
    for name, cells in result["paired"].items():
        if f"inter_{SUBSETS[0]}_f1" not in cells:
            continue
        text = [
            f"{c['mean']:+.3f} [{c['ci95'][0]:+.3f}, {c['ci95'][1]:+.3f}]"
            for c in (cells[f"inter_{s}_f1"] for s in SUBSETS)
        ]
        lines.append(f"| {name} | " + " | ".join(text) + " |")
    if len(lines) == 2:
        return []
    return ["Paired inter F1 by modalities kept (positive favours FIRF):", "", *lines, ""]


def subset_bias_block(result: dict) -> list[str]:
    """Each model's bias (mean score minus label) and slope (score on label) per modality
    subset: whether lost signs come from an offset or from timid scores. Nothing for runs made
    before the bench stored them."""
    rows = {
        name: r for name, r in rows_with_ceilings(result).items() if f"inter_{SUBSETS[0]}_bias" in r
    }
    if not rows:
        return []
    lines = ["| model | " + " | ".join(SUBSETS) + " |", "|---|" + "---|" * len(SUBSETS)]
    for name, r in rows.items():
        cells = [f"{r[f'inter_{s}_bias']:+.3f} / {r[f'inter_{s}_slope']:.3f}" for s in SUBSETS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    title = "Bias / slope of the scores by modalities kept (means over replicates; slope 1 is"
    return [f"{title} unshrunk):", "", *lines, ""]


def ceiling_gap_table(result: dict) -> list[str]:
    """Each model's inter MAE above the per-pattern linear oracle, per modality subset: the room
    a mechanism has left to win. Where a model sits near the oracle, no ablation can show much."""
    oracle = result["ceilings"]["pattern_oracle"]
    lines = [
        "| model | " + " | ".join(SUBSETS) + " | mean |",
        "|---|" + "---|" * (len(SUBSETS) + 1),
    ]
    rows = rows_with_ceilings(result)
    for name, r in rows.items():
        gaps = [r[f"inter_{s}_mae"] - oracle[f"inter_{s}_mae"] for s in SUBSETS]
        cells = [*gaps, float(np.mean(gaps))]
        lines.append(f"| {name} | " + " | ".join(f"{g:+.3f}" for g in cells) + " |")
    return lines


def probe_table(result: dict) -> list[str]:
    keys = list(next(iter(result["probes"]["firf"].values())))
    lines = ["| model | modality | " + " | ".join(keys) + " |", "|---|---|" + "---|" * len(keys)]
    for name, probes in result["probes"].items():
        for m, row in probes.items():
            cells = " | ".join(f"{row[k]:.2f}" if k in row else "" for k in keys)
            lines.append(f"| {name} | {m} | {cells} |")
    return lines


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(result["models"])
    width = 0.8 / len(models)
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, name in enumerate(models):
        values = [result["models"][name][f"inter_{s}_mae"] for s in SUBSETS]
        ax.bar(np.arange(len(SUBSETS)) + i * width, values, width, label=name)
    ax.set_xticks(np.arange(len(SUBSETS)) + 0.4 - width / 2, SUBSETS)
    ax.set_xlabel("modalities kept")
    ax.set_ylabel("test MAE (lower is better)")
    ax.set_title(f"track {result['track']}, {result['replicates']} replicates")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def section(result: dict, command: str, png: Path, label: str) -> str:
    start, end = section_markers(label)
    title = f"Track `{result['track']}`" + ("" if label == result["track"] else f" ({label})")
    return "\n".join(
        [
            start,
            f"### {title}",
            "",
            f"- command: `{command}`",
            f"- {result['replicates']} replicates, {result.get('steps', '?')} steps per model, "
            f"generator {result['generator_hash']}, wall time {result['elapsed_s']:.0f} s",
            "",
            f"Means over replicates ({result.get('split', 'test')} split; ceilings in italics):",
            "",
            *table(result),
            "",
            "Paired differences (mean [95 % t-interval]); MAE: negative favours FIRF:",
            "",
            *paired_table(result),
            "",
            *subset_paired_block(result),
            *subset_bias_block(result),
            "Inter MAE above the per-pattern oracle, by modalities kept (the room left to gain):",
            "",
            *ceiling_gap_table(result),
            "",
            "Probes of FIRF's factors (held-out R²; closeness of reconstructed summaries):",
            "",
            *probe_table(result),
            "",
            f"![inter MAE by subset]({png.name})",
            end,
        ]
    )


def write(result: dict, command: str, markdown: Path, label: str) -> None:
    png = markdown.parent / f"robustness_{label}.png"
    plot(result, png)
    text = markdown.read_text() if markdown.is_file() else "# Benchmarks\n"
    new = section(result, command, png, label)
    start, end = section_markers(label)
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + new + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + new + "\n"
    markdown.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, nargs="+", help="files written by --out")
    parser.add_argument("--write", type=Path, required=True, help="the markdown to update")
    parser.add_argument("--label", default=None, help="section name (default: the track)")
    args = parser.parse_args(argv)
    for path in args.results:
        result = json.loads(path.read_text())
        command = result.get(
            "command", f"python -m firf bench robustness --track {result['track']}"
        )
        label = args.label or result["track"]
        write(result, command, args.write, label)
        print(f"{args.write}: section {label} from {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
