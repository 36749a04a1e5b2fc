"""Seed-level noise: the intervals of a median over fine-tuning runs, of its difference from the paper's own median,
the equivalence interval that "reproduced" needs, and the smallest difference a run could detect.

The estimator is the paper's: the median over every run of a cell, failed runs counted (their value, or below every
value where they have none); where half or more of the runs failed the median rests on a failed run and the cell
is an error, not a measurement (`SeedNoise.error`). The scale S of the noise pools two sources of evidence:
  - the cell's published spread sigma_p (Claim.seed_spread), measured from k seeds: k - 1 degrees of freedom,
    times its weight (1 on the checkpoints and protocol it was measured for, less elsewhere: `prior_weight`);
  - the run's own valid seeds: their sample variance s^2, n_valid - 1 degrees of freedom;
  S^2 = (nu_0 sigma_p^2 + nu_1 s^2) / (nu_0 + nu_1): the posterior scale of a normal model whose prior on sigma^2 is
  the published spread's own sampling distribution (scaled inverse chi-square). So no interval is narrower than the
  prior allows, and the run's own seeds add to it rather than replacing it. A cell with no prior needs 3 valid
  seeds (MIN_OWN_SEEDS), else its noise is unknown. Where the dev set's sampling sd is known (stored
  predictions), S is at least FLOOR_SHARE of it.
The prior's sigma is itself uncertain: sigma may lie anywhere in its 95% range (0.6x to 2.87x sigma_p for k = 5).
The pivots (median - truth) / S and (median - paper's median - true difference) / S are calibrated by
simulation (`pivot`) at the upper end of that range (`guard`), the worst case, so an interval holds for every
sigma in the range; with no prior they are exact for any sigma. One run alone may be a near-failed run
(10-20% of fine-tuning runs barely beat the majority class: Mosbach et al. 2021, Dodge et al. 2020), far below
its model's true value: its intervals are open above, so one run is never "not reproduced" below the paper.

A value combined from cells (a macro score, a gap, the retention) adds each cell's half-widths, turned into normal
standard errors, weighted by the combination's gradient, in quadrature (`combine`). Every function takes arrays
(last axis: the runs) so the simulations (harness.judge.simulate) run thousands of replications through this code.
This module neither reads predictions (harness.judge.significance) nor decides a verdict (harness.judge.verdict).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np  # scipy is imported where it is used: the plugin loads this module at every pytest start

from harness.spec.registry import SeedSpread

MIN_OWN_SEEDS = 3  # a cell with no prior needs this many valid seeds for an interval
LEVEL = 0.95  # every interval, and "not reproduced"
EQUIVALENCE_LEVEL = 0.90  # "reproduced": two one-sided tests at 5% (TOST), i.e. the 90% interval inside the tolerance
POWER = 0.80  # the smallest detectable difference
PRIOR_RANGE = 0.95  # the published spread's sigma is guarded over this range of its own uncertainty
CALIBRATION_DRAWS = 200_000  # Monte Carlo error of a calibrated quantile: about 0.3% of its value
CALIBRATION_SEED = 191001108  # the paper's arXiv id: any fixed seed, so the same run gives the same intervals
FLOOR_SHARE = 0.5  # S >= this share of the dev set's sampling sd (the published spreads are 0.8-1.2 times it)
PRIOR_CHECKPOINTS = {"bert": "bert-base-uncased", "distilbert": "distilbert-base-uncased"}  # what the priors measured
PRIOR_PROTOCOLS = ("paper",)  # lr 2e-5 and 3 epochs on the whole training sets, as the priors' reproduction
OFF_PROTOCOL_WEIGHT = 0.5  # another faithful protocol: the prior counts as half its seeds' degrees of freedom
OFF_CHECKPOINT_WEIGHT = 0.25  # another checkpoint: a quarter (k = 5: one degree of freedom)


def prior_weight(role: str | None, checkpoint: str | None, protocol: str | None) -> tuple[float, str]:
    """How much a published spread counts for a cell run with this checkpoint and protocol, and why (None: as measured)."""
    base = (role or "").split()[0]
    if checkpoint is not None and base in PRIOR_CHECKPOINTS and checkpoint != PRIOR_CHECKPOINTS[base]:
        return OFF_CHECKPOINT_WEIGHT, f"measured on {PRIOR_CHECKPOINTS[base]}, not {checkpoint}: counted at {OFF_CHECKPOINT_WEIGHT:g}"
    if protocol is not None and protocol not in PRIOR_PROTOCOLS:
        return OFF_PROTOCOL_WEIGHT, f"measured with another recipe than protocol {protocol!r}: counted at {OFF_PROTOCOL_WEIGHT:g}"
    return 1.0, ""


def prior_df(prior: SeedSpread | None, weight: float = 1.0) -> float:
    """The degrees of freedom a published spread carries: (k - 1) x its weight (0 without a prior)."""
    return 0.0 if prior is None else max(prior.seeds - 1, 0) * weight


@functools.cache
def guard(degrees_of_freedom: float) -> float:
    """sigma / sigma_p at the upper end of the prior's PRIOR_RANGE range: sqrt(nu / chi2_nu((1 - range) / 2)); 1 without one."""
    from scipy import stats

    if degrees_of_freedom <= 0:
        return 1.0
    return math.sqrt(degrees_of_freedom / stats.chi2.ppf((1 - PRIOR_RANGE) / 2, degrees_of_freedom))


