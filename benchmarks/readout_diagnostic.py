"""Where does a trained model lose to the linear ceiling: its representation or its readout?

python benchmarks/readout_diagnostic.py --track scarce --replicates 0,1 --threads 1

On ``scarce`` a ridge on mean-pooled frames, fitted on the same 300 labelled clips, beats every
network by a wide margin on complete clips. For each replicate this trains a model under the
benchmark's protocol and scores, on complete clips of the second half of the test split:

- ``model_score``: the model's own score;
- ``ridge_on_summaries``: a ridge fitted on the same labelled training clips, reading the
  model's pooled per-modality summaries (what fusion reads) or its fused vector;
- ``probe_on_summaries``: the same ridge fitted on the first half of the test split (2,500
  labels): how much of the label the representation holds, whatever the readout;
- ``ridge_on_frames`` / ``probe_on_frames``: the same two ridges on mean-pooled input frames.

Where ``ridge_on_summaries`` beats ``model_score``, the readout trained on few labels is the
bottleneck; where ``probe_on_summaries`` is far from ``probe_on_frames``, the representation
lost label information.

For a model that recovers missing modalities, each row also holds, per modality on the test
split, ``rec_slot_closeness`` (its recovered slot against the real one) next to
``rec_slot_linear`` (what a ridge from the other modalities' real slots reaches): whether a
poorly recovered slot is the recovery's fault or mostly content private to the modality.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from sklearn.linear_model import RidgeCV

from firf.benchmark.linear import ALPHAS, pooled_dataset
from firf.benchmark.probes import factor_summaries, recovery_probes
from firf.benchmark.protocol import PROTOCOLS, replicate_datasets, replicate_seeds, train_model
from firf.benchmark.tracks import get_track
from firf.data.dataset import FeatureDataset, make_loader
from firf.evaluate import predict_scores


def mae(prediction: np.ndarray, label: np.ndarray) -> float:
    return float(np.abs(prediction - label).mean())


@torch.inference_mode()
def fused_vectors(model, dataset: FeatureDataset) -> np.ndarray:
    """The readout's output (the vector the score head reads) for every clip."""
    model.eval()
    return np.concatenate([model(batch).fused.numpy() for batch in make_loader(dataset, 256)])


def representations(model, dataset: FeatureDataset) -> dict[str, np.ndarray]:
    summaries = factor_summaries(model, dataset)
    slot = sum(summaries[f] for f in model.fusion_factors)  # (N, 3, D): what fusion reads
    return {
        "frames": pooled_dataset(dataset)[0],
        "summaries": slot.reshape(len(slot), -1),
        "fused": fused_vectors(model, dataset),
    }


def readout_gaps(model, datasets: dict[str, FeatureDataset]) -> dict[str, float]:
    train, test = datasets["train"], datasets["test"]
    half = len(test) // 2
    first = FeatureDataset(test.samples[:half], test.dims)
    second = FeatureDataset(test.samples[half:], test.dims)
    y_train, y_first, y_second = train.labels, first.labels, second.labels
    out = {"model_score": mae(predict_scores(model, second), y_second)}
    splits = [representations(model, d) for d in (train, first, second)]  # each read once
    for name in splits[0]:
        x_train, x_first, x_second = (split[name] for split in splits)
        ridge = RidgeCV(alphas=ALPHAS).fit(x_train, y_train)
        probe = RidgeCV(alphas=ALPHAS).fit(x_first, y_first)
        out[f"ridge_on_{name}"] = mae(ridge.predict(x_second), y_second)
        out[f"probe_on_{name}"] = mae(probe.predict(x_second), y_second)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="scarce")
    parser.add_argument("--model", default="firf")
    parser.add_argument("--replicates", default="0", help="comma-separated replicate indices")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=None, help="default: the full protocol's")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    track, protocol = get_track(args.track), PROTOCOLS["full"]
    for index in (int(i) for i in args.replicates.split(",")):
        start = time.perf_counter()
        data_seed, init_seed = replicate_seeds(index)
        datasets = replicate_datasets(track, data_seed, quick=False)
        steps = args.steps or protocol.steps
        model = train_model(args.model, datasets, track, init_seed, steps)
        row = {"track": args.track, "model": args.model, "replicate": index, "steps": steps}
        row |= readout_gaps(model, datasets)
        recovery = recovery_probes(factor_summaries(model, datasets["test"]))
        for modality, probes in recovery.items():
            for key in ("rec_slot_closeness", "rec_slot_linear"):
                if key in probes:
                    row[f"{key}_{modality}"] = round(probes[key], 4)
        row["seconds"] = round(time.perf_counter() - start)
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
