"""Seed-level noise: the interval of a median over fine-tuning seeds, of its difference from the paper's own
median, and the smallest difference a run could detect.

The paper's Table 1 figure is the median over 5 seeds of a score on a fixed dev set, and so is ours: what
separates the two is the seed-to-seed spread sigma, on our side for the n valid seeds we ran and on the
paper's side for its k (Claim.paper_seeds; k = 0 for a one-sided claim, which states a bound, not a
measurement). sigma is the run's own sample standard deviation when n >= MIN_OWN_SEEDS, else the cell's
published prior (Claim.seed_spread, with its source); a cell with neither has no seed-level interval, and
the judge then never calls it "not reproduced".

The model: seed values are normal around the cell's true value (invalid runs, which make real spreads
heavy-tailed, are dropped before: harness.measure.finetune.job's Validity). The pivots (median - truth) / scale
and (median - paper - true difference) / scale then have distributions that depend only on n, k and on
whether the scale is a known sigma or the seeds' own s (which is not independent of their median, so no t
table fits): `pivot` calibrates their quantiles once by simulation with a fixed seed. An interval is value
+- quantile x scale; the smallest difference detected with 80% power is margin + (q_diff(0.975) +
q_diff(0.80)) x scale, the margin being the tolerance's half-width on that side.

A value combined from several cells (a macro score, a gap, the retention) adds the cells' seed-level
variances c(n) scale^2 (c(n): the variance of the median of n standard normals) weighted by the
combination's gradient (exact for means and differences, first order for the ratio), and takes Student's t
with the Welch-Satterthwaite degrees of freedom (a cell whose scale is its own seeds' s carries n - 1, a
prior infinitely many). Every function takes arrays (last axis: the seeds) so the simulation tests
(tests/test_verdicts_simulated.py) run thousands of replications through this very code. This module
neither reads predictions (harness.judge.significance) nor decides a verdict (harness.judge.verdict).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np  # scipy is imported where it is used: the plugin loads this module at every pytest start

from harness.spec.registry import SeedSpread

MIN_OWN_SEEDS = 3  # fewer valid seeds than this: the prior, not the run's own spread
LEVEL = 0.95  # every interval
POWER = 0.80  # the smallest detectable difference
CALIBRATION_DRAWS = 400_000  # Monte Carlo error of a calibrated quantile: about 0.2% of its value
CALIBRATION_SEED = 191001108  # the paper's arXiv id: any fixed seed, so the same run gives the same intervals


@dataclass(frozen=True)
class Pivot:
    """Calibrated quantiles for a median of `seeds` values against the paper's median of `paper_seeds`."""

    measurement: float  # P(|median - truth| <= q * scale) = LEVEL
    difference: float  # P(|median - paper - true difference| <= q * scale) = LEVEL
    power: float  # P(median - paper - true difference <= q * scale) = POWER
    median_variance: float  # c(seeds): the variance of the median of `seeds` standard normals


@functools.cache
def pivot(seeds: int, estimated: bool, paper_seeds: int) -> Pivot:
    """The pivots' quantiles, by simulation (CALIBRATION_DRAWS draws, a fixed seed): scale = sigma, or the seeds' s."""
    if seeds < 1 or paper_seeds < 0 or (estimated and seeds < 2):
        raise ValueError(f"no pivot for {seeds} seed(s) (estimated scale: {estimated}) against {paper_seeds}")
    rng = np.random.default_rng([CALIBRATION_SEED, seeds, int(estimated), paper_seeds])
    draws = rng.standard_normal((CALIBRATION_DRAWS, seeds))
    ours = np.median(draws, axis=1)
    theirs = np.median(rng.standard_normal((CALIBRATION_DRAWS, paper_seeds)), axis=1) if paper_seeds else 0.0
    scale = draws.std(axis=1, ddof=1) if estimated else 1.0
    difference = np.abs(ours - theirs) / scale  # symmetric: its |.| quantiles give both tails with half the error
    return Pivot(float(np.quantile(np.abs(ours) / scale, LEVEL)), float(np.quantile(difference, LEVEL)),
                 float(np.quantile(difference, 2 * POWER - 1)), float(np.mean(ours ** 2)))


def median_variance(seeds: int) -> float:
    """c(n): Var(median of n standard normals) (1 for one seed, about 0.449 for 3, 0.287 for 5)."""
    return 1.0 if seeds == 1 else pivot(seeds, False, 0).median_variance


