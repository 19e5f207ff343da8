"""Missing-modality protocols: reproducible, exact at the extremes, right on average."""

import pytest
import torch

from firf.batch import presence
from firf.data.dataset import collate
from firf.errors import InputError
from firf.missing import (
    TrainMissing,
    drop_frames,
    keep_modalities,
    random_view,
)
from firf.modalities import MODALITIES, SUBSETS


@pytest.fixture(scope="module")
def batch(tiny_synthetic):
    return collate(tiny_synthetic["train"].samples)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def assert_same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def observed(batch, m):
    return batch[f"{m}_mask"].sum().item()


def test_drop_frames_is_seeded_and_does_not_mutate(batch):
    before = {k: v.clone() for k, v in batch.items()}
    a = drop_frames(batch, 0.5, gen(1))
    assert_same(a, drop_frames(batch, 0.5, gen(1)))
    assert not torch.equal(a["text_mask"], drop_frames(batch, 0.5, gen(2))["text_mask"])
    assert_same(batch, before)


def test_rate_zero_is_identity_and_rate_one_empties(batch):
    assert_same(drop_frames(batch, 0.0, gen()), batch)
    empty = drop_frames(batch, 1.0, gen())
    for m in MODALITIES:
        assert observed(empty, m) == 0
        assert empty[m].abs().sum() == 0
        assert torch.equal(empty[f"{m}_lengths"], batch[f"{m}_lengths"])


@pytest.mark.parametrize("rate", [0.3, 0.7])
def test_observed_fraction_is_one_minus_rate(batch, rate):
    damaged = drop_frames(batch, rate, gen(3))
    for m in MODALITIES:
        kept = observed(damaged, m) / observed(batch, m)
        assert kept == pytest.approx(1 - rate, abs=0.05)
        # features are zero exactly where the mask was cleared
        dropped = (batch[f"{m}_mask"] > 0) & (damaged[f"{m}_mask"] == 0)
        assert damaged[m][dropped].abs().sum() == 0
        kept_frames = damaged[f"{m}_mask"] > 0
        assert torch.equal(damaged[m][kept_frames], batch[m][kept_frames])


def test_drop_frames_only_touches_named_modalities(batch):
    damaged = drop_frames(batch, 1.0, gen(), modalities=("audio",))
    assert observed(damaged, "audio") == 0
    assert torch.equal(damaged["text"], batch["text"])
    assert torch.equal(damaged["vision_mask"], batch["vision_mask"])


def test_bad_rate_is_an_input_error(batch):
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        drop_frames(batch, 1.5, gen())


@pytest.mark.parametrize("subset", SUBSETS)
def test_keep_modalities(batch, subset):
    kept = keep_modalities(batch, subset)
    for m in MODALITIES:
        if m[0] in subset:
            assert torch.equal(kept[m], batch[m])
            assert torch.equal(kept[f"{m}_mask"], batch[f"{m}_mask"])
        else:
            assert observed(kept, m) == 0 and kept[m].abs().sum() == 0
    assert presence(kept)[:, [m[0] in subset for m in MODALITIES]].all()


@pytest.mark.parametrize("subset", ["", "x", "tt", "TA"])
def test_bad_subset_is_an_input_error(batch, subset):
    with pytest.raises(InputError, match="subset"):
        keep_modalities(batch, subset)


def test_random_view_seeded_and_independent(batch):
    cfg = TrainMissing()
    a = random_view(batch, cfg, gen(5))
    assert_same(a, random_view(batch, cfg, gen(5)))
    b = random_view(batch, cfg, gen(6))
    assert not torch.equal(a["audio_mask"], b["audio_mask"])


def test_random_view_never_drops_everything(batch):
    harsh = TrainMissing(complete_fraction=0.0, max_rate=1.0, modality_drop_prob=0.9)
    g = gen(7)
    for _ in range(20):
        view = random_view(batch, harsh, g)
        assert presence(view).sum(1).min() >= 1


def test_random_view_mix_of_complete_and_damaged(batch):
    cfg = TrainMissing(complete_fraction=0.5, max_rate=0.8, modality_drop_prob=0.3)
    view = random_view(batch, cfg, gen(8))
    untouched = torch.ones(batch["label"].shape[0], dtype=torch.bool)
    for m in MODALITIES:
        untouched &= (view[f"{m}_mask"] == batch[f"{m}_mask"]).all(1)
    share = untouched.float().mean().item()
    assert 0.3 < share < 0.75  # about complete_fraction, plus rare lucky draws
    assert (presence(view) == 0).any()  # some whole modalities were removed


def test_train_missing_rejects_out_of_range():
    with pytest.raises(InputError, match="max_rate"):
        TrainMissing(max_rate=1.2)


def test_max_dropped_caps_whole_modality_losses(batch):
    cfg = TrainMissing(complete_fraction=0.0, max_rate=0.0, modality_drop_prob=0.9, max_dropped=1)
    view = random_view(batch, cfg, torch.Generator().manual_seed(0))
    kept = presence(view).sum(1)
    assert kept.min() == 2 and (kept == 2).float().mean() > 0.8
