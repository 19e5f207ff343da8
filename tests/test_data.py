"""Datasets: collate, MMSA pickles, the synthetic benchmark and feature shards."""

import json
import pickle

import numpy as np
import pytest
import torch

from firf.data.dataset import FeatureDataset, collate, make_loader
from firf.data.mmsa import load_mmsa
from firf.data.shards import MANIFEST, ShardWriter, load_shards
from firf.data.synthetic import SyntheticConfig, make_synthetic
from firf.errors import InputError

DIMS = {"text": 4, "audio": 2, "vision": 3}


def clip(clip_id, n_t, n_a, n_v, label=0.5, **extra):
    rng = np.random.default_rng(len(clip_id) + n_t)
    return {
        "id": clip_id,
        "label": label,
        "text": rng.normal(size=(n_t, 4)).astype(np.float32),
        "audio": rng.normal(size=(n_a, 2)).astype(np.float32),
        "vision": rng.normal(size=(n_v, 3)).astype(np.float32),
        **extra,
    }


def test_collate_pads_masks_and_keeps_absent_modalities_empty():
    samples = [
        clip("a", 3, 5, 0, label=1.0, vision_mask=np.zeros(0)),
        clip("b", 2, 1, 4, label=-2.0, vision_mask=np.array([1, 0, 1, 1])),
    ]
    batch = collate(samples)
    assert batch["text"].shape == (2, 3, 4) and batch["audio"].shape == (2, 5, 2)
    assert batch["vision"].shape == (2, 4, 3)
    assert batch["text_lengths"].tolist() == [3, 2] and batch["vision_lengths"].tolist() == [0, 4]
    assert batch["text_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert batch["vision_mask"].tolist() == [[0, 0, 0, 0], [1, 0, 1, 1]]
    assert batch["vision"][1, 1].abs().sum() == 0  # a masked frame carries no features
    assert torch.equal(batch["vision"][1, 2], torch.from_numpy(samples[1]["vision"][2]))
    assert batch["label"].dtype == torch.float32 and batch["label"].tolist() == [1.0, -2.0]
    assert all(isinstance(v, torch.Tensor) for v in batch.values())


def test_collate_gives_at_least_one_frame_when_all_absent():
    batch = collate([clip("a", 2, 0, 0), clip("b", 1, 0, 0)])
    assert batch["audio"].shape == (2, 1, 2)
    assert batch["audio_mask"].sum() == 0 and batch["audio_lengths"].tolist() == [0, 0]


def test_dataset_ids_labels_and_validation():
    ds = FeatureDataset([clip("x", 2, 2, 2, 0.4), clip("y", 1, 1, 1, -1.0)], DIMS)
    assert ds.ids == ["x", "y"] and ds.labels.tolist() == pytest.approx([0.4, -1.0])
    assert len(ds) == 2 and ds.score_range == 3.0
    with pytest.raises(InputError, match="'bad'.*audio.*expected \\(frames, 2\\)"):
        FeatureDataset([clip("bad", 2, 2, 2) | {"audio": np.zeros((2, 7))}], DIMS)
    with pytest.raises(InputError, match="vision_mask has 1 entries for 2"):
        FeatureDataset([clip("m", 2, 2, 2, vision_mask=np.ones(1))], DIMS)
    with pytest.raises(InputError, match="NaN"):
        FeatureDataset([clip("n", 2, 2, 2) | {"text": np.full((2, 4), np.nan)}], DIMS)


def test_loader_shuffle_is_seeded(tiny_synthetic):
    def order(seed):
        loader = make_loader(tiny_synthetic["train"], 16, shuffle=True, seed=seed)
        return torch.cat([b["label"] for b in loader])

    assert torch.equal(order(3), order(3))
    assert not torch.equal(order(3), order(4))


# --- MMSA pickles ---------------------------------------------------------------------------


def test_load_aligned_mmsa(mmsa_pickle):
    path = mmsa_pickle(aligned=True)
    raw = pickle.loads(path.read_bytes())
    data = load_mmsa(path)
    assert set(data) == {"train", "valid", "test"} and len(data["train"]) == 6
    ds = data["train"]
    assert ds.dims == {"text": 768, "audio": 5, "vision": 20} and ds.kind == "mosi"
    lengths = raw["train"]["text_bert"][:, 1].sum(1).astype(int)
    for i, sample in enumerate(ds.samples):
        assert sample["text"].shape[0] == sample["audio"].shape[0] == lengths[i]
        assert sample["vision"].shape[0] == lengths[i]
        assert np.isfinite(sample["audio"]).all() and sample["audio"][0, 0] == 0.0
    assert ds.ids[0] == "videotrain$_$0"
    assert ds.labels == pytest.approx(raw["train"]["regression_labels"])
    batch = collate(ds.samples)
    assert batch["audio_lengths"].tolist() == lengths.tolist()


def test_load_unaligned_mmsa_uses_lengths(mmsa_pickle):
    path = mmsa_pickle(aligned=False)
    raw = pickle.loads(path.read_bytes())["test"]
    ds = load_mmsa(path)["test"]
    assert [s["audio"].shape[0] for s in ds.samples] == list(raw["audio_lengths"])
    assert [s["vision"].shape[0] for s in ds.samples] == list(raw["vision_lengths"])
    np.testing.assert_array_equal(
        ds.samples[1]["vision"], raw["vision"][1, : raw["vision_lengths"][1]]
    )


def test_mmsa_kind_from_dims_or_argument(mmsa_pickle):
    assert load_mmsa(mmsa_pickle(dims=(768, 33, 709)))["train"].kind == "sims"
    assert load_mmsa(mmsa_pickle(dims=(768, 74, 35)))["test"].kind == "mosei"
    ds = load_mmsa(mmsa_pickle(), kind="sims")["valid"]
    assert ds.kind == "sims" and ds.score_range == 1.0


def test_mmsa_errors_are_actionable(tmp_path, mmsa_pickle):
    with pytest.raises(InputError, match="not found"):
        load_mmsa(tmp_path / "nope.pkl")
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(InputError, match="not a readable MMSA pickle"):
        load_mmsa(tmp_path / "junk.pkl")
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(InputError, match="MMSA layout"):
        load_mmsa(tmp_path / "list.pkl")
    path = mmsa_pickle()
    data = pickle.loads(path.read_bytes())
    del data["valid"]["vision"]
    path.write_bytes(pickle.dumps(data))
    with pytest.raises(InputError, match=r"'valid' lacks the MMSA keys \['vision'\]"):
        load_mmsa(path)


# --- synthetic benchmark --------------------------------------------------------------------


def test_synthetic_is_seeded_and_shaped(tiny_synthetic, tiny_config):
    again = make_synthetic(tiny_config)
    a, b = tiny_synthetic["valid"].samples[3], again["valid"].samples[3]
    assert all(np.array_equal(a[m], b[m]) for m in ("text", "audio", "vision"))
    other = make_synthetic(SyntheticConfig(**{**tiny_config.__dict__, "seed": 8}))
    assert not np.array_equal(other["valid"].samples[3]["audio"], a["audio"])
    train = tiny_synthetic["train"]
    assert train.dims == {"text": 24, "audio": 5, "vision": 8} and len(train) == 96
    assert {len(tiny_synthetic[s]) for s in ("valid", "test")} == {48}
    lengths = [s["text"].shape[0] for s in train.samples]
    assert min(lengths) >= 4 and max(lengths) <= 10
    assert len(set(train.ids)) == 96


def test_synthetic_labels_look_like_mosi():
    ds = make_synthetic(SyntheticConfig(n_train=600, n_valid=1, n_test=1, text_dim=8))["train"]
    y = ds.labels
    assert y.min() >= -3 and y.max() <= 3
    assert 1.0 < y.std() < 2.0
    assert 0.01 < (y == 0).mean() < 0.15  # some exact neutrals, as in MOSI
    assert 0.35 < (y > 0).mean() < 0.65


def test_synthetic_every_modality_carries_signal_and_together_more():
    """Least squares on mean-pooled features: each modality alone correlates with the label,
    all three together predict better than any one (information is split across modalities)."""
    cfg = SyntheticConfig(n_train=400, n_valid=1, n_test=200, text_dim=32, seed=1)
    data = make_synthetic(cfg)

    def test_corr(mods):
        def pooled(ds):
            x = np.stack([np.concatenate([s[m].mean(0) for m in mods]) for s in ds.samples])
            return np.hstack([x, np.ones((len(x), 1))])

        w, *_ = np.linalg.lstsq(pooled(data["train"]), data["train"].labels, rcond=None)
        return np.corrcoef(pooled(data["test"]) @ w, data["test"].labels)[0, 1]

    single = {m: test_corr((m,)) for m in ("text", "audio", "vision")}
    assert min(single.values()) > 0.1
    assert test_corr(("text", "audio", "vision")) > max(single.values()) + 0.05


def test_synthetic_rejects_bad_config():
    with pytest.raises(InputError, match="sum to 1"):
        make_synthetic(SyntheticConfig(sentiment_shares=(0.5, 0.5, 0.5, 0.5)))


# --- feature shards -------------------------------------------------------------------------

SIGNATURE = {"text": {"name": "minilm", "version": 1}}


def arrays(n_t, n_a, n_v, **masks):
    c = clip("tmp", n_t, n_a, n_v)
    return {m: c[m] for m in ("text", "audio", "vision")} | masks


def test_shards_round_trip_with_masks_and_odd_ids(tmp_path):
    writer = ShardWriter(tmp_path, DIMS, SIGNATURE)
    first = arrays(3, 4, 2, vision_mask=np.array([1.0, 0.0]))
    writer.add("vid/1:a b", first, 1.4, "train", speaker="s1")
    writer.add("vid_2", arrays(2, 0, 0), -0.6, "valid")
    ds = load_shards(tmp_path)
    assert ds.ids == ["vid/1:a b", "vid_2"] and ds.labels.tolist() == pytest.approx([1.4, -0.6])
    assert ds.dims == DIMS and ds.extractor == SIGNATURE
    np.testing.assert_array_equal(ds[0]["text"], first["text"])
    np.testing.assert_array_equal(ds[0]["vision_mask"], [1.0, 0.0])
    assert ds[1]["audio"].shape == (0, 2)
    entry = json.loads((tmp_path / MANIFEST).read_text().splitlines()[0])
    assert entry["speaker"] == "s1" and "/" not in entry["file"]


def test_shards_resume_after_interruption(tmp_path):
    writer = ShardWriter(tmp_path, DIMS, SIGNATURE)
    writer.add("done", arrays(2, 2, 2), 0.2, "train")
    # simulate a kill: a half-written temp file and an unterminated manifest line
    (tmp_path / "next.npz.tmp").write_bytes(b"partial")
    with (tmp_path / MANIFEST).open("a") as f:
        f.write('{"id": "next", "lab')
    resumed = ShardWriter(tmp_path, DIMS, SIGNATURE)
    assert resumed.has("done") and not resumed.has("next") and len(resumed) == 1
    resumed.add("next", arrays(1, 1, 1), -1.0, "test")
    assert load_shards(tmp_path).ids == ["done", "next"]
    with pytest.raises(InputError, match="already"):
        resumed.add("done", arrays(1, 1, 1), 0.0, "train")


def test_shards_refuse_a_different_extractor(tmp_path):
    ShardWriter(tmp_path, DIMS, SIGNATURE)
    with pytest.raises(InputError, match="another directory"):
        ShardWriter(tmp_path, DIMS, {"text": {"name": "other"}})


def test_shards_split_filter_and_errors(tmp_path):
    writer = ShardWriter(tmp_path, DIMS, SIGNATURE)
    for i, split in enumerate(["train", "train", "valid"]):
        writer.add(f"c{i}", arrays(2, 2, 2), 0.1 * i, split)
    assert load_shards(tmp_path, split="train").ids == ["c0", "c1"]
    assert load_shards(tmp_path, split="valid").ids == ["c2"]
    with pytest.raises(
        InputError, match=r"no clips in split 'test' \(splits: \['train', 'valid'\]\)"
    ):
        load_shards(tmp_path, split="test")
    with pytest.raises(InputError, match="not a feature shard directory"):
        load_shards(tmp_path / "elsewhere")
    with pytest.raises(InputError, match=r"sample 'x'.*text"):
        writer.add("x", arrays(2, 2, 2) | {"text": np.zeros((2, 9))}, 0.0, "train")


def test_synthetic_keeps_latents_and_adds_unlabelled_split_without_moving_others(tiny_config):
    base = make_synthetic(tiny_config)
    extended = make_synthetic(SyntheticConfig(**{**tiny_config.__dict__, "n_unlabelled": 20}))
    assert len(extended["unlabelled"]) == 20 and "unlabelled" not in base
    a, b = base["test"].samples[5], extended["test"].samples[5]
    assert np.array_equal(a["text"], b["text"]) and np.array_equal(a["latents"], b["latents"])
    latents = np.stack([s["latents"] for s in base["train"].samples])
    assert latents.shape == (96, 4)
    # The label is built from the latents: their weighted sum explains most of it.
    score = latents @ np.sqrt(tiny_config.sentiment_shares)
    assert np.corrcoef(score, base["train"].labels)[0, 1] > 0.9
