"""The benchmark protocol's training schedule, ceilings and its markdown report script."""

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from firf.benchmark.linear import LinearCeilings, pooled_dataset
from firf.benchmark.probes import (
    closeness,
    factor_summaries,
    linear_recovery_closeness,
    probe_factors,
)
from firf.benchmark.protocol import INCOMPLETE, PROTOCOLS, damages, interval, summarize
from firf.benchmark.tracks import get_track
from firf.cli import bench
from firf.evaluate import predict_scores
from firf.missing import keep_modalities
from firf.modalities import MODALITIES
from firf.model import build_model
from firf.train import FixedBudget, train_fixed, warmup_cosine

ROOT = Path(__file__).resolve().parents[1]


def test_warmup_cosine_rises_then_decays_to_zero():
    factors = [warmup_cosine(step, 100, 10) for step in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[10:], factors[11:], strict=False))
    assert factors[-1] < 0.01


def test_train_fixed_uses_the_unlabelled_clips_and_is_repeatable(tiny_synthetic):
    torch.set_num_threads(1)
    data = {"train": tiny_synthetic["train"], "unlabelled": tiny_synthetic["valid"]}

    def fit():
        torch.manual_seed(0)
        model = build_model("firf", tiny_synthetic["train"].dims, d_model=32)
        logs = train_fixed(model, data, FixedBudget(steps=6, batch_size=16))
        return model, logs

    (first, logs), (second, _) = fit(), fit()
    assert "unlabelled_miss" in logs and "unlabelled_kd_score" in logs and "l1_a" in logs
    for a, b in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(a, b)


def test_watching_training_along_the_way_does_not_change_it(tiny_synthetic):
    """``on_step`` sees the EMA model after every step; scoring it there (which draws from the
    global random state) leaves the trained weights exactly as an unwatched run's."""
    torch.set_num_threads(1)
    data = {"train": tiny_synthetic["train"], "unlabelled": tiny_synthetic["valid"]}
    steps_seen = []

    def watch(step, averaged):
        steps_seen.append(step)
        averaged.eval()
        predict_scores(averaged, tiny_synthetic["valid"], 8)
        torch.rand(3)

    def fit(on_step):
        torch.manual_seed(0)
        model = build_model("firf", tiny_synthetic["train"].dims, d_model=32, dropout=0.5)
        train_fixed(model, data, FixedBudget(steps=4, batch_size=16), on_step=on_step)
        return model

    watched, unwatched = fit(watch), fit(None)
    assert steps_seen == [1, 2, 3, 4]
    for a, b in zip(watched.parameters(), unwatched.parameters(), strict=True):
        assert torch.equal(a, b)


def test_unlabelled_clips_teach_their_damaged_view_whole(tiny_synthetic, monkeypatch):
    """Without a label the clip as given is the teacher: view A keeps every frame."""
    data = {"train": tiny_synthetic["train"], "unlabelled": tiny_synthetic["valid"]}
    model = build_model("firf", tiny_synthetic["train"].dims, d_model=32)
    seen, teachers = [], []
    real = model.label_free_loss

    def record(view_a, view_b, teacher):
        seen.append((view_a, view_b))
        teachers.append(teacher)
        return real(view_a, view_b, teacher)

    monkeypatch.setattr(model, "label_free_loss", record)
    train_fixed(model, data, FixedBudget(steps=3, batch_size=16))
    assert len(seen) == 3
    # the teacher is the weight average, not the model being trained, and it reads in eval mode
    assert all(t is not model and not t.training for t in teachers)
    for view_a, view_b in seen:
        lost = 0
        for m in ("text", "audio", "vision"):
            mask_a, mask_b = view_a[f"{m}_mask"], view_b[f"{m}_mask"]
            # every frame inside the clip is observed in A (the clips are complete)
            assert torch.equal(mask_a.sum(1).long(), view_a[f"{m}_lengths"])
            assert (mask_b <= mask_a).all()
            lost += int((mask_a - mask_b).sum())
        assert lost > 0


def test_interval_is_a_t_interval():
    cell = interval([0.1, 0.3])
    assert cell["mean"] == pytest.approx(0.2)
    assert cell["ci95"][0] == pytest.approx(0.2 - 12.706 * 0.1414 / 1.4142, abs=1e-3)


def test_each_incomplete_subset_keeps_its_own_mae_and_f1():
    """Per-subset rows let a reader see which missing pattern a paired difference comes from."""
    labels = np.array([-2.0, -1.0, 1.0, 2.0])
    per_damage = {name: labels.copy() for name in damages()}
    per_damage["inter/av"] = -labels  # every sign wrong where text is missing
    row = summarize(per_damage, labels)
    assert row["inter_av_f1"] == 0.0 and row["inter_av_mae"] == pytest.approx(3.0)
    assert all(row[f"inter_{s}_f1"] == 1.0 for s in INCOMPLETE if s != "av")
    assert row["inter_f1"] == pytest.approx(np.mean([row[f"inter_{s}_f1"] for s in INCOMPLETE]))


