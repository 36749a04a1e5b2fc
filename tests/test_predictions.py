"""Stored predictions and the validity of a run, on hand-built predictions: no model, milliseconds.

What a job keeps (harness.measure.finetune.predictions) and whether its run is a measurement at all
(harness.measure.finetune.validity); a tiny model driven to collapse is in tests/test_rescore.py.
"""

import json
import math
import re

import numpy as np
import pytest

from harness.errors import ClaimsError
from harness.measure.finetune import predictions as stored
from harness.measure.finetune.predictions import SplitPredictions, metrics_of
from harness.measure.finetune.validity import judge
from harness.spec.tasks import get_task

# ---------------------------------------------------------------- what is kept


def test_predictions_round_trip_through_their_file(tmp_path):
    splits = {"validation": SplitPredictions([3, 7], [1, 0], [1, 1], [[-0.5, 0.25], [0.125, 1.5]]),
              "squad": SplitPredictions(["q1", "q2"], [["Paris", "paris"], ["1990"]], ["Paris", ""])}
    stored.write(tmp_path / "predictions.json", splits)
    assert stored.read(tmp_path / "predictions.json") == splits
    assert not list(tmp_path.glob(".*.tmp")), "the atomic write left a temporary file"


def test_values_that_are_not_finite_are_kept_as_null(tmp_path):
    splits = {"validation": SplitPredictions([0, 1], [2.5, 4.0], [math.nan, 1.0])}
    stored.write(tmp_path / "p.json", splits)
    assert json.loads((tmp_path / "p.json").read_text())["splits"]["validation"]["predicted"] == [None, 1.0]
    assert stored.read(tmp_path / "p.json")["validation"].predicted == [None, 1.0]


def test_predictions_of_unequal_lengths_are_refused():
    with pytest.raises(ClaimsError, match="3 ids, 2 references"):
        SplitPredictions([0, 1, 2], [1, 0], [1, 0, 1])
    with pytest.raises(ClaimsError, match="1 logit rows"):
        SplitPredictions([0, 1], [1, 0], [1, 0], [[0.0, 1.0]])


@pytest.mark.parametrize("content", ["not json", '{"schema_version": 99, "splits": {}}', '{"schema_version": 1}'])
def test_a_damaged_predictions_file_is_one_clear_error(tmp_path, content):
    (tmp_path / "p.json").write_text(content)
    with pytest.raises(ClaimsError, match=r"stored predictions .*p\.json cannot be read"):
        stored.read(tmp_path / "p.json")


def test_metrics_come_from_the_stored_predictions():
    mrpc = SplitPredictions([0, 1, 2, 3], [1, 1, 0, 0], [1, 0, 0, 0])
    assert metrics_of(get_task("mrpc"), mrpc) == pytest.approx({"accuracy": 75.0, "f1": 100 * 2 / 3, "combined_score": (75 + 200 / 3) / 2})
    constant = SplitPredictions([0, 1, 2], [1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    assert metrics_of(get_task("stsb"), constant)["pearson"] is None, "an undefined correlation is None, never a number"


# ---------------------------------------------------------------- is the run a measurement at all?


def classification(references, predicted):
    return SplitPredictions(list(range(len(references))), list(references), list(predicted))


GOLD = [1, 1, 1, 0, 0, 0, 1, 0, 1, 1]  # 6 of 10 positive: the majority-class rate is 60%


@pytest.mark.parametrize(("task", "predicted", "reason"), [
    ("sst2", [1] * 10, "predicts one class \\(positive\\) for all 10 examples"),
    ("sst2", [0, 1, 1, 0, 0, 1, 0, 1, 0, 1], "accuracy 50.00 is at or below the majority-class rate 60.00"),
    ("cola", [0, 0, 0, 1, 1, 1, 0, 1, 0, 0], "MCC -100.00 <= 0"),
    ("mrpc", [1] * 10, "F1 75.00 equals that of predicting one class"),
    ("mrpc", [0] * 10, "F1 0.00 equals that of predicting one class"),
])
def test_a_run_no_better_than_a_constant_predictor_is_invalid(task, predicted, reason):
    validity = judge(get_task(task), classification(GOLD, predicted))
    assert not validity.valid
    assert validity.reason.startswith("no better than a constant predictor on validation")
    assert re.search(reason, validity.reason), validity.reason


def test_a_run_that_beats_the_constant_predictors_is_valid():
    predicted = list(GOLD)
    predicted[0] = 0  # 90% against the majority's 60%
    validity = judge(get_task("mrpc"), classification(GOLD, predicted))
    assert validity.valid and "accuracy 90.00 > majority-class rate 60.00" in validity.reason


def test_a_loss_that_went_nan_makes_any_run_invalid():
    validity = judge(get_task("sst2"), classification(GOLD, GOLD), nonfinite_loss_step=40)
    assert not validity.valid and "NaN" in validity.reason and "step 40" in validity.reason


@pytest.mark.parametrize(("predicted", "valid", "reason"), [
    ([2.0, 2.0, 2.0, 2.0], False, "a correlation is undefined"),
    ([None, 1.0, 2.0, 3.0], False, "1 predictions are not finite"),
    ([4.0, 3.0, 2.0, 1.0], False, "Pearson -100.00 <= 0"),
    ([1.1, 1.9, 3.2, 3.8], True, "Pearson"),
])
def test_stsb_validity_follows_the_correlation(predicted, valid, reason):
    validity = judge(get_task("stsb"), SplitPredictions([0, 1, 2, 3], [1.0, 2.0, 3.0, 4.0], predicted))
    assert validity.valid is valid and reason in validity.reason


def test_squad_no_better_than_answering_nothing_is_invalid():
    gold = [["Paris"], ["in 1990", "1990"], ["the Seine"]]
    nothing = judge(get_task("squad"), SplitPredictions(["a", "b", "c"], gold, ["", "", ""]))
    assert not nothing.valid and "no better than answering nothing (0.00)" in nothing.reason
    some = judge(get_task("squad"), SplitPredictions(["a", "b", "c"], gold, ["Paris", "", "river"]))
    assert some.valid


def test_wnli_is_exempt_from_the_constant_rule_but_not_from_nan():
    constant = classification([0, 0, 1, 0, 1, 0, 0], [0] * 7)
    exempt = judge(get_task("wnli"), constant)
    assert exempt.valid and "exempt" in exempt.reason and "predicts one class" in exempt.reason
    assert not judge(get_task("wnli"), constant, nonfinite_loss_step=2).valid


def test_validity_is_decided_on_the_paper_split():
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, 300).tolist()
    assert judge(get_task("mnli"), classification(gold, gold)).reason.endswith(
        "MCC 100.00 > 0"), "MNLI is judged on its paper split, validation_matched"
    assert "validation_matched" in judge(get_task("mnli"), classification(gold, gold)).reason
