"""Several trained FIRF seeds combined into one checkpoint (``config.members``)."""

import json

import pytest
import torch

import firf
from firf.errors import InputError
from firf.model import FIRF, build_model, load_model
from firf.model.ensemble import combine_members
from tests.test_model import DIMS, SMALL, make_batch, outputs

EXTRACTOR = {"text": {"name": "minilm", "dim": 12}, "fps": 5}


def members(count: int = 3, **overrides) -> list:
    """FIRF models of one architecture with different weights (as different seeds give)."""
    models = []
    for seed in range(count):
        torch.manual_seed(seed)
        model = build_model("firf", DIMS, **{**SMALL, "extractor": EXTRACTOR, **overrides})
        with torch.no_grad():  # fitted statistics differ per member only if the data did
            for encoder in model.encoders.values():
                encoder.input_mean.normal_()
        models.append(model.eval())
    return models


def test_scores_are_the_members_mean_and_stay_in_range():
    seeds = members()
    ensemble = combine_members(seeds)
    batch = make_batch()
    with torch.inference_mode():
        want = torch.stack([m(batch).score for m in seeds]).mean(0)
        got = ensemble(batch)
    torch.testing.assert_close(got.score, want)
    assert got.score.abs().max() <= ensemble.config.score_range
    # the bin distribution is the members' mixture: a distribution, not a sum
    torch.testing.assert_close(got.logits.exp().sum(-1), torch.ones(len(got.score)))
    assert got.fused.shape[-1] == 3 * SMALL["d_model"]


def test_combined_seeds_save_and_load_as_one_firf_with_its_extractor(tmp_path):
    ensemble = combine_members(members())
    ensemble.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_type"] == "firf" and config["members"] == 3

    loaded = load_model(tmp_path)
    assert type(loaded) is FIRF and not loaded.training and len(loaded.other_members) == 2
    assert type(firf.FIRF.from_pretrained(tmp_path)) is FIRF  # the public contract
    assert loaded.config.extractor == EXTRACTOR and loaded.config.dims() == DIMS
    batch = make_batch()
    for got, want in zip(outputs(loaded, batch), outputs(ensemble, batch), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_members_of_different_recipes_are_refused():
    with pytest.raises(InputError, match="differ in"):
        combine_members([*members(1), *members(1, d_model=32)])
    with pytest.raises(InputError, match="differ in"):
        combine_members([*members(1), *members(1, extractor={"fps": 10})])
    with pytest.raises(InputError, match="only FIRF"):
        combine_members([build_model("late_fusion", DIMS)])
    with pytest.raises(InputError, match="at least one"):
        combine_members([])


def test_recipe_combines_run_folders_with_their_text_layers(tmp_path):
    from recipes.demo_corpus.ensemble import combine_runs

    runs = []
    for i, model in enumerate(members(2)):
        run = tmp_path / f"firf-s{i}"
        model.save_pretrained(run)
        (run / "text_layers.safetensors").write_bytes(b"same tuned layers")
        runs.append(run)
    (tmp_path / "ensemble").mkdir()
    (tmp_path / "ensemble" / "MODEL_CARD.md").write_text("our card")
    combine_runs(runs, tmp_path / "ensemble")
    written = sorted(p.name for p in (tmp_path / "ensemble").iterdir())
    assert written == [
        "MODEL_CARD.md",
        "config.json",
        "model.safetensors",
        "text_layers.safetensors",
    ]
    assert (tmp_path / "ensemble" / "MODEL_CARD.md").read_text() == "our card"
    assert (tmp_path / "ensemble" / "text_layers.safetensors").read_bytes() == b"same tuned layers"
    assert load_model(tmp_path / "ensemble").config.members == 2

    (runs[1] / "text_layers.safetensors").write_bytes(b"other layers")
    with pytest.raises(InputError, match="different text layers"):
        combine_runs(runs, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()


def test_combined_seeds_are_not_trained_as_a_whole_and_do_not_nest():
    combined = combine_members(members(2))
    batch = make_batch()
    with pytest.raises(InputError, match="train each, then combine"):
        combined.compute_loss(batch, batch)
    with pytest.raises(InputError, match="not checkpoints that already hold several"):
        combine_members([combined, combined])