def test_each_incomplete_subset_says_whether_its_scores_are_shifted_or_shrunk():
    """Bias and slope tell a model that loses signs by an offset from one that is timid."""
    labels = np.array([-2.0, -1.0, 1.0, 2.0])
    per_damage = {name: labels.copy() for name in damages()}
    per_damage["inter/t"] = labels + 0.5  # shifted up
    per_damage["inter/a"] = 0.25 * labels  # shrunk toward zero
    row = summarize(per_damage, labels)
    assert row["inter_t_bias"] == pytest.approx(0.5) and row["inter_t_slope"] == pytest.approx(1)
    assert row["inter_a_bias"] == pytest.approx(0) and row["inter_a_slope"] == pytest.approx(0.25)
    assert row["inter_v_bias"] == pytest.approx(0) and row["inter_v_slope"] == pytest.approx(1)


def test_pattern_oracle_beats_mean_filling_when_modalities_are_lost(tiny_synthetic):
    ceilings = LinearCeilings(tiny_synthetic["train"])
    test = tiny_synthetic["test"]
    x, present = pooled_dataset(test, lambda b: keep_modalities(b, "t"))
    assert present[:, 0].all() and not present[:, 1:].any()
    preds = ceilings.predict(x, present)
    errors = {k: np.abs(p - test.labels).mean() for k, p in preds.items()}
    assert errors["pattern_oracle"] < errors["ridge"]


def test_slot_closeness_scores_what_fusion_reads_in_both_layouts(tiny_synthetic):
    """Per-factor closeness compares different targets with and without FCF; the slot's does
    not: it is the summed recovery against the summed real factors in both."""
    test = tiny_synthetic["test"]
    dims = {m: test.dims[m] for m in MODALITIES}
    torch.manual_seed(0)
    plain = probe_factors(build_model("firf_no_fcf", dims, d_model=16), test)["text"]
    assert plain["rec_slot_closeness"] == pytest.approx(plain["rec_s_closeness"])
    model = build_model("firf", dims, d_model=16)
    factored = probe_factors(model, test)["text"]
    summaries = factor_summaries(model, test)
    slot = summaries["rec_s"][:, 0] + summaries["rec_p"][:, 0]
    real = summaries["s"][:, 0] + summaries["p"][:, 0]
    assert factored["rec_slot_closeness"] == pytest.approx(closeness(slot, real))
    assert factored["rec_s_closeness"] == pytest.approx(
        closeness(summaries["rec_s"][:, 0], summaries["s"][:, 0])
    )


def test_linear_recovery_closeness_tells_recoverable_from_private_slots():
    """The ceiling a slot's recovery is read against: near 1 where the other modalities
    expose the slot linearly, near 0 where it is private to its modality."""
    rng = np.random.default_rng(0)
    sources = rng.normal(size=(2000, 8))
    exposed = sources @ rng.normal(size=(8, 4))
    private = rng.normal(size=(2000, 4))
    assert linear_recovery_closeness(sources, exposed) > 0.99
    assert abs(linear_recovery_closeness(sources, private)) < 0.05
    half = linear_recovery_closeness(sources, exposed + private * exposed.std() / private.std())
    assert 0.4 < half < 0.6