@dataclass(frozen=True)
class Pivot:
    """Calibrated quantiles for a median of `runs` runs (`valid` of them giving s) against the paper's median."""

    measurement: float  # P(|median - truth| <= q S) = LEVEL, at the guarded sigma
    difference: float  # P(|median - paper - true difference| <= q S) = LEVEL, at the guarded sigma
    equivalence: float  # the same at EQUIVALENCE_LEVEL
    detect: float  # the smallest detectable difference is margin + detect x S: POWER of "not reproduced" there


@functools.cache
def pivot(runs: int, valid: int, prior_degrees: float, paper_seeds: int) -> Pivot:
    """The pivots' quantiles by simulation (CALIBRATION_DRAWS draws, a fixed seed), with S pooled as in the docstring;
    the runs - valid failed runs rank below every valid one (fewer than half: the median is a valid run's)."""
    own = valid - 1 if valid >= 2 else 0
    if runs < 1 or not 1 <= valid <= runs or paper_seeds < 0 or prior_degrees < 0 or own + prior_degrees <= 0:
        raise ValueError(f"no pivot for {runs} run(s), {valid} valid, prior df {prior_degrees}, against {paper_seeds}")
    rng = np.random.default_rng([CALIBRATION_SEED, runs, valid, round(prior_degrees * 1000), paper_seeds])
    draws = rng.standard_normal((CALIBRATION_DRAWS, valid))
    ours = np.median(np.pad(draws, ((0, 0), (0, runs - valid)), constant_values=-np.inf), axis=1)  # failed runs: lowest
    theirs = np.median(rng.standard_normal((CALIBRATION_DRAWS, paper_seeds)), axis=1) if paper_seeds else 0.0
    variance = draws.var(axis=1, ddof=1) if own else 0.0
    total = prior_degrees + own
    guarded = np.sqrt((prior_degrees / guard(prior_degrees) ** 2 + own * variance) / total)
    typical = np.sqrt((prior_degrees + own * variance) / total)
    difference = np.abs(ours - theirs) / guarded  # symmetric: its |.| quantiles give both tails with half the error
    quantile = float(np.quantile(difference, LEVEL))
    # at sigma = the prior, a true difference margin + d (in sigma) is "not reproduced" when ours - theirs + d > q S:
    # POWER of the time for d = -quantile(ours - theirs - q S, 1 - POWER); reported per run as d / median(S) x S
    shortfall = -float(np.quantile(ours - theirs - quantile * typical, 1 - POWER))
    return Pivot(float(np.quantile(np.abs(ours) / guarded, LEVEL)), quantile, float(np.quantile(difference, EQUIVALENCE_LEVEL)),
                 shortfall / float(np.median(typical)))


