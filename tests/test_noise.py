"""The seed level (harness.judge.noise): calibrated pivots, the pooled scale and its floor, failed runs, combining cells.

Hand-worked against independent arithmetic (scipy's chi-square and normal quantiles, the variance of a median of
normals); the verdicts' error rates under truths the intervals do not assume are tests/test_verdicts_simulated.py's.
"""

import math

import numpy as np
import pytest
from scipy import stats

from harness.judge import noise
from harness.spec.registry import SeedSpread

PRIOR = SeedSpread(2.0, "test", 5)
GUARD = math.sqrt(4 / stats.chi2.ppf(0.025, 4))  # 2.87: the upper end of the 95% range of a sigma from 5 seeds


def test_the_guard_is_the_upper_end_of_a_five_seed_sigmas_range():
    assert noise.guard(4) == pytest.approx(GUARD) and GUARD == pytest.approx(2.87, abs=0.01)
    assert noise.guard(0) == 1.0 and noise.guard(1) > noise.guard(2) > noise.guard(4)


def test_one_run_with_a_prior_is_a_normal_pivot_at_the_guarded_sigma():
    one = noise.pivot(1, 1, 4.0, 5)
    c5 = float(np.mean(np.median(np.random.default_rng(1).standard_normal((200_000, 5)), axis=1) ** 2))  # Var(median of 5)
    assert c5 == pytest.approx(0.287, abs=0.005)
    assert one.measurement == pytest.approx(1.96 * GUARD, rel=0.01)
    assert one.difference == pytest.approx(1.96 * GUARD * math.sqrt(1 + c5), rel=0.01)
    assert one.equivalence == pytest.approx(1.645 * GUARD * math.sqrt(1 + c5), rel=0.01)
    # at sigma = the prior (the typical case) the difference is found 80% of the time margin + detect x sigma out
    assert one.detect == pytest.approx(1.96 * GUARD * math.sqrt(1 + c5) + 0.8416 * math.sqrt(1 + c5), rel=0.01)


def test_own_seeds_without_a_prior_give_the_exact_pivot_and_more_seeds_narrow_it():
    three, five = noise.pivot(3, 3, 0.0, 5), noise.pivot(5, 5, 0.0, 5)
    assert five.difference < three.difference
    with pytest.raises(ValueError):
        noise.pivot(1, 1, 0.0, 5)  # one seed and no prior: no scale at all


def test_a_failed_run_ranks_lowest_in_the_pivot():
    # 5 runs with one failed: the median is the 2nd lowest of 4 valid values, which spreads more than a median of 5
    assert noise.pivot(5, 4, 0.0, 5).measurement > noise.pivot(4, 4, 0.0, 5).measurement * 0.9
    assert noise.pivot(5, 4, 4.0, 5).difference != noise.pivot(5, 5, 4.0, 5).difference


def test_the_scale_pools_the_prior_with_the_runs_own_seeds():
    spread = noise.seed_noise([70.0, 72.0, 74.0], PRIOR, 5)  # s = 2, sigma_p = 2: pooled 2 over 4 + 2 df
    assert spread.scale == pytest.approx(2.0) and spread.prior_degrees == 4.0 and "pooled with" in spread.source
    agreeing = noise.seed_noise([72.0, 72.0, 72.0], PRIOR, 5)  # three seeds that agree: the prior keeps a floor
    assert agreeing.scale == pytest.approx(2.0 * math.sqrt(4 / 6))
    assert noise.seed_noise([72.0, 72.0, 72.0], None, 5).scale == 0.0  # no prior: nothing but the floor below
    floored = noise.seed_noise([43.66, 43.66, 43.66], None, 5, floor=0.5 * 5.9)  # WNLI: half its dev set's sd
    assert floored.scale == pytest.approx(2.95) and floored.interval()[1] - floored.interval()[0] > 10


def test_the_scale_comes_from_the_prior_alone_for_one_seed_and_is_unknown_without_one():
    alone = noise.seed_noise([70.0], PRIOR, 5)
    assert alone.scale == 2.0 and alone.median == 70.0 and alone.open_above
    low, high = alone.interval()
    assert low == pytest.approx(70.0 - 1.96 * GUARD * 2.0, rel=0.01) and math.isinf(high)
    unknown = noise.seed_noise([70.0, 74.0], None, 5)
    assert not unknown.known and unknown.interval() is None and unknown.detectable(1.0) is None
    with pytest.raises(ValueError):
        noise.seed_noise(np.empty((0,)), PRIOR, 5)


