"""The seed level (harness.judge.noise): calibrated pivots, where the scale comes from, and combining cells."""

import math

import numpy as np
import pytest

from harness.judge import noise
from harness.spec.registry import SeedSpread

PRIOR = SeedSpread(2.0, "test")


def test_calibrated_pivots_match_the_known_cases():
    one = noise.pivot(1, False, 0)
    assert one.measurement == pytest.approx(1.96, abs=0.01) and one.power == pytest.approx(0.8416, abs=0.01)
    assert noise.median_variance(1) == 1.0
    assert noise.median_variance(3) == pytest.approx(0.449, abs=0.005)  # Var(median of 3 normals)
    assert noise.median_variance(5) == pytest.approx(0.287, abs=0.005)
    # one seed against the paper's median of 5: the difference's sd is sqrt(1 + 0.287)
    assert noise.pivot(1, False, 5).difference == pytest.approx(1.96 * math.sqrt(1.287), abs=0.02)
    # an estimated scale costs width: wider than the known-sigma pivot, narrower than a t(2) on the mean's scale
    assert noise.pivot(3, False, 5).difference < noise.pivot(3, True, 5).difference


def test_the_scale_comes_from_the_seeds_from_three_on_else_the_prior_else_nowhere():
    own = noise.seed_noise([70.0, 72.0, 74.0], PRIOR, 5)
    assert own.estimated and own.scale == pytest.approx(2.0) and "3 valid seeds" in own.source
    prior = noise.seed_noise([70.0, 74.0], PRIOR, 5)
    assert not prior.estimated and prior.scale == 2.0 and prior.median == 72.0 and "test" in prior.source
    unknown = noise.seed_noise([70.0, 74.0], None, 5)
    assert not unknown.known and unknown.interval() is None and unknown.detectable(1.0) is None
    with pytest.raises(ValueError):
        noise.seed_noise([], PRIOR, 5)


def test_seed_noise_is_vectorised_over_replications():
    values = np.random.default_rng(0).normal(size=(7, 3))
    together = noise.seed_noise(values, None, 5).interval()
    one_by_one = [noise.seed_noise(row, None, 5).interval() for row in values]
    assert np.allclose(together[0], [low for low, _ in one_by_one]) and np.allclose(together[1], [h for _, h in one_by_one])


def test_combining_cells_weights_their_variances_and_counts_degrees_of_freedom():
    estimated = [noise.seed_noise([1.0, 2.0, 3.0], None, 5) for _ in range(2)]
    combined = noise.combine(2.0, estimated, np.array([0.5, 0.5]))
    mine = noise.median_variance(3) * 1.0  # s = 1 for 1, 2, 3
    assert combined.standard_error == pytest.approx(math.sqrt(2 * 0.25 * mine))
    assert combined.degrees_of_freedom == pytest.approx(4.0)  # two equal terms with 2 df each
    priors = noise.combine(2.0, [noise.seed_noise([2.0], PRIOR, 5)] * 2, np.array([1.0, -1.0]), extra_error=0.5)
    assert math.isinf(priors.degrees_of_freedom)
    assert priors.standard_error == pytest.approx(math.sqrt(2 * 4.0 + 0.25))
    assert priors.difference_error == pytest.approx(math.sqrt(2 * 4.0 * (1 + noise.median_variance(5)) + 0.25), rel=1e-3)
    assert noise.combine(2.0, [estimated[0], noise.seed_noise([2.0], None, 5)], np.array([1.0, 1.0])).interval() is None


@pytest.mark.parametrize(("spread", "field", "problem"), [
    ({"sigma": 1.0}, "seed_spread.source", "say where the spread was published"),
    ({"sigma": 0, "source": "a paper"}, "seed_spread.sigma", "positive"),
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
    assert parse_claim(tmp_path / "r.yaml", 0, row | {"seed_spread": {"sigma": 1.5, "source": "x"}}).seed_spread == \
        SeedSpread(1.5, "x")
