"""Utterances with real sentiment labels: CMU-MOSI transcripts and MELD dialogue lines."""

from __future__ import annotations

import csv
import random
import re
import unicodedata
from dataclasses import dataclass, replace
from pathlib import Path

from firf.errors import InputError
from recipes.demo_corpus.splits import SELECT_SHARE, group_split

# MELD has three classes; the model regresses a MOSI-scale score in [-3, 3]. Polar classes sit at
# about the median magnitude of polar MOSI labels (1.6 positive, 1.2 negative), neutral at 0, so
# MELD lines read like typical, not extreme, MOSI opinions.
MELD_SCORE: dict[str, float] = {"negative": -1.4, "neutral": 0.0, "positive": 1.4}

# Typographic characters and their Windows-1252 bytes read as Latin-1 (MELD's "\x92" apostrophes),
# which MiniLM's tokenizer and espeak-ng would otherwise read as unknown symbols.
_PLAIN: dict[str, str] = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": "-",
    "\u2014": " - ",
    "\u2026": "...",
    "\x91": "'",
    "\x92": "'",
    "\x93": '"',
    "\x94": '"',
    "\x96": "-",
    "\x97": " - ",
    "\x85": "...",
    "\xa0": " ",
}
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Utterance:
    """One labelled line of text; ``group`` is the identity a split must not share."""

    id: str
    text: str
    label: float
    split: str  # "train" | "select" | "valid"
    group: str  # "mosi:<video>" or "meld:<file>:<dialogue>"
    source: str  # "mosi" | "meld"


def clean_text(text: str) -> str:
    """Plain, single-spaced text with MELD's mis-encoded punctuation repaired."""
    for bad, good in _PLAIN.items():
        text = text.replace(bad, good)
    text = "".join(c for c in unicodedata.normalize("NFC", text) if unicodedata.category(c) != "Cc")
    return _SPACES.sub(" ", text).strip()


def _read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise InputError(f"Missing source file {path}; see the model card for where it comes from.")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load_mosi(path: Path) -> list[Utterance]:
    """CMU-MOSI segments with the standard train/valid folds, which already split by video."""
    utterances = []
    for row in _read_csv(path):
        text = clean_text(row["text"])
        if not text:
            continue
        utterances.append(
            Utterance(
                id=f"mosi/{row['video_id']}_{row['clip_id']}",
                text=text,
                label=float(row["label"]),
                split=row["split"],
                group=f"mosi:{row['video_id']}",
                source="mosi",
            )
        )
    return utterances


def load_meld(path: Path, split: str, per_class: int, seed: int) -> list[Utterance]:
    """A class-balanced, seeded sample of one MELD file (train file -> train, dev file -> valid).

    Balancing keeps the majority neutral class from teaching the model to hedge toward 0, and
    the per-class cap bounds extraction time.
    """
    by_class: dict[str, list[Utterance]] = {name: [] for name in MELD_SCORE}
    for row in _read_csv(path):
        text = clean_text(row["Utterance"])
        sentiment = row["Sentiment"].strip().lower()
        if not text or sentiment not in MELD_SCORE:
            continue
        by_class[sentiment].append(
            Utterance(
                id=f"meld/{path.stem}/d{row['Dialogue_ID']}_u{row['Utterance_ID']}",
                text=text,
                label=MELD_SCORE[sentiment],
                split=split,
                group=f"meld:{path.stem}:{row['Dialogue_ID']}",
                source="meld",
            )
        )
    rng = random.Random(f"meld:{path.stem}:{seed}")
    n = min(per_class, *(len(rows) for rows in by_class.values()))
    return [u for name in MELD_SCORE for u in rng.sample(by_class[name], n)]


def load_utterances(
    data_dir: Path, meld_per_class: int, seed: int, select_share: float = SELECT_SHARE
) -> list[Utterance]:
    """MOSI (its own folds) plus balanced MELD: the train file for training, dev for validation.

    A seeded share of the training groups (MOSI videos, MELD dialogues) becomes the "select"
    split, which picks the checkpoint so that validation stays a clean report.
    """
    meld = data_dir / "meld"
    utterances = (
        load_mosi(data_dir / "mosi" / "mosi_text_train_valid.csv")
        + load_meld(meld / "train_sent_emo.csv", "train", meld_per_class, seed)
        + load_meld(meld / "dev_sent_emo.csv", "valid", meld_per_class, seed)
    )
    return [
        replace(u, split=group_split(u.group, seed, select_share)) if u.split == "train" else u
        for u in utterances
    ]