@dataclass(frozen=True)
class SeedNoise:
    """The seed level of one cell (arrays over any leading axes): its median over seeds and the scale of its noise.

    scale is the seeds' own standard deviation (estimated), a published prior, or None (unknown: no interval).
    """

    median: Any
    scale: Any | None
    seeds: int
    estimated: bool
    paper_seeds: int
    source: str

    @property
    def known(self) -> bool:
        return self.scale is not None

    @property
    def degrees_of_freedom(self) -> float:
        return self.seeds - 1 if self.estimated else math.inf

    def _pivot(self) -> Pivot:
        return pivot(self.seeds, self.estimated, self.paper_seeds)

    def interval(self) -> tuple[Any, Any] | None:
        """The LEVEL interval of the cell's true value."""
        if self.scale is None:
            return None
        half = self._pivot().measurement * self.scale
        return self.median - half, self.median + half

    def difference(self, paper: float) -> tuple[Any, Any] | None:
        """The LEVEL interval of (our true value - the paper's true value), the paper's own seeds included."""
        if self.scale is None:
            return None
        half = self._pivot().difference * self.scale
        return self.median - paper - half, self.median - paper + half

    def detectable(self, margin: float) -> Any | None:
        """The smallest true difference beyond the tolerance's margin called "not reproduced" with POWER."""
        if self.scale is None:
            return None
        quantiles = self._pivot()
        return margin + (quantiles.difference + quantiles.power) * self.scale

    def variances(self) -> tuple[Any, Any]:
        """Seed-level variance of our median, and of the paper's (its paper_seeds runs), for combining cells."""
        scale = 0.0 if self.scale is None else self.scale
        paper = median_variance(self.paper_seeds) * scale ** 2 if self.paper_seeds else 0.0 * scale
        return median_variance(self.seeds) * scale ** 2, paper


def seed_noise(values: Any, prior: SeedSpread | None, paper_seeds: int) -> SeedNoise:
    """The seed level of a cell from its valid seeds' values (last axis), with its prior when fewer than 3 are valid."""
    values = np.asarray(values, dtype=float)
    seeds = values.shape[-1]
    if seeds == 0:
        raise ValueError("no valid seed: nothing to measure")
    median = np.median(values, axis=-1)
    if seeds >= MIN_OWN_SEEDS:
        scale = values.std(axis=-1, ddof=1)
        return SeedNoise(median, scale, seeds, True, paper_seeds, f"the spread of the run's {seeds} valid seeds")
    if prior is not None:
        return SeedNoise(median, np.full_like(median, prior.sigma), seeds, False, paper_seeds,
                         f"the published seed spread sigma {prior.sigma:g} ({prior.source}), {seeds} valid "
                         f"seed{'s' if seeds > 1 else ''} run")
    return SeedNoise(median, None, seeds, False, paper_seeds,
                     f"unknown: {seeds} valid seed{'s' if seeds > 1 else ''} (fewer than {MIN_OWN_SEEDS}) and no "
                     "published seed spread for this cell")


@dataclass(frozen=True)
class Combined:
    """The seed level of a value combined from cells: standard errors with their degrees of freedom (None: unknown).

    Ours (the measurement's interval) and ours with the paper's (the difference's) each carry their own
    Welch-Satterthwaite degrees of freedom; an extra level added in quadrature (the paired dev-set
    bootstrap of a comparison of the two models) counts as exact. Arrays broadcast, as in SeedNoise.
    """

    value: Any
    standard_error: Any | None
    difference_error: Any | None
    degrees_of_freedom: Any = math.inf
    difference_degrees_of_freedom: Any = math.inf

    def interval(self) -> tuple[Any, Any] | None:
        from scipy import stats

        if self.standard_error is None:
            return None
        half = stats.t.ppf((1 + LEVEL) / 2, self.degrees_of_freedom) * self.standard_error
        return self.value - half, self.value + half

    def difference(self, paper: float) -> tuple[Any, Any] | None:
        from scipy import stats

        if self.difference_error is None:
            return None
        half = stats.t.ppf((1 + LEVEL) / 2, self.difference_degrees_of_freedom) * self.difference_error
        return self.value - paper - half, self.value - paper + half

    def detectable(self, margin: float) -> Any | None:
        from scipy import stats

        if self.difference_error is None:
            return None
        df = self.difference_degrees_of_freedom
        return margin + (stats.t.ppf((1 + LEVEL) / 2, df) + stats.t.ppf(POWER, df)) * self.difference_error


def _satterthwaite(terms: list[tuple[Any, float]]) -> Any:
    """Degrees of freedom of a sum of variance estimates [(variance, its df)]; terms with infinite df are exact."""
    total = sum(variance for variance, _ in terms)
    spread = sum(np.asarray(variance) ** 2 / df for variance, df in terms if math.isfinite(df))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.asarray(spread) > 0, np.asarray(total) ** 2 / np.where(spread > 0, spread, 1.0), math.inf)


def combine(value: Any, parts: list[SeedNoise], gradient: Any, extra_error: Any = 0.0) -> Combined:
    """The seed level of a combination of cells (gradient: d value / d cell), plus an extra level in quadrature.

    Unknown (None errors) when any cell's seed level is unknown: the combination cannot be called "not
    reproduced" then, whatever the other cells say.
    """
    if any(not part.known for part in parts):
        return Combined(value, None, None)
    ours, both = [(np.square(extra_error), math.inf)], [(np.square(extra_error), math.inf)]
    for part, weight in zip(parts, gradient, strict=True):
        mine, paper = part.variances()
        ours.append((weight ** 2 * mine, part.degrees_of_freedom))
        both.append((weight ** 2 * (mine + paper), part.degrees_of_freedom))  # one estimated scale: one term
    return Combined(value, np.sqrt(sum(v for v, _ in ours)), np.sqrt(sum(v for v, _ in both)),
                    _satterthwaite(ours), _satterthwaite(both))
