"""Checkpoint v2, voice: how well do Whisper-base encoder states tell happy from negative speech?

    python recipes/emodb_study.py        # caches the states of the 392 clips once (~2 min)

EmoDB (7 speakers here, German, acted). Valence mapping (documented in the model card when it
ships): happiness +1; anger, sadness, disgust, fear -1; boredom -0.5 (mildly negative);
neutral 0. The reported figure is the issue's: happy vs negative (anger, sadness, disgust,
fear) balanced accuracy, leave-one-speaker-out over the 7 speakers, so every clip is scored by a
probe that never heard its speaker.

Variants: which encoder layer (0 = after the first block ... 6 = the final ``ln_post`` output the
FIRF audio branch reads today), pooling (mean; mean and std), which clips train the probe
(happy vs negative only; all clips as valence regression) and per-speaker standardisation
(each speaker's features centred on their own mean, which needs only unlabeled speech of that
speaker, e.g. the clip itself in a live demo: here it is an upper bound).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script

from recipes.demo_corpus.emodb import VALENCE  # noqa: E402
from recipes.study_data import balanced_accuracy, data_dir, study_cache  # noqa: E402

NEGATIVE = ("anger", "sadness", "disgust", "fear")


def load_labels(root: Path) -> list[dict]:
    with open(root / "emodb" / "labels.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def layer_stats(rows: list[dict], root: Path) -> np.ndarray:
    """(clips, 7 layers [conv output, blocks 1-5, ln_post of block 6], 2 [mean, std], 512) Whisper-base encoder statistics, cached."""
    path = study_cache("emodb") / "whisper_base_layers.npy"
    if path.is_file():
        return np.load(path)
    from firf.extract.audio import WhisperAudio
    from firf.extract.decode import load_audio

    audio = WhisperAudio("base", device="cpu")
    encoder = audio.model.encoder
    out = np.zeros((len(rows), 7, 2, 512), dtype=np.float32)
    start = time.time()
    for i, row in enumerate(rows):
        wave = load_audio(str(root / "emodb" / "wav" / row["file"]))
        with torch.inference_mode():
            mel = audio._mel(wave)
            x = torch.nn.functional.gelu(encoder.conv1(mel))
            x = torch.nn.functional.gelu(encoder.conv2(x)).permute(0, 2, 1)
            x = x + encoder.positional_embedding[: x.shape[1]]
            layers = [x[0]]
            for block in encoder.blocks:
                x = block(x)
                layers.append(x[0])
            layers[-1] = encoder.ln_post(x)[0]  # what WhisperAudio returns
        for j, states in enumerate(layers):
            out[i, j, 0] = states.mean(0).numpy()
            out[i, j, 1] = states.std(0).numpy()
        if i % 50 == 0:
            print(f"  {i}/{len(rows)} clips, {time.time() - start:.0f} s", flush=True)
    np.save(path, out)
    return out


def loso(features, rows, train_on: str, per_speaker: bool, c: float = 0.1) -> float:
    """Happy-vs-negative balanced accuracy with each speaker held out in turn."""
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    speakers = np.array([r["speaker"] for r in rows])
    emotion = np.array([r["emotion"] for r in rows])
    valence = np.array([VALENCE[e] for e in emotion])
    x = features.copy()
    if per_speaker:
        for s in np.unique(speakers):
            x[speakers == s] -= x[speakers == s].mean(0)
    scored = np.isin(emotion, ("happiness", *NEGATIVE))
    truth, predicted = [], []
    for s in np.unique(speakers):
        held = speakers == s
        if train_on == "binary":
            fit = ~held & scored
            model = make_pipeline(
                StandardScaler(), LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
            )
            model.fit(x[fit], valence[fit] > 0)
            score = model.decision_function(x[held & scored])
        else:  # valence regression on every clip, happy clips weighted up to balance
            fit = ~held
            weight = np.where(
                valence[fit] > 0, (valence[fit] < 0).sum() / (valence[fit] > 0).sum(), 1
            )
            model = make_pipeline(StandardScaler(), Ridge(alpha=1.0 / c))
            model.fit(x[fit], valence[fit], ridge__sample_weight=weight)
            score = model.predict(x[held & scored])
        truth += list(valence[held & scored] > 0)
        predicted += list(score > 0)
    return balanced_accuracy(truth, predicted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.parse_args()
    torch.set_num_threads(1)
    root = data_dir()
    rows = load_labels(root)
    stats = layer_stats(rows, root)
    print("\n| features | probe | per-speaker centring | LOSO happy-vs-negative BA |")
    print("|---|---|---|---|")
    for layer in range(7):
        pooled = {"mean": stats[:, layer, 0], "mean+std": stats[:, layer].reshape(len(rows), -1)}
        for pooling, feats in pooled.items():
            for train_on in ("binary", "valence"):
                for centred in (False, True):
                    ba = loso(feats, rows, train_on, centred)
                    print(f"| layer {layer} {pooling} | {train_on} | {centred} | {ba:.3f} |")
    print("\nRegularisation and layer mixes (binary probe, no centring):")
    print("| features | C=0.01 | C=0.1 | C=1 |")
    print("|---|---|---|---|")
    mixes = {
        "layer 6 mean (today)": stats[:, 6, 0],
        "layer 2 mean": stats[:, 2, 0],
        "layers 2+3 mean, averaged": stats[:, 2:4, 0].mean(1),
        "layers 1-4 mean, averaged": stats[:, 1:5, 0].mean(1),
        "layer 2 mean ++ layer 6 mean": np.concatenate([stats[:, 2, 0], stats[:, 6, 0]], 1),
    }
    for name, feats in mixes.items():
        cells = [f"{loso(feats, rows, 'binary', False, c):.3f}" for c in (0.01, 0.1, 1.0)]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
