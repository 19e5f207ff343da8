"""Speed of the models themselves, without data loading or feature extraction.

For each model: training throughput (samples/s through ``compute_loss`` + backward + an Adam
step, two damaged views per batch as in training) and inference latency of the module alone at
batch 1 and batch 64 (median of ``--runs`` timed calls after warm-up). Inputs are MOSI-like:
dims 768/5/20, aligned sequences of 50 frames, a third of the frames lost in each view.

    python benchmarks/model_speed.py                       # firf and late_fusion on CPU
    python benchmarks/model_speed.py --threads 1 --write   # append the table to BENCHMARKS.md
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import torch  # noqa: E402
from record import append_section, machine  # noqa: E402

from firf.batch import Batch, batch_to  # noqa: E402
from firf.missing import drop_frames  # noqa: E402
from firf.modalities import MODALITIES  # noqa: E402
from firf.model import MODEL_NAMES, build_model  # noqa: E402

DIMS = {"text": 768, "audio": 5, "vision": 20}
FRAMES = 50
TRAIN_BATCH = 32
LOST_RATE = 0.3


def random_batch(size: int, generator: torch.Generator) -> Batch:
    batch: Batch = {}
    for m in MODALITIES:
        batch[m] = torch.randn(size, FRAMES, DIMS[m], generator=generator)
        batch[f"{m}_mask"] = torch.ones(size, FRAMES)
        batch[f"{m}_lengths"] = torch.full((size,), FRAMES, dtype=torch.long)
    batch["label"] = torch.rand(size, generator=generator) * 6 - 3
    return batch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_throughput(name: str, device: torch.device, steps: int, warmup: int) -> float:
    torch.manual_seed(0)
    model = build_model(name, DIMS).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    generator = torch.Generator().manual_seed(0)
    batch = random_batch(TRAIN_BATCH, generator)
    views = [batch_to(drop_frames(batch, LOST_RATE, generator), device) for _ in range(2 * steps)]
    elapsed = 0.0
    for step in range(warmup + steps):
        view_a, view_b = views[(2 * step) % len(views)], views[(2 * step + 1) % len(views)]
        sync(device)
        start = time.perf_counter()
        loss, _ = model.compute_loss(view_a, view_b)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sync(device)
        if step >= warmup:
            elapsed += time.perf_counter() - start
    return steps * TRAIN_BATCH / elapsed


@torch.inference_mode()
def latency_ms(name: str, device: torch.device, size: int, runs: int, warmup: int) -> float:
    torch.manual_seed(0)
    model = build_model(name, DIMS).to(device).eval()
    generator = torch.Generator().manual_seed(1)
    batch = batch_to(drop_frames(random_batch(size, generator), LOST_RATE, generator), device)
    times = []
    for run in range(warmup + runs):
        sync(device)
        start = time.perf_counter()
        model(batch)
        sync(device)
        if run >= warmup:
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["firf", "late_fusion"], choices=MODEL_NAMES)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--steps", type=int, default=10, help="timed training steps")
    parser.add_argument("--runs", type=int, default=20, help="timed inference calls")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="append to benchmarks/BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    rows = [
        "| model | params | train samples/s (batch 32) | latency batch 1 (ms) "
        "| latency batch 64 (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in args.models:
        params = sum(p.numel() for p in build_model(name, DIMS).parameters())
        throughput = train_throughput(name, device, args.steps, args.warmup)
        single = latency_ms(name, device, 1, args.runs, args.warmup)
        batched = latency_ms(name, device, 64, args.runs, args.warmup)
        rows.append(f"| {name} | {params:,} | {throughput:.0f} | {single:.1f} | {batched:.1f} |")
    table = "\n".join(rows)
    print(table)

    if args.write:
        command = "python benchmarks/model_speed.py " + shlex.join(argv or sys.argv[1:])
        date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        section = (
            f"\n## Model speed ({date})\n\n`{command}`  \nMachine: {machine(device)}  \n"
            f"Inputs: dims 768/5/20, {FRAMES} frames, {LOST_RATE:.0%} of frames lost.\n\n"
            f"{table}\n"
        )
        append_section(section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