def test_the_median_counts_every_run_and_half_failed_is_an_error():
    values, valid = [60.0, 52.7, 70.0, float("nan"), 71.0], [True, False, True, False, True]
    counted = noise.seed_noise(values, PRIOR, 5, valid=valid)
    assert counted.median == 60.0 and counted.valid == 3 and not counted.error  # 71, 70, 60 above the two failed
    assert noise.seed_noise([60.0, float("nan")], PRIOR, 5, valid=[True, False]).error  # half failed: no measurement
    assert noise.seed_noise([52.7], PRIOR, 5, valid=[False]).error
    assert not noise.seed_noise([60.0, 61.0, 52.7], PRIOR, 5, valid=[True, True, False]).error


def test_the_prior_counts_less_off_its_checkpoints_and_protocol():
    assert noise.prior_weight("bert", "bert-base-uncased", "paper") == (1.0, "")
    assert noise.prior_weight("distilbert", "distilbert-base-uncased", "seed-study")[0] == noise.OFF_PROTOCOL_WEIGHT
    weight, why = noise.prior_weight("bert", "/models/roberta", "paper")
    assert weight == noise.OFF_CHECKPOINT_WEIGHT and "bert-base-uncased" in why
    weak = noise.seed_noise([70.0], PRIOR, 5, weight=weight)
    assert weak.prior_degrees == 1.0 and weak.interval()[0] < noise.seed_noise([70.0], PRIOR, 5).interval()[0]


def test_seed_noise_is_vectorised_over_replications():
    values = np.random.default_rng(0).normal(size=(7, 3))
    together = noise.seed_noise(values, None, 5).interval()
    one_by_one = [noise.seed_noise(row, None, 5).interval() for row in values]
    assert np.allclose(together[0], [low for low, _ in one_by_one]) and np.allclose(together[1], [h for _, h in one_by_one])


def test_combining_cells_adds_their_normal_equivalent_errors():
    parts = [noise.seed_noise([1.0, 2.0, 3.0], None, 5) for _ in range(2)]
    combined = noise.combine(2.0, parts, np.array([0.5, 0.5]))
    pivot = noise.pivot(3, 3, 0.0, 5)
    assert combined.difference_error == pytest.approx(math.sqrt(2 * 0.25) * pivot.difference / 1.959964)
    assert combined.equivalence_error == pytest.approx(math.sqrt(2 * 0.25) * pivot.equivalence / 1.644854)
    one_run = noise.combine(0.0, [noise.seed_noise([2.0], PRIOR, 5)] * 2, np.array([1.0, -1.0]), extra_error=0.5)
    assert one_run.open_above and one_run.open_below  # a lone run may be near-failed: either side can move far
    assert noise.combine(2.0, [parts[0], noise.seed_noise([2.0], None, 5)], np.array([1.0, 1.0])).interval() is None


@pytest.mark.parametrize(("spread", "field", "problem"), [
    ({"sigma": 1.0, "seeds": 5}, "seed_spread.source", "say where the spread was published"),
    ({"sigma": 0, "source": "a paper", "seeds": 5}, "seed_spread.sigma", "positive"),
    ({"sigma": 1.0, "source": "a paper", "n": 5}, "seed_spread.n", "unknown key"),
])
def test_a_prior_without_its_source_or_with_a_bad_sigma_is_refused(tmp_path, spread, field, problem):
    from harness.errors import ClaimsError
    from harness.spec.registry import parse_claim

    row = {"id": "glue.sst2.bert", "version": 1, "family": "glue", "statement": "s", "source": "Table 1", "task": "sst2",
           "model": "bert", "metric_reason": "r", "marker": "slow", "paper_value": 92.7, "tolerance_reason": "r",
           "tolerance": {"kind": "absolute", "value": 1.0}, "seed_spread": spread}
    with pytest.raises(ClaimsError, match=f"field '{field}'.*{problem}"):
        parse_claim(tmp_path / "registry.yaml", 0, row)
