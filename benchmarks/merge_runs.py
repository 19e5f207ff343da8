"""Merge saved `firf bench robustness --out` runs of the same replicates into one result.

python benchmarks/merge_runs.py runs/scarce.json runs/scarce_ablations.json --out runs/merged.json

Why: a run trains every model it names on every replicate, so adding an ablation to a
finished table would retrain FIRF. Replicates are deterministic in one environment (a (data
seed, init seed) pair at one thread gives the same numbers to the last digit; a fresh
environment moved means by about 0.001 on 2026-12-02), so a later run of only the new
models pairs with the earlier FIRF. This merges them and recomputes the means and the paired
differences. It refuses runs that are not the same replicates: track, split, steps,
generator hash, replicate count and every replicate's linear ceilings (which depend only on
the data) must agree; a model that appears in both runs must have the same scores.

`--rename OLD=NEW` renames a model in every run first (also with a single run), for a run made
before a variant took another name: e.g. `--rename firf=firf_split --rename firf_sum=firf` for
the runs of 2026-12-02, when the one-slot fusion screened as `firf_sum` became `firf`.
`--rename-in RUN.json:OLD=NEW` renames in that run only, to pair a new `firf` with an older
run's: `--rename-in old.json:firf=firf_recover_s`.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from firf.cli.bench import result_of

SAME = ("track", "split", "steps", "generator_hash", "replicates")
PARTS = ("models", "probes")  # what a replicate holds per model


def close(a, b, tol: float = 1e-9) -> bool:
    """Nested equality of scores up to float noise from JSON round trips. A dict may hold more
    keys than the other (a later bench records more metrics); the shared ones must agree."""
    if isinstance(a, dict):
        shared = a.keys() & b.keys()
        nested = a.keys() <= b.keys() or b.keys() <= a.keys()
        return nested and bool(shared) and all(close(a[k], b[k], tol) for k in shared)
    if isinstance(a, list):
        return len(a) == len(b) and all(close(x, y, tol) for x, y in zip(a, b, strict=True))
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def union(a: dict, b: dict) -> dict:
    """Every metric either copy of the same scores has (they agree where both have one)."""
    return {
        k: union(a[k], b[k]) if isinstance(b.get(k), dict) and k in a else b.get(k, a.get(k))
        for k in {**a, **b}
    }


def merge(runs: list[dict]) -> dict:
    """One result over the union of the runs' models; raises ValueError on a mismatch."""
    first = runs[0]
    for run in runs[1:]:
        for key in SAME:
            if run.get(key) != first.get(key):
                raise ValueError(f"runs differ in {key}: {first.get(key)} vs {run.get(key)}")
    replicates = []
    for index, rows in enumerate(zip(*(run["raw"] for run in runs), strict=True)):
        merged = {"models": {}, "probes": {}, "ceilings": rows[0]["ceilings"]}
        for row in rows:
            if not close(row["ceilings"], merged["ceilings"]):
                raise ValueError(f"replicate {index}: different data (ceilings differ)")
            merged["ceilings"] = union(merged["ceilings"], row["ceilings"])
            for part in PARTS:
                for name, value in row[part].items():
                    if name in merged[part] and not close(merged[part][name], value):
                        raise ValueError(f"replicate {index}: {name} scores differ between runs")
                    merged[part][name] = union(merged[part].get(name, {}), value)
        if "firf" not in merged["models"]:
            raise ValueError("no run has firf, so there is nothing to pair against")
        # FIRF first, as in a single run, so the report's tables keep their row order.
        merged["models"] = {"firf": merged["models"].pop("firf"), **merged["models"]}
        replicates.append(merged)
    elapsed = sum(run["elapsed_s"] for run in runs)
    result = result_of(first["track"], replicates, elapsed)
    result["split"] = first["split"]
    result["generator_hash"] = first["generator_hash"]
    command = " + ".join(f"`{run['command']}`" for run in runs)
    return {**result, "steps": first["steps"], "command": command, "raw": replicates}


def rename(run: dict, names: dict[str, str]) -> dict:
    """The run with its models (scores and probes) renamed; the command says so."""
    if not names:
        return run
    raw = [
        {**row, **{part: {names.get(k, k): v for k, v in row[part].items()} for part in PARTS}}
        for row in run["raw"]
    ]
    renamed = ", ".join(f"{old} as {new}" for old, new in names.items())
    return {**run, "raw": raw, "command": f"{run['command']} (read with {renamed})"}


def parse_renames(pairs: list[str]) -> dict[str, str]:
    names = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
    if len(names) != len(pairs) or len(set(names.values())) != len(names):
        raise SystemExit(f"--rename takes distinct OLD=NEW pairs, got {pairs}")
    return names


def parse_renames_in(items: list[str]) -> dict[Path, dict[str, str]]:
    """``RUN.json:OLD=NEW`` items -> run path -> its own renames."""
    per_run: dict[Path, list[str]] = {}
    for item in items:
        path, _, pair = item.rpartition(":")
        if not path:
            raise SystemExit(f"--rename-in takes RUN.json:OLD=NEW, got {item!r}")
        per_run.setdefault(Path(path), []).append(pair)
    return {path: parse_renames(pairs) for path, pairs in per_run.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--rename", action="append", default=[], metavar="OLD=NEW")
    parser.add_argument("--rename-in", action="append", default=[], metavar="RUN.json:OLD=NEW")
    args = parser.parse_args()
    names = parse_renames(args.rename)
    per_run = parse_renames_in(args.rename_in)
    unknown = sorted(str(path) for path in set(per_run) - set(args.runs))
    if unknown:
        raise SystemExit(f"--rename-in names runs not given: {', '.join(unknown)}")
    merged = merge(
        [
            rename(json.loads(path.read_text()), {**names, **per_run.get(path, {})})
            for path in args.runs
        ]
    )
    args.out.write_text(json.dumps(merged, indent=2))
    print(f"wrote {args.out}: models {', '.join(merged['models'])}")


if __name__ == "__main__":
    main()
