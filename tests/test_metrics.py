"""Tests of harness.metrics: hand-worked cases, SQuAD's official normalization, hypothesis properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import ClaimsError
from harness.measure import metrics
from harness.measure.metrics import compute, normalize_answer, paper_cell, squad_exact_match, squad_f1
from harness.spec.tasks import get_task

labels = st.lists(st.integers(0, 1), min_size=2, max_size=60)


# ------------------------------------------------------------------------------- hand-worked cases
def test_mrpc_accuracy_f1_and_combined_score():
    # refs 1 0 0 1 1 / preds 1 1 0 0 1: TP 2, FP 1, FN 1, TN 1 -> acc 3/5, F1 = 2*2 / (2*2 + 1 + 1) = 2/3
    values = compute(get_task("mrpc"), [1, 1, 0, 0, 1], [1, 0, 0, 1, 1])
    assert values == pytest.approx({"accuracy": 60.0, "f1": 200 / 3, "combined_score": (60 + 200 / 3) / 2})


def test_cola_matthews_correlation():
    # refs 1 0 0 0 / preds 1 1 0 0: TP 1, TN 2, FP 1, FN 0 -> (1*2 - 1*0) / sqrt(2 * 1 * 3 * 2) = 2 / sqrt(12)
    assert compute(get_task("cola"), [1, 1, 0, 0], [1, 0, 0, 0]) == pytest.approx({"matthews_correlation": 100 * 2 / math.sqrt(12)})


def test_stsb_pearson_and_spearman():
    # x = 1 2 3, y = 1 2 5: cov 4, |dx| sqrt(2), |dy| sqrt(78)/3 -> r = 12 / sqrt(156); ranks agree -> rho = 1
    values = compute(get_task("stsb"), [1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    assert values["pearson"] == pytest.approx(100 * 12 / math.sqrt(156))
    assert values["spearmanr"] == pytest.approx(100.0)
    assert values["combined_score"] == pytest.approx((values["pearson"] + 100) / 2)


def test_regression_accepts_a_column_of_predictions():
    assert compute(get_task("stsb"), [[1.0], [2.0], [3.0]], [1, 2, 3])["pearson"] == pytest.approx(100.0)


def test_mnli_accuracy_from_logits():
    logits = np.array([[3.0, 0.1, 0.2], [0.0, 2.0, 1.0], [0.0, 0.5, 0.4], [1.0, 0.0, 5.0]])  # argmax 0 1 1 2
    assert compute(get_task("mnli"), logits, [0, 1, 2, 2]) == {"accuracy": 75.0}


def test_qqp_reports_what_its_cell_needs():
    values = compute(get_task("qqp"), [1, 0, 1, 0], [1, 0, 0, 0])
    assert set(values) == {"accuracy", "f1", "combined_score"}
    assert paper_cell(get_task("qqp"), values) == values["combined_score"]


def test_paper_cell_for_squad_has_two_cells():
    values = {"exact_match": 80.0, "f1": 88.0}
    assert paper_cell(get_task("squad"), values) == 80.0
    assert paper_cell(get_task("squad"), values, "f1") == 88.0
    with pytest.raises(ClaimsError, match="fills no cell"):
        paper_cell(get_task("mrpc"), {"accuracy": 1.0, "f1": 2.0}, "accuracy")


@pytest.mark.parametrize("task, predictions, references, expected", [
    ("sst2", [1, 0], [1], r"2 predictions for 1 references"),
    ("sst2", [], [], r"no examples"),
    ("rte", [0, 1], [-1, -1], r"reference labels \[-1\]"),
    ("squad", {"a": "x"}, ["x"], r"both be \{id: ...\} mappings or both lists"),
    ("squad", {"a": "x"}, {"b": ["x"]}, r"no prediction for 1 question"),
])
def test_misuse_is_a_claims_error(task, predictions, references, expected):
    with pytest.raises(ClaimsError, match=expected):
        compute(get_task(task), predictions, references)


# -------------------------------------------------------------------------------------- SQuAD
@pytest.mark.parametrize("text, normalized", [
    ("The Denver Broncos!", "denver broncos"),
    ("an apple, a pear and THE plum.", "apple pear and plum"),
    ("  Santa   Clara,\tCalifornia ", "santa clara california"),
    ("theatre", "theatre"),  # articles only as whole words
    ("1,000", "1000"),
    ("Levi's Stadium", "levis stadium"),
    ("“curly” quotes", "“curly” quotes"),  # string.punctuation is ASCII only, as in the official script
])
def test_official_normalization(text, normalized):
    assert normalize_answer(text) == normalized


def test_squad_em_and_f1_by_hand():
    assert squad_exact_match("the cat", "Cat.") == 1.0
    # "cat sat on mat" vs "the cat sat": common {cat, sat} -> precision 2/4, recall 2/2, F1 2/3
    assert squad_f1("cat sat on mat", "the cat sat") == pytest.approx(2 / 3)
    assert squad_f1("", "") == 0.0 and squad_exact_match("", "") == 1.0  # v1.1's script: no shared token, F1 0
    # the maximum over the gold answers, then the mean over questions
    values = compute(get_task("squad"), {"q1": "Denver Broncos", "q2": "in 1931"},
                     {"q1": ["Broncos", "Denver Broncos"], "q2": {"text": ["1931"], "answer_start": [0]}})
    assert values == pytest.approx({"exact_match": 50.0, "f1": (100 + 100 * 2 * 0.5 * 1 / 1.5) / 2})


def test_squad_accepts_aligned_lists():
    assert compute(get_task("squad"), ["Paris", "x"], [["paris"], ["y"]]) == {"exact_match": 50.0, "f1": 50.0}


def test_squad_scores_each_question_by_its_best_gold_answer():
    scores = metrics.squad_scores(["Denver Broncos", "in 1931", "x"], [["Broncos", "Denver Broncos"], ["1931"], []])
    assert scores == {"exact_match": [1.0, 0.0, 0.0], "f1": [1.0, pytest.approx(2 / 3), 0.0]}, "no gold answer: 0"


@given(labels, labels)
def test_the_one_metric_functions_are_compute_s_fractions(gold, predicted):
    predicted = (predicted * len(gold))[: len(gold)]
    values = compute(get_task("mrpc"), predicted, gold) | compute(get_task("cola"), predicted, gold)
    pairs = [(metrics.accuracy, "accuracy"), (metrics.f1, "f1"), (metrics.matthews_correlation, "matthews_correlation")]
    for function, name in pairs:
        assert 100 * function(np.asarray(predicted), np.asarray(gold)) == values[name]


# ---------------------------------------------------------------------------------- properties
@given(labels)
def test_perfect_predictions_score_the_maximum(gold):
    values = compute(get_task("mrpc"), gold, gold)
    assert values["accuracy"] == 100.0
    assert values["f1"] == (100.0 if 1 in gold else 0.0)  # no positive class: F1 undefined, reported 0
    if len(set(gold)) == 2:
        assert compute(get_task("cola"), gold, gold)["matthews_correlation"] == pytest.approx(100.0)


@given(labels, st.integers(0, 1))
def test_constant_predictions_have_zero_mcc(gold, constant):
    assert compute(get_task("cola"), [constant] * len(gold), gold)["matthews_correlation"] == 0.0


@given(labels, labels)
def test_classification_metrics_are_bounded(gold, predicted):
    predicted = (predicted * len(gold))[: len(gold)]
    values = compute(get_task("mrpc"), predicted, gold)
    assert 0 <= values["accuracy"] <= 100 and 0 <= values["f1"] <= 100
    assert min(values["accuracy"], values["f1"]) <= values["combined_score"] <= max(values["accuracy"], values["f1"])
    assert -100 <= compute(get_task("cola"), predicted, gold)["matthews_correlation"] <= 100


@given(labels)
def test_inverted_binary_predictions_give_mcc_minus_100(gold):
    if len(set(gold)) == 2:
        assert compute(get_task("cola"), [1 - g for g in gold], gold)["matthews_correlation"] == pytest.approx(-100.0)


scores = st.lists(st.integers(0, 50).map(lambda tenths: tenths / 10), min_size=3, max_size=40)  # STS-B's 0.0-5.0 grid


@given(scores, st.floats(0.1, 10), st.floats(-3, 3))
def test_correlations_are_bounded_and_invariant_to_scaling(gold, scale, shift):
    if len(set(gold)) < 2:
        return  # a constant reference has no correlation (nan)
    predicted = [scale * g + shift for g in gold]
    values = compute(get_task("stsb"), predicted, gold)
    assert values["pearson"] == pytest.approx(100.0, abs=1e-6)
    assert values["spearmanr"] == pytest.approx(100.0, abs=1e-6)
    reversed_values = compute(get_task("stsb"), list(reversed(gold)), gold)
    assert -100 - 1e-9 <= reversed_values["pearson"] <= 100 + 1e-9


def test_constant_regression_predictions_are_nan_not_a_number():
    assert math.isnan(compute(get_task("stsb"), [2.0, 2.0, 2.0], [1.0, 2.0, 3.0])["pearson"])


answers = st.text(alphabet=st.sampled_from(list("abc xyz.,!THE")), min_size=0, max_size=20)


@settings(max_examples=200)
@given(st.lists(st.tuples(answers, st.lists(answers, min_size=1, max_size=3)), min_size=1, max_size=10))
def test_squad_scores_are_bounded_and_f1_at_least_em(pairs):
    predictions = [p for p, _ in pairs]
    golds = [g for _, g in pairs]
    values = compute(get_task("squad"), predictions, golds)
    assert 0 <= values["exact_match"] <= 100 and 0 <= values["f1"] <= 100
    for prediction, gold in pairs:
        best_em = max(squad_exact_match(prediction, g) for g in gold)
        best_f1 = max(squad_f1(prediction, g) for g in gold)
        assert best_f1 >= best_em or normalize_answer(prediction) == ""
    perfect = compute(get_task("squad"), [g[0] for g in golds], golds)
    assert perfect["exact_match"] == 100.0


@given(answers)
def test_normalization_is_idempotent(text):
    assert normalize_answer(normalize_answer(text)) == normalize_answer(text)
