"""The paper's estimator: a cell's median counts its failed runs, half or more failed is an error, and a failed run a
further seed replaced (--rerun-invalid) leaves the median, which the claim's noise then reads (harness.measure.
measurement.Cell, harness.judge.uncertainty). The rates this gives under failed runs are tests/test_verdicts_simulated.py's.
"""

import math

import pytest

from harness.judge import uncertainty
from harness.judge.verdict import Status, judge
from harness.measure.measurement import Cell, Combination, Measurement, SeedRun
from harness.spec import registry as registry_module

REGISTRY = registry_module.load()


def rte(runs: list[SeedRun]) -> Cell:
    values = tuple(run.value for run in runs if run.valid)
    return Cell("bert", "rte", "accuracy", values, tuple(runs), (), "bert-base-uncased", "paper")


def test_the_median_counts_failed_runs_below_the_valid_ones():
    cell = rte([SeedRun(42, True, None, 70.0), SeedRun(43, False, "constant", 52.7), SeedRun(44, True, None, 68.0),
                SeedRun(45, False, "NaN loss", None), SeedRun(46, True, None, 71.0)])
    assert cell.median == 68.0  # 71, 70, 68 | 52.7, failed: the third of five
    assert [run.seed for run in cell.counted] == [42, 43, 44, 45, 46]


def test_a_replaced_failed_run_leaves_the_median():
    cell = rte([SeedRun(42, True, None, 70.0), SeedRun(43, False, "constant", 52.7, replaced=True),
                SeedRun(44, True, None, 68.0), SeedRun(45, True, None, 69.0)])
    assert cell.median == 69.0 and [run.seed for run in cell.counted] == [42, 44, 45]


def test_runs_recorded_without_values_take_the_valid_values_in_order():
    cell = Cell("bert", "rte", "accuracy", (70.0, 68.0), (SeedRun(42, True), SeedRun(43, False, "x"), SeedRun(44, True)))
    assert [run.value for run in cell.counted] == [70.0, None, 68.0] and cell.median == 68.0
    assert Cell("bert", "rte", "accuracy", (1.0, 3.0), ()).median == 2.0  # bare values: every one a valid run


def test_the_judge_reads_failed_runs_and_the_prior_weight_from_the_cell():
    claim = REGISTRY.get("glue.rte.bert")
    runs = [SeedRun(42, True, None, 70.0), SeedRun(43, False, "constant", 52.7), SeedRun(44, True, None, 68.0),
            SeedRun(45, True, None, 71.0), SeedRun(46, True, None, 69.0)]
    found = uncertainty.assess(claim, Measurement(69.0, {}, "", (rte(runs),)), REGISTRY)
    assert found.seeds["valid"] == 4 and found.seeds["invalid"] == 1 and found.equivalence is not None
    assert "4 degrees of freedom" in found.source and "pooled with the spread of the run's 4 valid seeds" in found.source
    elsewhere = Cell("bert", "rte", "accuracy", (70.0, 68.0, 71.0, 69.0), tuple(runs), (), "roberta-base", "paper")
    weak = uncertainty.assess(claim, Measurement(69.0, {}, "", (elsewhere,)), REGISTRY)
    assert "counted at 0.25" in weak.source and "1 degree of freedom" in weak.source


def test_half_failed_cells_are_no_measurement_for_the_judge():
    claim = REGISTRY.get("glue.rte.bert")
    runs = [SeedRun(42, True, None, 70.0), SeedRun(43, False, "constant", 52.7)]
    found = uncertainty.assess(claim, Measurement(61.35, {}, "", (rte(runs),)), REGISTRY)
    assert not found.complete and found.interval is None and "half or more" in found.source
    assert judge(claim, 61.35, found).status is Status.INCONCLUSIVE


def test_an_open_interval_reads_back_from_results_json():
    claim = REGISTRY.get("glue.rte.bert")
    found = uncertainty.default(claim, 69.3)
    assert math.isinf(found.interval[1]) and math.isinf(found.equivalence[1])
    again = uncertainty.Uncertainty.from_json(found.to_json())
    assert again == found
    assert uncertainty.Uncertainty.from_json({"interval": [math.nan, 1.0], "complete": True}).interval is None


@pytest.mark.parametrize("kind", ["mean", "ratio"])
def test_a_combination_of_one_run_cells_is_open_on_the_side_their_weights_carry(kind):
    cells = tuple(rte([SeedRun(42, True, None, value)]) for value in (70.0, 60.0))
    claim = REGISTRY.get("macro.bert" if kind == "mean" else "retention.with_wnli")
    combination = Combination(kind, ((0, 1),) if kind == "mean" else ((1,), (0,)))
    found = uncertainty.assess(claim, Measurement(float(combination.value([70.0, 60.0])), {}, "", cells, combination), REGISTRY)
    assert math.isinf(found.interval[1]) and (math.isinf(found.interval[0]) == (kind == "ratio"))