@dataclass(frozen=True)
class SeedNoise:
    """The seed level of one cell (arrays over any leading axes): its median over runs and the scale S of its noise.

    scale is NaN where the noise is unknown (no prior and fewer than MIN_OWN_SEEDS valid seeds), None when it is
    unknown everywhere; error is True where half or more of the runs failed (no measurement).
    """

    median: Any
    scale: Any | None
    runs: int
    valid: Any  # valid runs (an int, or an array over replications)
    prior_degrees: float
    paper_seeds: int
    source: str
    error: Any = False

    @property
    def known(self) -> bool:
        return self.scale is not None and bool(np.all(np.isfinite(self.scale)))

    @property
    def open_above(self) -> bool:
        """One run alone may be a near-failed run: the truth may lie far above it (see the module docstring)."""
        return self.runs == 1

    def _quantile(self, name: str) -> Any:
        valid = np.asarray(self.valid)
        out = np.full(valid.shape, np.nan)
        for count in np.unique(valid):
            if count >= 1 and (self.prior_degrees > 0 or count >= MIN_OWN_SEEDS):
                out[valid == count] = getattr(pivot(self.runs, int(count), self.prior_degrees, self.paper_seeds), name)
        return out if out.ndim else float(out)

    def _around(self, centre: Any, name: str) -> tuple[Any, Any] | None:
        if self.scale is None:
            return None
        half = self._quantile(name) * self.scale
        return centre - half, np.inf + 0 * half if self.open_above else centre + half

    def interval(self) -> tuple[Any, Any] | None:
        """The LEVEL interval of the cell's true value."""
        return self._around(self.median, "measurement")

    def difference(self, paper: float) -> tuple[Any, Any] | None:
        """The LEVEL interval of (our true value - the paper's true value), the paper's own runs included."""
        return self._around(self.median - paper, "difference")

    def equivalence(self, paper: float) -> tuple[Any, Any] | None:
        """The EQUIVALENCE_LEVEL interval of the same difference: "reproduced" needs it inside the tolerance (TOST)."""
        return self._around(self.median - paper, "equivalence")

    def detectable(self, margin: float) -> Any | None:
        """The smallest true difference beyond the paper's value called "not reproduced" with POWER (above the paper
        where one run is open below it)."""
        if self.scale is None:
            return None
        return margin + self._quantile("detect") * self.scale

    def errors(self) -> tuple[Any, Any, Any]:
        """Normal-equivalent standard errors of the measurement, the difference and the equivalence test, for combining."""
        from scipy import stats

        scale = np.nan if self.scale is None else self.scale
        return tuple(self._quantile(name) * scale / stats.norm.ppf((1 + level) / 2) for name, level in
                     (("measurement", LEVEL), ("difference", LEVEL), ("equivalence", EQUIVALENCE_LEVEL)))


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def seed_noise(values: Any, prior: SeedSpread | None, paper_seeds: int, *, valid: Any = None, weight: float = 1.0,
               weight_reason: str = "", floor: Any = None) -> SeedNoise:
    """The seed level of a cell from every run's value (last axis; NaN: a failed run without one) and which are valid.

    valid None: every run is valid. weight: the prior's (prior_weight); floor: the least S (FLOOR_SHARE x the dev
    set's sampling sd), or None.
    """
    values = np.asarray(values, dtype=float)
    runs = values.shape[-1]
    if runs == 0:
        raise ValueError("no run: nothing to measure")
    ok = np.ones(values.shape, dtype=bool) if valid is None else np.asarray(valid, dtype=bool) & np.isfinite(values)
    count = ok.sum(axis=-1)
    error = 2 * (runs - count) >= runs
    ranked = np.where(np.isnan(values), -np.inf, values)
    with np.errstate(invalid="ignore"):
        median = np.where(error, np.nan, np.median(ranked, axis=-1))
    own = np.where(count >= 2, count - 1, 0)
    centred = np.where(ok, values - np.sum(np.where(ok, values, 0.0), axis=-1, keepdims=True) / np.maximum(count, 1)[..., None], 0.0)
    variance = np.sum(centred ** 2, axis=-1) / np.maximum(own, 1)
    degrees = prior_df(prior, weight)
    if prior is None and np.all(count < MIN_OWN_SEEDS):
        return SeedNoise(median, None, runs, count, 0.0, paper_seeds,
                         f"unknown: {_plural(int(np.max(count)), 'valid seed')} (fewer than {MIN_OWN_SEEDS}) and no "
                         "published seed spread for this cell", error)
    sigma = 0.0 if prior is None else prior.sigma
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.sqrt((degrees * sigma ** 2 + own * variance) / (degrees + own))
    scale = np.where((degrees + own > 0) & ((degrees > 0) | (count >= MIN_OWN_SEEDS)), scale, np.nan)
    if floor is not None:
        scale = np.maximum(scale, floor)
    scale = scale if np.ndim(scale) else float(scale)
    return SeedNoise(median, scale, runs, count if np.ndim(count) else int(count), degrees, paper_seeds,
                     _source(prior, degrees, weight_reason, int(np.max(count)), runs, floor), error)


