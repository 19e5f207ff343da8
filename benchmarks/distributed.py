"""Throughput of the Ray paths against the single-process ones, on this machine.

``predict``: ``python -m firf predict --batch jobs.jsonl`` over generated media clips (espeak
speech over the astronaut's moving face), single-process and with ``--ray`` on 1 and 2 workers
of 1 torch thread each. Every configuration runs in a fresh process on N clips and on 1 clip:
the difference gives the per-clip cost apart from start-up (loading the models, starting Ray).
The Ray outputs are checked against the single-process output (same lines, same order, same
scores to 1e-4).

``bench``: the wall time of ``python -m firf bench robustness ARGS`` with and without ``--ray``.

    python benchmarks/distributed.py predict --clips 16 --write
    python benchmarks/distributed.py bench --write -- --track control --tiny --replicates 2
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402
from record import append_section, machine  # noqa: E402

from tools import media  # noqa: E402

SENTENCES = [
    "I really loved this movie, it was wonderful.",
    "This was the worst film I have ever seen.",
    "The plot was fine but the acting was dull.",
    "What a great and happy surprise.",
]
RAY_WORKERS = (1, 2)


def firf(*args: str) -> list[str]:
    return [sys.executable, "-m", "firf", *args]


def timed(command: list[str], threads: int | None) -> tuple[float, str]:
    """Wall seconds and stdout of a fresh process (``threads``: OMP_NUM_THREADS, or unset)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}
    env.pop("OMP_NUM_THREADS", None)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{shlex.join(command)} failed:\n{done.stderr[-3000:]}")
    return wall, done.stdout


def make_jobs(folder: Path, clips: int) -> tuple[Path, Path]:
    """jobs.jsonl with ``clips`` face + speech videos, and one-clip.jsonl with the first."""
    speech = [media.speech_wav(folder / f"s{i}.wav", s) for i, s in enumerate(SENTENCES)]
    lines = []
    for i in range(clips):
        video = media.face_clip(folder / f"clip{i}.mp4", seconds=3.0, audio_wav=speech[i % 4])
        lines.append(json.dumps({"video": str(video)}))
    (folder / "jobs.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "one-clip.jsonl").write_text(lines[0] + "\n")
    return folder / "jobs.jsonl", folder / "one-clip.jsonl"


def same_output(reference: str, other: str) -> bool:
    ref, got = (
        [json.loads(x) for x in reference.splitlines()],
        [json.loads(x) for x in other.splitlines()],
    )
    return len(ref) == len(got) and all(
        a.get("error") == b.get("error") and abs(a.get("score", 0) - b.get("score", 0)) < 1e-4
        for a, b in zip(ref, got, strict=True)
    )


def predict_rows(clips: int) -> tuple[list[str], str]:
    configs = [("single process (torch default threads)", [], None)]
    configs += [
        (f"Ray, {n} worker(s) x 1 thread", ["--ray", "--ray-actors", str(n)], 1)
        for n in RAY_WORKERS
    ]
    rows, reference = [], None
    with tempfile.TemporaryDirectory() as tmp:
        jobs, one = make_jobs(Path(tmp), clips)
        for name, flags, threads in configs:
            wall, out = timed(firf("predict", "--batch", str(jobs), *flags), threads)
            wall_one, _ = timed(firf("predict", "--batch", str(one), *flags), threads)
            reference = reference if reference is not None else out
            per_clip = (wall - wall_one) / (clips - 1)
            check = (
                "reference"
                if out is reference
                else ("same" if same_output(reference, out) else "DIFFERENT")
            )
            rows.append(
                f"| {name} | {wall:.1f} | {clips / wall:.2f} | {wall_one:.1f} | {per_clip:.2f} "
                f"| {1 / per_clip:.2f} | {check} |"
            )
    header = (
        f"| configuration | wall, {clips} clips (s) | clips/s | wall, 1 clip (s) | s per extra clip "
        "| clips/s after start-up | output vs single |\n|---|---:|---:|---:|---:|---:|---|"
    )
    return rows, header


def bench_rows(bench_args: list[str]) -> tuple[list[str], str]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, flags, threads in [
            ("single process, 1 thread", [], 1),
            ("Ray (local, 1 thread per replicate)", ["--ray", "--ray-cache", f"{tmp}/cache"], 1),
        ]:
            wall, _ = timed(firf("bench", "robustness", *bench_args, *flags), threads)
            rows.append(f"| {name} | {wall:.1f} |")
    return rows, "| configuration | wall (s) |\n|---|---:|"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("predict", "bench"))
    parser.add_argument("--clips", type=int, default=16, help="media clips for predict")
    parser.add_argument("--write", action="store_true", help="append the table to BENCHMARKS.md")
    parser.add_argument("bench_args", nargs="*", help="after --: arguments of bench robustness")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    if args.what == "predict":
        rows, header = predict_rows(args.clips)
        title = f"`predict --batch` on {args.clips} media clips, with and without Ray"
    else:
        rows, header = bench_rows(args.bench_args)
        title = f"`bench robustness {' '.join(args.bench_args)}` with and without Ray"
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = "python benchmarks/distributed.py " + " ".join(sys.argv[1:])
    section = (
        f"\n## {title} ({now})\n\n`{command}`  \nMachine: {machine(torch.device('cpu'))} "
        f"(load average {load_before:.1f} when it started; other sessions share these 2 cores, "
        "so absolute times are noisy and ratios are from one run).\n\n"
        + header
        + "\n"
        + "\n".join(rows)
        + "\n"
    )
    print(section)
    if args.write:
        append_section(section)


if __name__ == "__main__":
    main()