def test_report_script_writes_one_section_per_track(tmp_path):
    out = tmp_path / "tiny.json"
    command = [sys.executable, "-m", "firf", "bench", "robustness", "--tiny", "--track", "shift"]
    subprocess.run([*command, "--out", str(out)], cwd=ROOT, check=True, capture_output=True)
    markdown = tmp_path / "BENCHMARKS.md"
    markdown.write_text("# Benchmarks\n\nother results\n")
    script = [sys.executable, str(ROOT / "benchmarks" / "robustness_report.py"), str(out)]
    for _ in range(2):
        subprocess.run([*script, "--write", str(markdown)], check=True, capture_output=True)
    text = markdown.read_text()
    assert text.count("### Track `shift`") == 1 and "other results" in text
    assert "firf-late_fusion" in text and "--track shift --tiny" in text
    assert "Paired inter F1 by modalities kept" in text
    assert (
        "Bias / slope of the scores by modalities kept" in text and "| *pattern_oracle* | " in text
    )
    # the oracle's own distance from itself anchors the table of room left to gain
    assert "| *pattern_oracle* | +0.000 | +0.000 | +0.000 | +0.000 | +0.000 | +0.000 |" in text
    assert (tmp_path / "robustness_shift.png").stat().st_size > 1000
    assert json.loads(out.read_text())["raw"][0]["models"]["firf"]["inter_f1"] > 0


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runs_of_the_same_replicates_merge_and_other_runs_are_refused(tmp_path):
    """An ablation run later pairs with the FIRF of an earlier run only if both are provably
    the same replicates; anything else would be a comparison across different data."""
    runs = {}
    for name, track, models in [
        ("first", "shift", "firf,late_fusion"),
        ("later", "shift", "firf_no_rec"),  # without firf: nothing paired yet
        ("other_track", "scarce", "firf,firf_no_rec"),
    ]:
        out = tmp_path / f"{name}.json"
        command = [sys.executable, "-m", "firf", "bench", "robustness", "--tiny", "--threads", "1"]
        command += ["--track", track, "--models", models, "--out", str(out)]
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        runs[name] = json.loads(out.read_text())
    assert runs["later"]["paired"] == {}
    script = load_script("merge_runs")

    merged = script.merge([runs["first"], runs["later"]])
    assert list(merged["models"]) == ["firf", "late_fusion", "firf_no_rec"]
    assert script.close(
        merged["paired"]["firf-late_fusion"], runs["first"]["paired"]["firf-late_fusion"]
    )
    differences = [
        first["models"]["firf"]["inter_mae"] - later["models"]["firf_no_rec"]["inter_mae"]
        for first, later in zip(runs["first"]["raw"], runs["later"]["raw"], strict=True)
    ]
    assert merged["paired"]["firf-firf_no_rec"]["inter_mae"]["mean"] == pytest.approx(
        np.mean(differences)
    )
    with pytest.raises(ValueError, match="track"):
        script.merge([runs["first"], runs["other_track"]])
    with pytest.raises(ValueError, match="nothing to pair"):
        script.merge([runs["later"], runs["later"]])
    tampered = copy.deepcopy(runs["first"])
    tampered["raw"][0]["models"]["firf"]["inter_f1"] += 0.01
    with pytest.raises(ValueError, match="firf scores differ"):
        script.merge([runs["first"], tampered])

    # a run from before the bench stored per-subset F1 still pairs, on the metrics both have
    older = copy.deepcopy(runs["later"])
    for row in older["raw"]:
        for part in (row["ceilings"].values(), row["models"].values()):
            for scores in part:
                for key in [k for k in scores if k.endswith("_f1") and k.count("_") == 2]:
                    del scores[key]
    across = script.merge([runs["first"], older])
    assert "inter_av_f1" in across["models"]["firf"]
    assert "inter_av_f1" in across["ceilings"]["pattern_oracle"]
    assert "inter_av_f1" not in across["paired"]["firf-firf_no_rec"]
    pairs = across["paired"]["firf-firf_no_rec"]
    assert pairs == {k: merged["paired"]["firf-firf_no_rec"][k] for k in pairs}
    # a run made before a variant was renamed reads under the new names, pairs included
    renamed = script.merge(
        [script.rename(runs["first"], {"firf": "firf_split", "late_fusion": "firf"})]
    )
    assert list(renamed["models"]) == ["firf", "firf_split"]
    assert renamed["paired"]["firf-firf_split"]["inter_mae"]["mean"] == pytest.approx(
        -runs["first"]["paired"]["firf-late_fusion"]["inter_mae"]["mean"]
    )
    assert "read with firf as firf_split" in renamed["command"]
    assert script.parse_renames_in(["runs/a.json:firf=firf_old", "runs/a.json:x=y"]) == {
        Path("runs/a.json"): {"firf": "firf_old", "x": "y"}
    }
    with pytest.raises(SystemExit, match="RUN.json:OLD=NEW"):
        script.parse_renames_in(["firf=firf_old"])


def test_cached_replicates_are_keyed_by_the_package_source(tmp_path, monkeypatch):
    """``bench --ray`` reads finished replicates back from its cache; after an edit to the model
    code a stale result would be a silent wrong answer, so the source is part of every key."""
    package = tmp_path / "package"
    (package / "model").mkdir(parents=True)
    (package / "model" / "firf.py").write_text("width = 32\n")
    (package / "notes.txt").write_text("not code")
    before = bench.source_hash(package)
    (package / "notes.txt").write_text("edited, still not code")
    assert bench.source_hash(package) == before
    (package / "model" / "firf.py").write_text("width = 64\n")
    assert bench.source_hash(package) != before

    settings = (get_track("scarce"), PROTOCOLS["quick"], ("firf",), True, "test")
    keys = bench.replicate_keys(*settings)
    assert len(keys) == 2 and keys == bench.replicate_keys(*settings)
    monkeypatch.setattr(bench, "source_hash", lambda: "edited-code")
    assert set(keys).isdisjoint(bench.replicate_keys(*settings))