def _source(prior: SeedSpread | None, degrees: float, weight_reason: str, valid: int, runs: int, floor: Any) -> str:
    """Where the scale comes from, in words."""
    own = f"the spread of the run's {_plural(valid, 'valid seed')}" if valid >= 2 else ""
    parts = [own] if own else []
    if prior is not None:
        freedom = f"{degrees:g} degree{'' if degrees == 1 else 's'} of freedom"
        parts.insert(0, f"the published seed spread sigma {prior.sigma:g} from {_plural(prior.seeds, 'seed')} "
                        f"({freedom}{'; ' + weight_reason if weight_reason else ''}; {prior.source}), "
                        f"guarded up to {guard(degrees):.2f} x sigma")
    text = " pooled with ".join(parts)
    if runs == 1:
        text += "; one run may be a near-failed one: open above"
    if floor is not None and np.ndim(floor) == 0:
        text += f"; at least {float(floor):.3g} ({FLOOR_SHARE:g} x the dev set's sampling sd)"
    return text


@dataclass(frozen=True)
class Combined:
    """The seed level of a value combined from cells: normal standard errors (None: unknown) and the open sides."""

    value: Any
    standard_error: Any | None
    difference_error: Any | None
    equivalence_error: Any | None = None
    open_above: bool = False
    open_below: bool = False

    def _around(self, centre: Any, error: Any | None, level: float) -> tuple[Any, Any] | None:
        from scipy import stats

        if error is None:
            return None
        half = stats.norm.ppf((1 + level) / 2) * error
        return (-np.inf + 0 * half if self.open_below else centre - half), (np.inf + 0 * half if self.open_above else centre + half)

    def interval(self) -> tuple[Any, Any] | None:
        return self._around(self.value, self.standard_error, LEVEL)

    def difference(self, paper: float) -> tuple[Any, Any] | None:
        return self._around(self.value - paper, self.difference_error, LEVEL)

    def equivalence(self, paper: float) -> tuple[Any, Any] | None:
        return self._around(self.value - paper, self.equivalence_error, EQUIVALENCE_LEVEL)

    def detectable(self, margin: float) -> Any | None:
        from scipy import stats

        if self.difference_error is None:
            return None
        return margin + (stats.norm.ppf((1 + LEVEL) / 2) + stats.norm.ppf(POWER)) * self.difference_error


def combine(value: Any, parts: list[SeedNoise], gradient: Any, extra_error: Any = 0.0) -> Combined:
    """The seed level of a combination of cells (gradient: d value / d cell), plus an extra level in quadrature.

    Unknown (None errors) when any cell's noise is unknown everywhere; NaN where it is unknown in some replications.
    A cell open above opens the combination above (positive weight) or below (negative weight).
    """
    if any(part.scale is None for part in parts):
        return Combined(value, None, None)
    extra = np.square(extra_error)
    totals = [extra, extra, extra]
    for part, weight in zip(parts, gradient, strict=True):
        for index, error in enumerate(part.errors()):
            totals[index] = totals[index] + weight ** 2 * np.square(error)
    above = any(part.open_above and weight > 0 for part, weight in zip(parts, gradient, strict=True))
    below = any(part.open_above and weight < 0 for part, weight in zip(parts, gradient, strict=True))
    return Combined(value, *(np.sqrt(total) for total in totals), above, below)
