"""MMSA-compatible metrics against small cases worked out by hand."""

import math

import numpy as np
import pytest
import torch

from firf.errors import InputError
from firf.metrics import (
    acc2_non0,
    balanced_accuracy,
    paired_bootstrap,
    regression_metrics,
    weighted_f1,
)

# Worked example (MOSI scale). Per-sample notes in the comments of each test.
PREDS = [-1.5, 0.5, 2.4, -0.2, 0.0]
LABELS = [-2.0, 1.0, 3.0, 0.0, -0.4]


def test_mosi_metrics_by_hand():
    m = regression_metrics(PREDS, LABELS, dataset="mosi")
    # has0: labels >= 0 -> F T T T F, preds >= 0 -> F T T F T: samples 0, 1, 2 agree.
    assert m["acc2_has0"] == pytest.approx(3 / 5)
    # class T (support 3): precision 2/3, recall 2/3; class F (support 2): 1/2, 1/2.
    assert m["f1_has0"] == pytest.approx((3 * 2 / 3 + 2 * 1 / 2) / 5)
    # non0 drops sample 3 (label 0); a prediction of exactly 0 counts as negative.
    assert m["acc2_non0"] == pytest.approx(1.0)
    assert m["f1_non0"] == pytest.approx(1.0)
    # acc7 rounds -1.5 to -2 (half to even, like numpy/MMSA); 2.4 -> 2 misses label 3.
    # classes: preds -2 0 2 0 0, labels -2 1 3 0 0 -> 3 of 5.
    assert m["acc7"] == pytest.approx(3 / 5)
    # acc5 clips both to 2 first: preds -2 0 2 0 0, labels -2 1 2 0 0 -> 4 of 5.
    assert m["acc5"] == pytest.approx(4 / 5)
    assert m["mae"] == pytest.approx((0.5 + 0.5 + 0.6 + 0.2 + 0.4) / 5)
    # deviations from the means 0.24 and 0.32, summed by hand.
    assert m["corr"] == pytest.approx(10.316 / math.sqrt(8.012 * 13.648))


def test_weighted_f1_with_a_class_never_predicted():
    # everything predicted positive: positive F1 2/3 (support 2), negative F1 0 (support 2).
    truth = np.array([True, True, False, False])
    preds = np.array([True, True, True, True])
    assert weighted_f1(preds, truth) == pytest.approx((2 * 2 / 3) / 4)
    m = regression_metrics([1, 1, 1, 1], [1, 2, -1, -2])
    assert m["acc2_non0"] == pytest.approx(0.5)
    assert m["f1_non0"] == pytest.approx(1 / 3)


def test_constant_predictions_give_zero_corr_not_nan():
    m = regression_metrics([0.3, 0.3, 0.3], [-1.0, 0.5, 2.0])
    assert m["corr"] == 0.0
    assert all(math.isfinite(v) for v in m.values())


def test_perfect_predictions_and_tensor_input():
    labels = torch.tensor([-2.2, -0.4, 0.6, 1.8, 3.0])
    m = regression_metrics(labels.clone(), labels)
    assert m["mae"] == 0.0 and m["corr"] == pytest.approx(1.0)
    assert m["acc7"] == m["acc5"] == m["acc2_non0"] == m["f1_has0"] == 1.0


def test_sims_metrics_by_hand():
    preds = [-0.8, -0.05, 0.3, 1.5, 0.0]  # 1.5 is clipped to 1.0
    labels = [-0.9, 0.2, 0.1, 0.8, -0.1]
    m = regression_metrics(preds, labels, dataset="sims")
    assert set(m) == {"acc2", "acc3", "acc5", "f1", "mae", "corr"}
    # 2 classes (-1.01, 0], (0, 1.01]: preds 0 0 1 1 0, labels 0 1 1 1 0.
    assert m["acc2"] == pytest.approx(4 / 5)
    # 3 classes edges -0.1, 0.1 (right-closed): preds 0 1 2 2 1, labels 0 2 1 2 0.
    assert m["acc3"] == pytest.approx(2 / 5)
    # 5 classes edges -0.7, -0.1, 0.1, 0.7: preds 0 2 3 4 2, labels 0 3 2 4 1.
    assert m["acc5"] == pytest.approx(2 / 5)
    # class 0: P 2/3 R 1 -> 0.8; class 1: P 1 R 2/3 -> 0.8.
    assert m["f1"] == pytest.approx(0.8)
    assert m["mae"] == pytest.approx((0.1 + 0.25 + 0.2 + 0.2 + 0.1) / 5)


@pytest.mark.parametrize(
    ("preds", "labels", "dataset", "fragment"),
    [
        ([1.0], [1.0, 2.0], "mosi", "pair up"),
        ([], [], "mosi", "empty"),
        ([float("nan")], [1.0], "mosi", "NaN"),
        ([1.0], [1.0], "imdb", "unknown dataset"),
    ],
)
def test_bad_input_is_an_input_error(preds, labels, dataset, fragment):
    with pytest.raises(InputError, match=fragment):
        regression_metrics(preds, labels, dataset=dataset)


def test_paired_bootstrap_brackets_the_difference_of_two_models_on_the_same_items():
    rng = np.random.default_rng(0)
    labels = rng.choice([-2.0, -1.0, 1.0, 2.0], size=400)
    probe = np.where(rng.random(400) < 0.7, labels, -labels)  # right on about 70 %
    same = paired_bootstrap(acc2_non0, probe, probe, labels, draws=200)
    assert same["difference"] == same["low"] == same["high"] == 0.0
    fixed = probe.copy()  # the same answers, plus 40 of the wrong ones put right
    wrong = np.flatnonzero(np.sign(probe) != np.sign(labels))[:40]
    fixed[wrong] = labels[wrong]
    better = paired_bootstrap(acc2_non0, fixed, probe, labels, draws=500)
    assert better["difference"] == pytest.approx(40 / 400)
    assert 0 < better["low"] < better["difference"] < better["high"]
    assert better["a"] == pytest.approx(acc2_non0(fixed, labels))
    assert better == paired_bootstrap(acc2_non0, fixed, probe, labels, draws=500)  # seeded
    with pytest.raises(InputError, match="one length"):
        paired_bootstrap(acc2_non0, fixed, probe[:-1], labels)


def test_balanced_accuracy_weighs_both_classes_equally():
    labels = np.array([1.0] * 10 + [-1.0] * 30)
    all_negative = -np.ones(40)
    assert balanced_accuracy(all_negative, labels) == pytest.approx(0.5)
    assert balanced_accuracy(labels, labels) == 1.0
    assert balanced_accuracy(-np.ones(3), -np.ones(3)) == 1.0  # one class only: its recall
