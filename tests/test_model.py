"""FIRF, its ablations and the baselines: the behaviour the trainer, evaluator and app rely on."""

import copy
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

from firf.data.dataset import FeatureDataset, collate
from firf.errors import InputError
from firf.missing import keep_modalities
from firf.modalities import MODALITIES
from firf.model import FIRF, MODEL_NAMES, ModelOutput, build_model, load_model, losses
from firf.model.firf_losses import distillation_loss
from firf.model.standardize import SCALE_FLOOR, fit_audio_probe, fit_input_statistics

DIMS = {"text": 12, "audio": 5, "vision": 7}
SMALL = {"d_model": 16, "n_heads": 2}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These models are tiny: a second thread only adds contention on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_batch(
    dims: dict[str, int] = DIMS,
    batch: int = 4,
    frames: int = 6,
    drop: float = 0.3,
    seed: int = 0,
    view: int = 0,
    score_range: float = 3.0,
) -> dict[str, torch.Tensor]:
    """Random clips of random lengths, ``drop`` of their frames lost; padding and lost frames
    are zero with mask 0, as the collate function and missing protocols produce them.
    ``seed`` picks the clips, ``view`` which frames are lost."""
    g = torch.Generator().manual_seed(seed)
    lost = torch.Generator().manual_seed(1000 + view)
    out = {}
    for m, dim in dims.items():
        lengths = torch.randint(1, frames + 1, (batch,), generator=g)
        in_clip = torch.arange(frames)[None] < lengths[:, None]
        mask = (in_clip & (torch.rand(batch, frames, generator=lost) >= drop)).float()
        out[m] = torch.randn(batch, frames, dim, generator=g) * mask[..., None]
        out[f"{m}_mask"] = mask
        out[f"{m}_lengths"] = lengths
    out["label"] = (torch.rand(batch, generator=g) * 2 - 1) * score_range
    return out


def two_views(**kwargs) -> tuple[dict, dict]:
    """The same clips with independently lost frames."""
    return make_batch(view=0, **kwargs), make_batch(view=1, **kwargs)


def build(name: str, dims: dict[str, int] = DIMS, **overrides):
    torch.manual_seed(0)
    return build_model(name, dims, **{**SMALL, **overrides})


