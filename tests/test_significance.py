"""The dev-set bootstrap, the paired comparisons and the speed ratio's interval (harness.judge.significance), and a
measurement's uncertainty assembled from hand-built cells (harness.judge.uncertainty)."""

import numpy as np
import pytest
from scipy import stats

from harness.judge import significance, uncertainty
from harness.judge.verdict import Status, judge
from harness.measure import metrics
from harness.measure.finetune.predictions import SplitPredictions
from harness.measure.measurement import Cell, Combination, Measurement, SeedRun
from harness.spec import registry as registry_module
from harness.spec.tasks import get_task

REGISTRY = registry_module.load()
RNG = np.random.default_rng(7)


def classification(gold: np.ndarray, accuracy: float, rng=RNG) -> SplitPredictions:
    """Predictions of a binary task right on about `accuracy` of the examples."""
    right = rng.random(gold.size) < accuracy
    predicted = np.where(right, gold, 1 - gold)
    return SplitPredictions(list(range(gold.size)), gold.tolist(), predicted.tolist())


# ---------------------------------------------------------------- the metrics rebuilt from per-example statistics


@pytest.mark.parametrize("task", ["cola", "mrpc", "qqp", "mnli", "stsb", "squad"])
def test_the_whole_sample_gives_exactly_the_metrics_of_harness_measure_metrics(task):
    spec = get_task(task)
    n = 200
    if spec.kind == "regression":
        gold = RNG.uniform(0, 5, n)
        predictions = SplitPredictions(list(range(n)), gold.tolist(), (gold + RNG.normal(0, 1, n)).tolist())
    elif spec.kind == "extractive_qa":
        golds = [[f"answer {i}", f"the answer {i}"] for i in range(n)]
        guesses = [f"answer {i}" if i % 3 else f"answer {i} extra" for i in range(n)]
        predictions = SplitPredictions([f"q{i}" for i in range(n)], golds, guesses)
    else:
        gold = RNG.integers(0, spec.num_labels, n)
        predicted = np.where(RNG.random(n) < 0.7, gold, RNG.integers(0, spec.num_labels, n))
        predictions = SplitPredictions(list(range(n)), gold.tolist(), predicted.tolist())
    expected = metrics.compute(spec, predictions.predicted, predictions.references)
    for metric in [*spec.paper_metrics, *(["spearmanr", "combined_score"] if spec.kind == "regression" else [])]:
        sums = significance.example_statistics(spec, metric, predictions).sum(axis=0)
        assert significance.metric_from_sums(spec, metric, sums, np.float64(n)) == pytest.approx(expected[metric]), metric


def test_the_bootstrap_sd_of_an_accuracy_is_the_binomial_one():
    spec, gold = get_task("sst2"), RNG.integers(0, 2, 872)
    predictions = classification(gold, 0.9)
    accuracy = np.mean(np.array(predictions.predicted) == gold)
    [replicates] = significance.replicates(spec, "accuracy", [[predictions]])
    assert replicates.std() == pytest.approx(100 * np.sqrt(accuracy * (1 - accuracy) / gold.size), rel=0.1)
    [again] = significance.replicates(spec, "accuracy", [[predictions]])
    assert np.array_equal(replicates, again), "a fixed seed per task: the same predictions give the same interval"


def test_paired_resamples_cancel_what_two_models_share():
    spec, gold = get_task("sst2"), RNG.integers(0, 2, 872)
    first = classification(gold, 0.9)
    shuffled = SplitPredictions(first.example_ids[::-1], first.references[::-1], first.predicted[::-1])
    a, b = significance.replicates(spec, "accuracy", [[first], [shuffled]])
    assert np.array_equal(a, b), "the same predictions in another order: aligned by example id, identical resamples"
    other = classification(gold, 0.9, np.random.default_rng(1))
    a, c = significance.replicates(spec, "accuracy", [[first], [other]])
    paired, unpaired = np.std(a - c), np.hypot(np.std(a), np.std(c))
    assert paired < unpaired
    with pytest.raises(significance.NoPredictions, match="same examples"):
        significance.replicates(spec, "accuracy", [[first], [SplitPredictions([0, 1], [0, 1], [0, 1])]])


