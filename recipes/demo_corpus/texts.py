"""Utterances with real sentiment labels: CMU-MOSI transcripts, MELD dialogue lines and SST-2
movie-review sentences."""

from __future__ import annotations

import csv
import random
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from firf.errors import InputError
from recipes.demo_corpus.splits import SELECT_SHARE, group_split, unit_hash

# MELD has three classes; the model regresses a MOSI-scale score in [-3, 3]. Polar classes sit at
# about the median magnitude of polar MOSI labels (1.6 positive, 1.2 negative), neutral at 0, so
# MELD lines read like typical, not extreme, MOSI opinions.
MELD_SCORE: dict[str, float] = {"negative": -1.4, "neutral": 0.0, "positive": 1.4}
SST2_SCORE = 1.4  # SST-2 is binary: its sentences are clear opinions, scored like MELD's
SST2_MIN_WORDS = 8  # SST-2's training file is mostly phrases; the corpus takes sentences
SST2_SELECT_CAP = 300  # select sentences kept (of ~900), enough to choose by
SST2_SELECT_SHARE = 0.03  # as in recipes/text_study.py, which tunes the text layers on the rest

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
    source: str  # "mosi" | "meld" | "sst2"


def clean_text(text: str) -> str:
    """Plain, single-spaced text with MELD's mis-encoded punctuation repaired."""
    for bad, good in _PLAIN.items():
        text = text.replace(bad, good)
    text = "".join(c for c in unicodedata.normalize("NFC", text) if unicodedata.category(c) != "Cc")
    return _SPACES.sub(" ", text).strip()


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise InputError(f"Missing source file {path}; see the model card for where it comes from.")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def load_mosi(path: Path) -> list[Utterance]:
    """CMU-MOSI segments with the standard train/valid folds, which already split by video."""
    utterances = []
    for row in read_csv(path):
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


def meld_lines(path: Path) -> Iterator[tuple[dict[str, str], str, str]]:
    """(row, cleaned text, sentiment) of every MELD line with text and one of its three
    sentiments: the one reading of MELD's CSV that the corpus and the encoder probe share."""
    for row in read_csv(path):
        text = clean_text(row["Utterance"])
        sentiment = row["Sentiment"].strip().lower()
        if text and sentiment in MELD_SCORE:
            yield row, text, sentiment


def load_meld(path: Path, split: str, per_class: int, seed: int) -> list[Utterance]:
    """A class-balanced, seeded sample of one MELD file (train file -> train, dev file -> valid).

    Balancing keeps the majority neutral class from teaching the model to hedge toward 0, and
    the per-class cap bounds extraction time.
    """
    by_class: dict[str, list[Utterance]] = {name: [] for name in MELD_SCORE}
    for row, text, sentiment in meld_lines(path):
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


def load_sst2(data_dir: Path, train_sentences: int, seed: int) -> list[Utterance]:
    """Seeded SST-2 training sentences (its select share apart) and the whole dev file (valid).

    The select share is the one the text layers were not tuned on, so it chooses fairly.
    """
    utterances = []
    for name, split in (("train.tsv", "train"), ("dev.tsv", "valid")):
        path = data_dir / "sst2" / name
        if not path.is_file():
            raise InputError(f"Missing source file {path}; see the model card.")
        with open(path, encoding="utf-8") as f:
            rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        for number, row in enumerate(rows):
            text = clean_text(row["sentence"])
            side = split
            if split == "train":
                if len(text.split()) < SST2_MIN_WORDS:
                    continue
                if unit_hash(f"sst2:{row['sentence']}") < SST2_SELECT_SHARE:
                    side = "select"
            utterances.append(
                Utterance(
                    id=f"sst2/{name.split('.')[0]}_{number}",
                    text=text,
                    label=SST2_SCORE if row["label"] == "1" else -SST2_SCORE,
                    split=side,
                    group=f"sst2:{name}:{number}",
                    source="sst2",
                )
            )
    rng = random.Random(f"sst2:{seed}")
    train = [u for u in utterances if u.split == "train"]
    select = [u for u in utterances if u.split == "select"]
    keep = {u.id for u in rng.sample(train, train_sentences)}
    keep |= {u.id for u in rng.sample(select, min(SST2_SELECT_CAP, len(select)))}
    return [u for u in utterances if u.split == "valid" or u.id in keep]


def load_utterances(
    data_dir: Path,
    meld_per_class: int,
    seed: int,
    select_share: float = SELECT_SHARE,
    sst2_sentences: int = 0,
) -> list[Utterance]:
    """MOSI (its own folds), balanced MELD (the train file for training, dev for validation)
    and ``sst2_sentences`` SST-2 training sentences with SST-2's dev file.

    A seeded share of the training groups (MOSI videos, MELD dialogues) becomes the "select"
    split, which picks the checkpoint so that validation stays a clean report.
    """
    meld = data_dir / "meld"
    utterances = (
        load_mosi(data_dir / "mosi" / "mosi_text_train_valid.csv")
        + load_meld(meld / "train_sent_emo.csv", "train", meld_per_class, seed)
        + load_meld(meld / "dev_sent_emo.csv", "valid", meld_per_class, seed)
    )
    utterances = [
        replace(u, split=group_split(u.group, seed, select_share)) if u.split == "train" else u
        for u in utterances
    ]
    return utterances + (load_sst2(data_dir, sst2_sentences, seed) if sst2_sentences else [])
