"""Training, robustness evaluation and their CLIs, end to end on tiny synthetic data."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from firf.cli import main
from firf.data.shards import ShardWriter, load_shards
from firf.data.synthetic import generator_hash
from firf.errors import InputError
from firf.evaluate import evaluate, evaluate_robustness, format_report, predict_scores
from firf.modalities import MODALITIES, SUBSETS
from firf.model import build_model, load_model
from firf.model.standardize import feature_statistics
from firf.train import TrainConfig, train

RATE_KEYS = ["0.0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7", "0.8", "0.9", "1.0"]
METRICS = {"acc2_has0", "f1_has0", "acc2_non0", "f1_non0", "acc5", "acc7", "mae", "corr"}


@pytest.fixture(autouse=True)
def one_thread():
    """Small models run fastest on one thread, most of all on a shared machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def fit(name, data, epochs, seed=0, out_dir=None, ema_decay=0.0):
    torch.manual_seed(seed)
    model = build_model(name, data["train"].dims, d_model=32)
    cfg = TrainConfig(epochs=epochs, batch_size=16, seed=seed, progress=False, ema_decay=ema_decay)
    return model, train(model, data, cfg, out_dir=out_dir)


@pytest.fixture(scope="module")
def trained(tiny_synthetic):
    torch.set_num_threads(1)
    return fit("firf", tiny_synthetic, epochs=6)


def test_trained_model_beats_predicting_the_mean(trained, tiny_synthetic):
    model, result = trained
    valid = tiny_synthetic["valid"]
    mean_mae = np.abs(valid.labels - tiny_synthetic["train"].labels.mean()).mean()
    assert result.best_valid["mae"] < 0.9 * mean_mae
    assert evaluate(model, valid)["mae"] == pytest.approx(result.best_valid["mae"], abs=1e-5)
    assert 1 <= result.best_epoch <= len(result.history) <= 6
    assert result.samples_per_s > 0 and result.device == "cpu"


def test_robustness_report_has_every_rate_and_subset(trained, tiny_synthetic):
    model, _ = trained
    test = tiny_synthetic["test"]
    report = evaluate_robustness(model, test)
    assert list(report["intra"]) == RATE_KEYS and list(report["inter"]) == list(SUBSETS)
    for row in report["intra"].values():
        assert set(row) >= METRICS and {f"{m}_std" for m in METRICS} <= set(row)
    for row in report["inter"].values():
        assert set(row) >= METRICS
    complete = evaluate(model, test)
    for m in METRICS:  # nothing dropped means the plain evaluation, for every seed
        assert report["intra"]["0.0"][m] == pytest.approx(complete[m], abs=1e-6)
        assert report["intra"]["0.0"][f"{m}_std"] == pytest.approx(0.0, abs=1e-9)
        assert report["inter"]["tav"][m] == pytest.approx(complete[m], abs=1e-6)
    assert report["intra"]["0.5"]["mae_std"] > 0  # different seeds drop different frames
    assert report["intra"]["0.9"]["mae"] > complete["mae"]
    table = format_report(report)
    assert "0.5" in table and "tav" in table and "±" in table


def test_training_is_deterministic_with_a_seed(tiny_synthetic):
    first, _ = fit("firf", tiny_synthetic, epochs=1, seed=3)
    second, _ = fit("firf", tiny_synthetic, epochs=1, seed=3)
    other, _ = fit("firf", tiny_synthetic, epochs=1, seed=4)
    valid = tiny_synthetic["valid"]
    np.testing.assert_array_equal(predict_scores(first, valid), predict_scores(second, valid))
    assert not np.array_equal(predict_scores(first, valid), predict_scores(other, valid))


def test_weight_average_is_what_gets_selected_and_kept(tiny_synthetic):
    raw, _ = fit("firf", tiny_synthetic, epochs=2, seed=5)
    averaged, result = fit("firf", tiny_synthetic, epochs=2, seed=5, ema_decay=0.9)
    valid = tiny_synthetic["valid"]
    # the same training run, but the returned weights are the average, and they are the ones
    # whose validation score chose the epoch
    assert not np.allclose(predict_scores(raw, valid), predict_scores(averaged, valid))
    assert evaluate(averaged, valid)["mae"] == pytest.approx(result.best_valid["mae"], abs=1e-5)
    with pytest.raises(InputError, match="ema_decay"):
        TrainConfig(ema_decay=1.0)