def test_mcnemar_is_the_exact_binomial_test_on_the_discordant_examples():
    spec = get_task("sst2")
    gold = np.zeros(100, dtype=int)
    first = SplitPredictions(list(range(100)), gold.tolist(), [0] * 90 + [1] * 10)  # wrong on 90..99
    second = SplitPredictions(list(range(100)), gold.tolist(), [1] * 12 + [0] * 78 + [1] * 8 + [0] * 2)
    result = significance.mcnemar(spec, first, second, [42, 42])
    assert (result.first_only, result.second_only, result.examples) == (12, 2, 100)
    assert result.p_value == pytest.approx(stats.binomtest(12, 14, 0.5).pvalue)
    assert significance.mcnemar(spec, first, first, [42, 42]).p_value == 1.0


# ---------------------------------------------------------------- a measurement's uncertainty, assembled


def cell(role, task, values, accuracy, invalid=(), metric="accuracy", gold=None):
    gold = RNG.integers(0, 2, 500) if gold is None else gold
    runs = [SeedRun(42 + i, True) for i in range(len(values))] + [SeedRun(60 + i, False, reason) for i, reason in
                                                                    enumerate(invalid)]
    predictions = tuple(classification(gold, accuracy, np.random.default_rng(i)) for i in range(len(values)))
    return Cell(role, task, metric, tuple(values), tuple(runs), predictions)


def test_a_gap_gets_the_paired_bootstrap_mcnemar_and_its_seeds():
    gold = RNG.integers(0, 2, 500)
    claim = REGISTRY.get("downstream.imdb.gap")
    cells = (cell("bert", "imdb", [93.0, 93.4, 93.2], 0.93, gold=gold),
             cell("distilbert", "imdb", [92.5, 92.9, 92.6], 0.92, invalid=["no better than a constant predictor"], gold=gold))
    measurement = Measurement(0.6, {}, "gap", cells, Combination("difference", ((0,), (1,))))
    found = uncertainty.assess(claim, measurement, REGISTRY)
    assert found.complete and found.interval[0] < 0.6 < found.interval[1]
    assert found.seeds["valid"] == 6 and found.seeds["invalid"] == 1
    assert found.difference == pytest.approx((found.interval[0] - 0.64, found.interval[1] - 0.64)), "one-sided: no paper seeds"
    imdb = found.comparisons["tasks"]["imdb"]
    assert [test["seeds"] for test in imdb["mcnemar"]] == [[42, 42], [43, 43], [44, 44]]
    assert "interval" in imdb["paired_bootstrap"] and "sd" in found.dev_set
    assert "paired bootstrap" in found.source
    verdict = judge(claim, 0.6, found)  # inside "at most 0.64 + 0.5", but 3 seeds of a gap cannot show it (TOST)
    assert verdict.status is Status.INCONCLUSIVE and "consistent with the paper" in verdict.message
    assert "1 invalid" in verdict.message


def test_a_cell_without_predictions_says_so_and_keeps_its_seed_level():
    claim = REGISTRY.get("glue.rte.distilbert")
    bare = Cell("distilbert", "rte", "accuracy", (59.0,), (SeedRun(42, True),))
    found = uncertainty.assess(claim, Measurement(59.0, {}, "", (bare,)), REGISTRY)
    assert found.dev_set == {"unavailable": "no stored per-example predictions for every valid seed"}
    assert found.complete and "3.5" in found.source


def test_a_macro_score_with_a_cell_of_unknown_noise_is_never_not_reproduced():
    claim = REGISTRY.get("macro.bert")
    cells = tuple(Cell("bert", task, "accuracy", (10.0,), (SeedRun(42, True),)) for task in ("cola", "qnli"))
    found = uncertainty.assess(claim, Measurement(10.0, {}, "", cells, Combination("mean", ((0, 1),))), REGISTRY)
    assert not found.complete and found.interval is None
    assert judge(claim, 10.0, found).status is Status.INCONCLUSIVE
