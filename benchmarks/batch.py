"""Throughput of `python -m firf predict --batch` on 1,000 short text-only jobs.

The whole command is timed from the shell's point of view (start-up and model loading
included), once on its own and once beside a second busy process: a torch matrix-multiply loop
using every core, as another prediction or training run would. Jobs per second is jobs / wall
time; the goal is >= 50 in both runs. Peak RSS is the batch process's own (``wait4``).

    python benchmarks/batch.py                 # print the table
    python benchmarks/batch.py --write         # and append it to BENCHMARKS.md
    python benchmarks/batch.py --workers 2     # forwarded to predict --batch
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

GOAL_JOBS_PER_S = 50.0
SENTENCES = (
    "I loved every minute of it",
    "this was a terrible waste of time",
    "the food was okay, nothing special",
    "what a wonderful surprise that was",
    "I will never come back here again",
)
BUSY = """
import torch
a = torch.randn(512, 512)
while True:
    a = torch.tanh(a @ a)
"""


def write_jobs(path: Path, count: int) -> None:
    with path.open("w") as out:
        for i in range(count):
            out.write(json.dumps({"text": f"{SENTENCES[i % len(SENTENCES)]} ({i})"}) + "\n")


def run_batch(jobs: Path, extra: list[str]) -> dict:
    """Wall seconds, records written, failures and peak RSS of one `predict --batch` run."""
    command = [sys.executable, "-m", "firf", "predict", "--batch", str(jobs), *extra]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.PIPE, text=True
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        out.seek(0)
        records = [json.loads(line) for line in out]
    stderr = process.stderr.read()
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"predict --batch failed:\n{stderr}")
    return {
        "wall_s": wall,
        "records": len(records),
        "failed": sum("error" in r for r in records),
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "command": shlex.join(command[1:]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=None, help="forwarded to predict --batch")
    parser.add_argument("--write", action="store_true", help="append the table to BENCHMARKS.md")
    args = parser.parse_args()
    extra = [] if args.workers is None else ["--workers", str(args.workers)]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        jobs = Path(tmp) / "jobs.jsonl"
        write_jobs(jobs, args.jobs)
        for label in ("alone", "beside a busy process"):
            busy = None
            if label != "alone":
                busy = subprocess.Popen([sys.executable, "-c", BUSY])
                time.sleep(2.0)  # let it reach full speed
            try:
                result = run_batch(jobs, extra)
            finally:
                if busy is not None:
                    busy.kill()
                    busy.wait()
            result["jobs_per_s"] = args.jobs / result["wall_s"]
            rows.append((label, result))
            print(
                f"{label}: {result['records']} records, {result['failed']} failed, "
                f"{result['wall_s']:.1f} s, {result['jobs_per_s']:.1f} jobs/s, "
                f"peak RSS {result['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    section = report(rows, args)
    print(section)
    if args.write:
        append_section(section)


def report(rows: list[tuple[str, dict]], args: argparse.Namespace) -> str:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"\n## Batch throughput: {args.jobs} text-only jobs ({now})\n",
        f"Machine: {machine(torch.device('cpu'))}.  ",
        f"Command: `python benchmarks/batch.py{' --workers ' + str(args.workers) if args.workers else ''}`"
        f" (each run: `python {rows[0][1]['command']}`, start-up and model loading included).\n",
        "| run | wall (s) | jobs/s | goal | records | failed | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, r in rows:
        ok = "met" if r["jobs_per_s"] >= GOAL_JOBS_PER_S else "missed"
        lines.append(
            f"| {label} | {r['wall_s']:.1f} | {r['jobs_per_s']:.1f} | >= {GOAL_JOBS_PER_S:g} "
            f"({ok}) | {r['records']} | {r['failed']} | {r['peak_rss_mb']:.0f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