def test_checkpoint_and_log_round_trip(tiny_synthetic, tmp_path):
    model, result = fit("late_fusion", tiny_synthetic, epochs=2, out_dir=tmp_path)
    log = json.loads((tmp_path / "train_log.json").read_text())
    assert log["result"]["best_epoch"] == result.best_epoch
    assert log["train_config"]["missing"]["complete_fraction"] == 0.2
    loaded = load_model(tmp_path)
    valid = tiny_synthetic["valid"]
    np.testing.assert_allclose(predict_scores(loaded, valid), predict_scores(model, valid))


def test_training_needs_a_valid_split(tiny_synthetic):
    model = build_model("late_fusion", tiny_synthetic["train"].dims, d_model=32)
    with pytest.raises(InputError, match="'valid'"):
        train(model, {"train": tiny_synthetic["train"]}, TrainConfig(epochs=1, progress=False))


@pytest.fixture(scope="module")
def shard_dir(tiny_synthetic, tmp_path_factory):
    """The tiny benchmark written as feature shards, the way `firf extract` stores a corpus."""
    directory = tmp_path_factory.mktemp("shards")
    writer = ShardWriter(directory, tiny_synthetic["train"].dims, {"name": "synthetic"})
    parts = {
        "train": tiny_synthetic["train"].samples[:48],
        "valid": tiny_synthetic["valid"].samples[:48],
        "select": tiny_synthetic["test"].samples[:48],
    }
    for split, samples in parts.items():
        for sample in samples:
            arrays = {m: sample[m] for m in ("text", "audio", "vision")}
            writer.add(sample["id"], arrays, sample["label"], split)
    return directory


def test_cli_train_then_evaluate_json(shard_dir, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        ["train", "--shards", str(shard_dir), "--model", "late_fusion", "--out", str(out)]
        + ["--epochs", "2", "--d-model", "32", "--no-progress"]
    )
    assert code == 0 and (out / "model.safetensors").is_file()
    assert "valid split at the selected epoch" in capsys.readouterr().out
    assert load_model(out).config.extractor == {"name": "synthetic"}

    code = main(
        ["evaluate", "--checkpoint", str(out), "--shards", str(shard_dir), "--split", "valid"]
        + ["--json"]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report) == ["intra", "inter"]
    assert list(report["intra"]) == RATE_KEYS and list(report["inter"]) == list(SUBSETS)
    assert set(report["inter"]["ta"]) >= METRICS

    code = main(
        ["evaluate", "--checkpoint", str(out), "--shards", str(shard_dir), "--split", "test"]
    )
    assert code == 2 and "no clips in split 'test'" in capsys.readouterr().err