def outputs(model, batch) -> list[torch.Tensor]:
    """Outputs as evaluation computes them (inference mode takes PyTorch's fast attention path)."""
    with torch.inference_mode():
        out = model(batch)
    return [t for t in (out.score, out.logits, out.fused) if t is not None]


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_training_step_reaches_every_encoder(name):
    model = build(name).train()
    view_a, view_b = two_views()
    loss, logs = model.compute_loss(view_a, view_b)
    loss.backward()
    assert torch.isfinite(loss)
    assert logs["loss"] == pytest.approx(loss.item())
    assert all(isinstance(v, float) for v in logs.values())
    for m in MODALITIES:
        grad = model.encoders[m].proj.weight.grad
        assert grad is not None and grad.abs().sum() > 0, f"no gradient reaches the {m} encoder"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_masked_frames_and_padding_do_not_change_outputs(name):
    model = build(name, strides={"vision": 2}).eval()
    batch = make_batch(drop=0.4)
    reference = outputs(model, batch)

    # Garbage (even NaN) where the mask says "not observed" ...
    garbage = dict(batch)
    for m in MODALITIES:
        unseen = batch[f"{m}_mask"][..., None] == 0
        noise = 100 * torch.randn_like(batch[m])
        noise[:, :1] = float("nan")
        garbage[m] = torch.where(unseen, noise, batch[m])
    for got, want in zip(outputs(model, garbage), reference, strict=True):
        torch.testing.assert_close(got, want)

    # ... and extra padding frames past every clip's end change nothing either.
    padded = dict(batch)
    for m in MODALITIES:
        b, _, d = batch[m].shape
        padded[m] = torch.cat([batch[m], torch.randn(b, 5, d)], dim=1)
        padded[f"{m}_mask"] = torch.cat([batch[f"{m}_mask"], torch.zeros(b, 5)], dim=1)
    for got, want in zip(outputs(model, padded), reference, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_everything_missing_still_gives_finite_outputs_and_loss(name):
    model = build(name)
    view_a, view_b = two_views(drop=1.0)
    model.eval()
    for t in outputs(model, view_a):
        assert torch.isfinite(t).all()
    model.train()
    view_c = make_batch(view=2)
    for pair in ((view_a, view_b), (view_c, view_a)):
        model.zero_grad()
        loss, _ = model.compute_loss(*pair)
        loss.backward()
        assert torch.isfinite(loss)
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("name", ["firf", "late_fusion", "misa"])
@pytest.mark.parametrize("score_range", [3.0, 1.0])
def test_scores_stay_within_score_range(name, score_range):
    model = build(name, score_range=score_range).eval()
    batch = make_batch(batch=8, drop=0.0)
    for m in MODALITIES:
        batch[m] = batch[m] * 1e4  # far outside anything seen in training
    with torch.no_grad():
        model.score_head.bias.fill_(1e3)
        score = model(batch).score
    assert score.shape == (8,)
    assert torch.isfinite(score).all() and score.abs().max() <= score_range


@pytest.mark.parametrize("name", ["firf_no_noise", "late_fusion", "misa"])
def test_save_and_load_round_trip(name, tmp_path):
    extractor = {"text": {"name": "minilm", "dim": 12}, "fps": 5}
    model = build(name, extractor=extractor, strides={"vision": 2}, dropout=0.2).eval()
    with torch.no_grad():  # statistics a fitted model would hold, not the identity it starts with
        for encoder in model.encoders.values():
            encoder.input_mean.normal_()
            encoder.input_scale.uniform_(0.1, 3.0)
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file()

    loaded = load_model(tmp_path)
    same_class = type(model).from_pretrained(tmp_path)
    batch = make_batch()
    for other in (loaded, same_class):
        assert type(other) is type(model) and not other.training
        assert other.config == model.config
        for got, want in zip(outputs(other, batch), outputs(model, batch), strict=True):
            torch.testing.assert_close(got, want, rtol=0, atol=0)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["extractor"] == extractor and config["strides"]["vision"] == 2
    if name.startswith("firf"):
        assert config["model_type"] == "firf" and config["use_noise"] is False


def test_loading_refuses_mismatched_or_missing_checkpoints(tmp_path):
    build("misa").save_pretrained(tmp_path / "misa")
    with pytest.raises(InputError, match="load_model"):
        FIRF.from_pretrained(tmp_path / "misa")

    build("firf").save_pretrained(tmp_path / "firf")
    config_path = tmp_path / "firf" / "config.json"
    config = json.loads(config_path.read_text())
    config_path.write_text(json.dumps({**config, "d_model": 32}))
    with pytest.raises(InputError, match="does not match") as refusal:
        load_model(tmp_path / "firf")
    assert "split_summaries" not in str(refusal.value)  # no hint for another layout

    # a checkpoint from before P = H - S carries per-modality heterogeneity encoders
    build("firf").save_pretrained(tmp_path / "old")
    weights = tmp_path / "old" / "model.safetensors"
    tensors = safetensors.torch.load_file(str(weights))
    tensors["heterogeneity.text.0.weight"] = torch.zeros(3, 3)
    safetensors.torch.save_file(tensors, str(weights))
    with pytest.raises(InputError, match="older than the heterogeneous factor"):
        load_model(tmp_path / "old")

    # a checkpoint from before one-slot summaries: its config.json has no split_summaries, and
    # the refusal says which line to add; with it, the same weights load
    _, split = refused_then_loaded(tmp_path / "split", build("firf_split"), "split_summaries", True)
    assert split.summary_slots == 2

    # a checkpoint from before the summary score (the bundled one): same, with its own line
    refusal, plain = refused_then_loaded(
        tmp_path / "plain", build("firf_no_summary_score"), "summary_score", False
    )
    assert "split_summaries" not in refusal
    assert not hasattr(plain, "summary_score_head")

    # a checkpoint whose recovery read the others' s alone (the bundled one): its own line
    refusal, s_only = refused_then_loaded(
        tmp_path / "s_only", build("firf", recover_from_s=True), "recover_from_s", True
    )
    assert "summary_score" not in refusal
    assert s_only.recovery_reads == ("s",)

    with pytest.raises(InputError, match="no model at"):
        load_model(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="config.json"):
        load_model(tmp_path / "empty")


def refused_then_loaded(folder: Path, model, field: str, value) -> tuple[str, torch.nn.Module]:
    """Save ``model`` with ``field`` left out of its config.json, as a checkpoint saved before
    the field existed: loading must refuse with the line to add, and load once it is added.
    Returns the refusal's text and the loaded model."""
    model.save_pretrained(folder)
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    del config[field]
    config_path.write_text(json.dumps(config))
    with pytest.raises(InputError, match=f'add "{field}": {json.dumps(value)}') as refusal:
        load_model(folder)
    config_path.write_text(json.dumps({**config, field: value}))
    return str(refusal.value), load_model(folder)


@pytest.mark.parametrize(
    "dims, overrides",
    [
        ({"text": 768, "audio": 5, "vision": 20}, {}),  # MOSI
        ({"text": 768, "audio": 74, "vision": 35}, {}),  # MOSEI
        ({"text": 768, "audio": 33, "vision": 709}, {"score_range": 1.0, "strides": {"vision": 8}}),
    ],
    ids=["mosi", "mosei", "sims"],
)
def test_dataset_dims_build_and_run(dims, overrides):
    model = build_model("firf", dims, **overrides)
    score_range = model.config.score_range
    view_a, view_b = two_views(dims=dims, frames=10, score_range=score_range)
    loss, _ = model.compute_loss(view_a, view_b)
    loss.backward()
    out = model.eval()(view_a)
    assert isinstance(out, ModelOutput)
    assert out.score.shape == (4,) and out.fused.shape == (4, model.config.d_model)
    assert out.logits.shape == (4, model.config.n_bins)
    assert out.score.abs().max() <= score_range


def test_bad_names_options_and_batches_are_input_errors():
    with pytest.raises(InputError, match="unknown model"):
        build_model("firf_xl", DIMS)
    with pytest.raises(InputError, match="no option"):
        build_model("firf", DIMS, use_magic=True)
    with pytest.raises(InputError, match="divisible"):
        build_model("firf", DIMS, d_model=10, n_heads=4)
    with pytest.raises(InputError, match="dropout"):
        build_model("late_fusion", DIMS, dropout=1.5)
    # values of the wrong type (e.g. from a hand-edited config.json) are refused by name
    for wrong_type in ({"d_model": "64"}, {"strides": {"vision": "x"}}, {"n_heads": 2.5}):
        with pytest.raises(InputError, match="positive integers"):
            build_model("firf", DIMS, **wrong_type)
    with pytest.raises(InputError, match="dropout"):
        build_model("firf", DIMS, dropout="0.1")
    model = build("firf").eval()
    wrong = make_batch(dims={**DIMS, "audio": 74})
    with pytest.raises(InputError, match="audio features"):
        model(wrong)
    corrupt = make_batch(drop=0.0)
    corrupt["text"][0, 0, 0] = float("inf")
    with pytest.raises(InputError, match="NaN or infinite"):
        model(corrupt)
    no_label = make_batch()
    del no_label["label"]
    with pytest.raises(InputError, match="label"):
        model.compute_loss(no_label, no_label)


def test_missing_modality_is_recovered_from_the_others():
    """With reconstruction, what stands in for a missing audio track depends on the text and
    vision the sample does have; without it, the missing modality simply drops out."""
    batch = make_batch(drop=0.0)
    batch["audio_mask"] = torch.zeros_like(batch["audio_mask"])
    batch["audio"] = torch.zeros_like(batch["audio"])
    model = build("firf").eval()
    view = model.run(batch)
    other_text = dict(batch, text=batch["text"].flip(0), text_mask=batch["text_mask"].flip(0))
    other_view = model.run(other_text)
    audio = MODALITIES.index("audio")
    assert not torch.allclose(view.recovered["s"][:, audio], other_view.recovered["s"][:, audio])
    assert not view.has_source[:, audio].logical_not().any()

    ablated = build("firf_no_rec").eval()
    assert ablated.run(batch).recovered == {}


def test_factorization_loses_nothing_of_the_encoded_tokens():
    """S_m + P_m is exactly H_m: the heterogeneous factor is the remainder of the synergistic
    one, so factorizing cannot drop what the encoder found (two free encoders did, and cost
    accuracy on every track)."""
    batch = make_batch(drop=0.3)
    model = build("firf").eval()
    with torch.inference_mode():
        view = model.run(batch)
    for m in MODALITIES:
        rebuilt = view.factors["s"][m] + view.factors["p"][m]
        torch.testing.assert_close(rebuilt, view.tokens[m])
        assert not torch.allclose(view.factors["s"][m], view.tokens[m])


def test_noise_factor_cannot_see_what_is_constant_over_a_clip():
    """The noise factor reads frame deviations from the clip mean: shifting every observed
    frame of a clip by one vector (its clip-level content, sentiment included) changes
    nothing in it, while the synergistic and heterogeneous factors do see the shift."""
    batch = make_batch(drop=0.3)
    model = build("firf").eval()
    shifted = dict(batch)
    for m in MODALITIES:
        offset = 3 * torch.randn(batch[m].shape[0], 1, batch[m].shape[-1])
        shifted[m] = batch[m] + offset * batch[f"{m}_mask"].unsqueeze(-1)
    with torch.inference_mode():
        plain, moved = model.run(batch), model.run(shifted)
    for m in MODALITIES:
        torch.testing.assert_close(moved.factors["n"][m], plain.factors["n"][m])
        assert not torch.allclose(moved.factors["s"][m], plain.factors["s"][m])


def test_agreement_is_zero_for_matching_summaries_and_blind_to_absent_ones():
    g = torch.Generator().manual_seed(0)
    shared = torch.randn(64, 1, 8, generator=g)
    scales = torch.tensor([1.0, 2.0, -0.5]).view(1, 3, 1)  # scale is free, sign is not
    present = torch.ones(64, 3)
    same = losses.agreement(shared * scales.abs(), present)
    assert same.item() == pytest.approx(0.0, abs=1e-3)
    flipped = losses.agreement(shared * scales, present)
    independent = losses.agreement(torch.randn(64, 3, 8, generator=g), present)
    assert independent.item() == pytest.approx(2.0, abs=0.4) and flipped > independent
    # Where audio is absent its summary is never compared, whatever it holds.
    garbage = (shared * scales.abs()).clone()
    garbage[:, 1] = torch.randn(64, 8, generator=g)
    only_text_vision = torch.tensor([1.0, 0.0, 1.0]).expand(64, 3)
    assert losses.agreement(garbage, only_text_vision).item() == pytest.approx(0.0, abs=1e-3)


def test_one_way_distillation_only_teaches_from_the_more_complete_view():
    complete, partial = make_batch(drop=0.0), make_batch(drop=0.6)
    for name, complete_learns in (("firf", False), ("firf_twoway", True)):
        model = build(name).train()
        a, b = model.run(complete), model.run(partial)
        a.output.logits.retain_grad()
        b.output.logits.retain_grad()
        kd, _ = distillation_loss(a, b, model.loss_config)
        kd.backward()
        assert b.output.logits.grad.abs().sum() > 0
        assert (a.output.logits.grad.abs().sum() > 0) == complete_learns


def test_recovery_stands_in_only_for_a_wholly_missing_modality():
    """A partly observed modality is read from its own frames; only a missing one is
    reconstructed, so changing the text generator moves the output only without text."""
    from firf.missing import keep_modalities

    model = build("firf").eval()
    partly = make_batch(drop=0.6)
    no_text = keep_modalities(make_batch(drop=0.0), "av")
    before = [outputs(model, batch)[0] for batch in (partly, no_text)]
    with torch.no_grad():
        for parameter in model.recover_from["text"].parameters():
            parameter.add_(0.5)
    after = [outputs(model, batch)[0] for batch in (partly, no_text)]
    has_text = partly["text_mask"].sum(1) > 0
    assert has_text.any() and partly["text_mask"].mean() < 0.9
    assert torch.equal(before[0][has_text], after[0][has_text])
    assert not torch.allclose(before[1], after[1])


def test_a_teacher_reads_view_a_for_distillation_and_is_never_trained():
    """``train_fixed``'s mean teacher: the damaged view is pulled toward the teacher's reading
    of the whole clip; every other label-free term stays the model's own."""
    model = build("firf", dropout=0.0).train()
    views = two_views(drop=0.3)
    _, alone = model.label_free_loss(*views)

    same = copy.deepcopy(model).eval()
    _, with_copy = model.label_free_loss(*views, teacher=same)
    assert with_copy == pytest.approx(alone, rel=1e-4, abs=1e-6)

    torch.manual_seed(1)
    other = build_model("firf", DIMS, **{**SMALL, "dropout": 0.0}).eval()
    loss, with_other = model.label_free_loss(*views, teacher=other)
    for term in ("syn", "het", "rec", "miss"):
        assert with_other[term] == pytest.approx(alone[term], rel=1e-5)
    assert with_other["kd"] != pytest.approx(alone["kd"], rel=1e-3)
    assert with_other["kd_score"] != pytest.approx(alone["kd_score"], rel=1e-3)
    loss.backward()
    assert all(p.grad is None for p in other.parameters())
    assert any(p.grad is not None for p in model.parameters())


def test_distillation_pulls_the_damaged_view_score_toward_the_complete_one():
    """The score is what is evaluated, so the student's score learns the teacher's; one-way,
    only the damaged view moves, and the term is the mean absolute score gap."""
    complete, partial = make_batch(drop=0.0), make_batch(drop=0.6)
    model = build("firf").train()
    a, b = model.run(complete), model.run(partial)
    a.output.score.retain_grad()
    b.output.score.retain_grad()
    _, score = distillation_loss(a, b, model.loss_config)
    teaches = a.coverage.mean(1) > b.coverage.mean(1)
    gap = (a.output.score - b.output.score).abs()
    expected = float((gap * teaches).mean().detach())
    assert teaches.any() and float(score.detach()) == pytest.approx(expected)
    score.backward()
    assert b.output.score.grad[teaches].abs().min() > 0
    assert a.output.score.grad.abs().sum() == 0


@pytest.mark.parametrize(
    ("name", "off"),
    [
        ("firf", set()),
        ("firf_no_rec", {"miss"}),
        ("firf_no_dcsd", {"kd", "kd_score"}),
        ("firf_no_rec_no_dcsd", {"miss", "kd", "kd_score"}),
    ],
)
def test_ablations_switch_off_exactly_their_terms(name, off):
    """What the ablation benchmark compares: each variant loses its mechanism's loss terms
    (and, without reconstruction, its generators) and keeps every other term."""
    model = build(name).train()
    _, logs = model.label_free_loss(*two_views())
    every = {"syn", "het", "rec", "miss", "kd", "kd_score", "loss"}
    assert set(logs) == every - off
    assert hasattr(model, "recover_from") == ("miss" not in off)


def test_firf_with_every_label_free_term_off_still_trains():
    """Switching factorization, reconstruction and distillation all off leaves the task loss."""
    model = build("firf", use_fcf=False, use_reconstruction=False)
    model.loss_config = dataclasses.replace(model.loss_config, lambda_kd=0.0)
    loss, logs = model.train().label_free_loss(*two_views())
    assert float(loss) == 0.0 and logs == {"loss": 0.0}
    task, _ = model.compute_loss(*two_views())
    (task + loss).backward()


@pytest.mark.parametrize("name", ["firf", "late_fusion", "misa"])
def test_a_few_steps_fit_a_learnable_signal(name):
    """The label is readable from every modality; a short training run must cut the error."""
    torch.manual_seed(0)
    view_a, view_b = two_views(batch=16, drop=0.1)
    complete = make_batch(batch=16, drop=0.0)
    label = complete["text"][..., 0].sum(1).clamp(-3, 3)
    for view in (view_a, view_b):
        view["label"] = label
    model = build(name, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    start = (model.eval()(view_a).score - label).abs().mean().item()
    for _ in range(30):
        model.train()
        loss, _ = model.compute_loss(view_a, view_b)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    end = (model.eval()(view_a).score - label).abs().mean().item()
    assert end < 0.5 * start


def test_unimodal_loss_trains_every_head(tmp_path):
    model = build("firf", loss={"lambda_uni": 0.5}).train()
    assert model.loss_config.lambda_uni == 0.5
    view_a, view_b = two_views()
    loss, logs = model.compute_loss(view_a, view_b)
    loss.backward()
    assert torch.isfinite(loss) and logs["uni"] > 0
    for m in MODALITIES:
        grad = model.unimodal_heads[m][1].weight.grad
        assert grad is not None and grad.abs().sum() > 0, f"no gradient reaches the {m} head"
    with pytest.raises(InputError, match="lambda_uni"):
        build("firf", loss={"lambda_uni": 0.0})  # the readout would read untrained heads
    with pytest.raises(InputError, match="non-negative"):
        build("firf", loss={"lambda_kd": -1.0})
    with pytest.raises(InputError, match="no option"):
        build("firf", loss={"lambda_typo": 1.0})


def test_loss_settings_are_not_saved_as_architecture(tmp_path):
    model = build("firf_twoway", loss={"lambda_kd": 0.2}).eval()
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert not [key for key in saved if key.startswith("lambda") or "temperature" in key]
    loaded = load_model(tmp_path)
    assert loaded.loss_config == type(loaded.loss_config)()  # training settings stay behind
    batch = make_batch()
    for got, want in zip(outputs(loaded, batch), outputs(model, batch), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_single_modality_blend_reads_the_one_present_head_only(tmp_path):
    model = build("firf", dropout=0.0).eval()
    complete = make_batch(drop=0.0)
    for i, subset in enumerate("tav"):
        view = model.run(keep_modalities(complete, subset))
        want = (view.fused_score + view.unimodal_scores[:, i]) / 2
        torch.testing.assert_close(view.output.score, want, rtol=0, atol=0)
    for subset in ("ta", "tav"):  # two or more modalities: fusion alone
        view = model.run(keep_modalities(complete, subset))
        torch.testing.assert_close(view.output.score, view.fused_score, rtol=0, atol=0)

    text_only = keep_modalities(complete, "t")
    before = model(text_only).score.clone()
    with torch.no_grad():
        for m in ("audio", "vision"):
            model.unimodal_heads[m][1].weight.normal_(std=10.0)
    torch.testing.assert_close(model(text_only).score, before, rtol=0, atol=0)
    with torch.no_grad():
        model.unimodal_heads["text"][1].weight.normal_(std=10.0)
    after = model(text_only).score
    assert not torch.allclose(after, before) and after.abs().max() < 3.0

    nothing = {k: v * 0 if k.endswith("_mask") else v for k, v in complete.items()}
    view = model.run(nothing)
    torch.testing.assert_close(view.output.score, view.fused_score, rtol=0, atol=0)

    model.save_pretrained(tmp_path)
    loaded = load_model(tmp_path)
    torch.testing.assert_close(loaded(text_only).score, model(text_only).score, rtol=0, atol=0)


def feature_dataset(samples: list[dict], dims: dict[str, int] = DIMS) -> FeatureDataset:
    return FeatureDataset(samples, dims)


def random_clips(count: int, seed: int, dims: dict[str, int] = DIMS) -> list[dict]:
    """Clips of 1-6 frames with some frames lost (mask 0) and some modalities absent."""
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(count):
        clip = {"id": f"c{i}", "label": float(rng.uniform(-3, 3))}
        for m, dim in dims.items():
            frames = 0 if rng.random() < 0.2 else int(rng.integers(1, 7))
            clip[m] = rng.normal(size=(frames, dim)).astype(np.float32)
            clip[f"{m}_mask"] = (rng.random(frames) > 0.3).astype(np.float32)
        clips.append(clip)
    return clips


@pytest.mark.parametrize("name", ["firf", "late_fusion", "misa"])
def test_standardized_inputs_make_each_features_scale_irrelevant(name):
    """Rescaling and shifting any feature dimension, in training data and input alike, leaves
    the outputs unchanged: what Face Mesh coordinates (tiny variation on offsets near 1) and
    Whisper states (a few dims 10x the rest) need so no dimension drowns the others."""
    rng = np.random.default_rng(3)
    scale = {m: 10.0 ** rng.uniform(-3, 2, size=dim) for m, dim in DIMS.items()}
    shift = {m: rng.normal(scale=5, size=dim) for m, dim in DIMS.items()}

    def affine(clip: dict) -> dict:
        return {**clip, **{m: clip[m] * scale[m] + shift[m] for m in DIMS}}

    clips = random_clips(40, seed=4)
    plain = build(name).eval()
    moved = build(name).eval()
    fit_input_statistics(plain, feature_dataset(clips))
    fit_input_statistics(moved, feature_dataset([affine(c) for c in clips]))

    batch = collate(feature_dataset(random_clips(6, seed=5)).samples)
    batch_moved = dict(batch)
    for m in DIMS:  # padding and lost frames move too: they must stay ignored
        batch_moved[m] = batch[m] * torch.tensor(scale[m]).float() + torch.tensor(shift[m]).float()
    for got, want in zip(outputs(moved, batch_moved), outputs(plain, batch), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-3, atol=1e-3)


def test_input_statistics_count_observed_frames_only():
    clips = random_clips(30, seed=6)
    for clip in clips:  # lost frames hold garbage that would swamp the statistics if counted
        clip["audio"][clip["audio_mask"] == 0] = 1e6
        clip["vision"][:, 0] = 2.5  # a constant channel: floored scale, not a division by zero
    dataset = feature_dataset(clips)
    model = build("firf")
    assert fit_input_statistics(model, dataset)
    for m in MODALITIES:
        frames = np.concatenate([c[m][c[f"{m}_mask"] > 0] for c in clips]).astype(np.float64)
        encoder = model.encoders[m]
        np.testing.assert_allclose(encoder.input_mean.numpy(), frames.mean(0), rtol=1e-5)
        expected = np.maximum(frames.std(0), SCALE_FLOOR * np.median(frames.std(0)))
        np.testing.assert_allclose(encoder.input_scale.numpy(), expected, rtol=1e-4)
    assert model.encoders["vision"].input_scale[0] > 0


def test_the_bundled_checkpoint_is_the_recipes_firf_read_as_one():
    """The bundled weights are the rebuild recipe's FIRF (its width and tone readout), one per
    seed of the recipe, so the model card's command trains that layout again."""
    from firf.weights import BUNDLED_WEIGHTS
    from recipes.rebuild_demo_checkpoint import SEEDS, TONE, WIDTH

    shipped = json.loads((BUNDLED_WEIGHTS / "config.json").read_text())
    dims = {m: shipped[f"{m}_dim"] for m in MODALITIES}
    rebuilt = build_model("firf", dims, d_model=WIDTH, audio_probe_from=int(TONE[-1])).config
    rebuilt = dataclasses.asdict(dataclasses.replace(rebuilt, members=len(SEEDS)))
    architecture = {k: v for k, v in shipped.items() if k != "extractor"}
    assert {k: rebuilt[k] for k in architecture} == architecture


def voice_clips(count: int, seed: int, alone: bool = True, tone_sign: float = 1.0) -> list[dict]:
    """Clips whose label's sign shows in audio dim 3 (times ``tone_sign``), dims 0-1 noise;
    ``alone``: audio only, else with text and vision too."""
    rng = np.random.default_rng(seed)
    clips = []
    for i in range(count):
        label = float(rng.choice([-2.0, 2.0]))
        frames = int(rng.integers(2, 6))
        audio = rng.normal(size=(frames, DIMS["audio"])).astype(np.float32)
        audio[:, 3] += tone_sign * np.sign(label)
        clip = {"id": f"v{seed}-{i}", "label": label, "audio": audio}
        for m in ("text", "vision"):
            clip[m] = rng.normal(size=(frames if not alone else 0, DIMS[m])).astype(np.float32)
        clips.append(clip)
    return clips


def test_tone_readout_learns_from_voices_alone_and_travels_with_the_weights(tmp_path):
    """``audio_probe_from``: the fixed readout is fitted on the clips that carry audio alone
    with a clear label (other clips, whose label the words may carry, are ignored even when
    their audio says the opposite), reads only dims from ``probe_from`` on, and is saved
    and loaded with the weights."""
    alone = voice_clips(40, seed=0)
    misleading = voice_clips(60, seed=1, alone=False, tone_sign=-1.0)
    mild = [{**c, "label": -0.5 * c["label"] / 2} for c in voice_clips(30, seed=2)]
    model = build("firf", audio_probe_from=2)
    train_set = feature_dataset(alone + misleading + mild)
    fit_input_statistics(model, train_set)
    assert fit_audio_probe(model, train_set) == 40
    encoder = model.encoders["audio"]
    assert encoder.probe_weight.shape == (DIMS["audio"] - 2,)

    fresh = voice_clips(40, seed=3)
    right = 0
    for clip in fresh:
        frames = torch.from_numpy(clip["audio"])[None]
        mask = torch.ones(frames.shape[:2])
        right += (float(encoder.probe(encoder.standardized(frames, mask)).mean()) > 0) == (
            clip["label"] > 0
        )
    assert right >= 36

    model.eval().save_pretrained(tmp_path)
    loaded = load_model(tmp_path)
    torch.testing.assert_close(loaded.encoders["audio"].probe_weight, encoder.probe_weight)
    batch = collate(feature_dataset(fresh[:6]).samples)
    for got, want in zip(outputs(loaded, batch), outputs(model, batch), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_tone_readout_without_voices_alone_says_what_it_needs():
    model = build("firf", audio_probe_from=2)
    train_set = feature_dataset(voice_clips(20, seed=0, alone=False))
    fit_input_statistics(model, train_set)
    with pytest.raises(InputError, match="audio alone and a clear label"):
        fit_audio_probe(model, train_set)
    plain = build("firf")  # no readout: nothing to fit, and nothing changes
    assert fit_audio_probe(plain, train_set) == 0 and plain.config.audio_probe_from is None
    with pytest.raises(InputError, match="probe_from"):
        build("firf", audio_probe_from=DIMS["audio"])