def test_cli_selects_on_the_named_split(shard_dir, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--shards", str(shard_dir), "--model", "late_fusion", "--out", str(out)]
    args += ["--epochs", "2", "--d-model", "32", "--no-progress", "--ema-decay", "0.9"]
    assert main([*args, "--select-split", "select"]) == 0
    assert "select split at the selected epoch" in capsys.readouterr().out
    log = json.loads((out / "train_log.json").read_text())
    select = load_shards(shard_dir, "select")
    assert evaluate(load_model(out), select)["mae"] == pytest.approx(
        log["result"]["best_valid"]["mae"], abs=1e-5
    )
    assert log["train_config"]["ema_decay"] == 0.9
    assert main([*args, "--select-split", "tuning"]) == 2
    assert "no clips in split 'tuning'" in capsys.readouterr().err


def test_cli_firf_options_reach_the_saved_config(shard_dir, tmp_path):
    out = tmp_path / "run"
    args = ["train", "--shards", str(shard_dir), "--model", "firf", "--out", str(out)]
    args += ["--epochs", "1", "--d-model", "16", "--no-progress", "--dropout", "0.25"]
    args += ["--loss", "lambda_uni=0.5", "--loss", "kd_bidirectional=true"]
    assert main(args) == 0
    model = load_model(out)
    assert model.config.d_model == 16 and model.config.dropout == 0.25
    # Loss settings are training settings: in the run's log, not the checkpoint's config.
    log = json.loads((out / "train_log.json").read_text())
    assert log["loss_config"]["lambda_uni"] == 0.5
    assert log["loss_config"]["kd_bidirectional"] is True
    assert "lambda_uni" not in json.loads((out / "config.json").read_text())
    assert main([*args, "--loss", "lambda_uni=lots"]) == 2
    # Standardisation is fitted on the training split and travels with the weights.
    train_set = load_shards(shard_dir, "train")
    for m in MODALITIES:
        mean, scale = feature_statistics(train_set, m)
        torch.testing.assert_close(model.encoders[m].input_mean, torch.from_numpy(mean).float())
        torch.testing.assert_close(model.encoders[m].input_scale, torch.from_numpy(scale).float())


def test_cli_evaluate_refuses_mismatched_features(shard_dir, tmp_path, capsys):
    model = build_model("late_fusion", {"text": 7, "audio": 5, "vision": 8}, d_model=32)
    model.save_pretrained(tmp_path)
    code = main(
        ["evaluate", "--checkpoint", str(tmp_path), "--shards", str(shard_dir), "--split", "valid"]
    )
    assert code == 2
    assert "expects feature dims" in capsys.readouterr().err


def test_bench_tiny_json_follows_the_output_contract(capsys):
    code = main(["bench", "robustness", "--track", "scarce", "--tiny", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["track"] == "scarce" and result["replicates"] == 2
    assert result["generator_hash"] == generator_hash()
    assert set(result["models"]) == {"firf", "late_fusion", "firf_no_rec"}
    for row in result["models"].values():
        assert {"intra_f1", "inter_f1", "inter_mae", "intra_mae"} <= set(row)
    assert set(result["paired"]) == {"firf-late_fusion", "firf-firf_no_rec"}
    for metric in ("inter_f1", "inter_mae", "intra_f1"):
        cell = result["paired"]["firf-late_fusion"][metric]
        low, high = cell["ci95"]
        assert low <= cell["mean"] <= high
        gap = result["models"]["firf"][metric] - result["models"]["late_fusion"][metric]
        assert cell["mean"] == pytest.approx(gap)
    probes = result["probes"]["firf"]
    assert set(probes) == set(MODALITIES)
    expected = {"syn_label_r2", "het_label_r2", "noise_label_r2", "syn_shared_r2"}
    assert expected | {"syn_private_r2", "het_private_r2"} <= set(probes["text"])
    assert set(result["ceilings"]) == {"ridge", "reconstruct_ridge", "pattern_oracle"}


def test_cli_train_on_an_mmsa_pickle_keeps_the_sims_scale(mmsa_pickle, tmp_path, capsys):
    path = mmsa_pickle(aligned=False, dims=(768, 33, 709), sizes=(12, 6, 6))
    out = tmp_path / "sims"
    code = main(
        ["train", "--data", str(path), "--model", "late_fusion", "--out", str(out)]
        + ["--epochs", "1", "--d-model", "32", "--no-progress"]
    )
    assert code == 0
    assert "acc3" in capsys.readouterr().out  # the SIMS metric set
    assert load_model(out).config.score_range == 1.0


def test_cli_fixed_budget_keeps_the_final_weights_and_scores_select(shard_dir, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--shards", str(shard_dir), "--model", "late_fusion", "--out", str(out)]
    args += ["--steps", "12", "--d-model", "32", "--select-split", "select"]
    assert main(args) == 0
    assert "select split, final weights" in capsys.readouterr().out
    log = json.loads((out / "train_log.json").read_text())
    assert log["budget"]["steps"] == 12 and log["budget"]["ema_decay"] == 0.995
    select = load_shards(shard_dir, "select")
    assert evaluate(load_model(out), select)["mae"] == pytest.approx(
        log["select"]["complete"]["mae"], abs=1e-5
    )
    again = tmp_path / "again"
    assert main([*args[:6], str(again), *args[7:]]) == 0
    first, second = load_model(out).state_dict(), load_model(again).state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)  # same seed, same weights


def tuned_shards(source: Path, directory: Path, layers: bytes) -> Path:
    """A copy of ``source`` whose text features claim tuned layers with this file's digest."""
    import hashlib

    from firf.weights import TEXT_LAYERS_FILE

    shutil.copytree(source, directory)
    meta_path = directory / "meta.json"
    meta = json.loads(meta_path.read_text())
    digest = hashlib.sha256(layers).hexdigest()[:16]
    meta["signature"] = {m: {"name": m, "dim": d} for m, d in meta["dims"].items()}
    meta["signature"]["text"]["tuned_layers"] = digest
    meta_path.write_text(json.dumps(meta))
    (directory / TEXT_LAYERS_FILE).write_bytes(layers)
    return directory


def test_cli_train_carries_the_shards_tuned_text_layers(shard_dir, tmp_path, capsys):
    from firf.weights import TEXT_LAYERS_FILE

    shards = tuned_shards(shard_dir, tmp_path / "shards", b"tuned layers, as bytes")
    out = tmp_path / "run"
    args = ["train", "--shards", str(shards), "--model", "late_fusion", "--out", str(out)]
    args += ["--steps", "2", "--d-model", "16"]
    assert main(args) == 0
    assert (out / TEXT_LAYERS_FILE).read_bytes() == b"tuned layers, as bytes"
    (shards / TEXT_LAYERS_FILE).write_bytes(b"other layers")  # not what the features came from
    assert main([*args[:6], str(tmp_path / "refused"), *args[7:]]) == 2
    assert "not the text layers the shards were extracted with" in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()
