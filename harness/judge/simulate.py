"""The verdict rule under known truths: how often each verdict comes out when a cell's runs are drawn from a model of
fine-tuning that the intervals do not assume.

A `Truth` says how a replication's runs (and the paper's own five) are drawn around a cell's true value mu:
  - clean runs: mu + sigma x (a standard normal, or Student's t with 3 degrees of freedom, whose sd is 1.73 sigma),
    sigma = `sigma_x` times the cell's published spread (SPREAD_WITHOUT_PRIOR points where it has none);
  - near-failed runs (share `near_failed`): valid but barely better than a constant predictor, uniform between the
    constant predictor's score F and F + NEAR_FAILED_BAND x (mu - F) (on RTE for BERT: 52.7 to 57.7);
  - failed runs (share `failed`): a constant predictor's score (STS-B: no correlation at all);
  - validity as harness.measure.finetune.validity decides it: a run at or below F is invalid (WNLI is exempt).
The paper's figure is the median of its own five runs drawn from the same truth, so its true value is the registry's
figure less that median's offset; our model's true value is the paper's plus `true_difference`. Every replication
goes through the code the claims use (harness.judge.noise, harness.judge.verdict.decide), `draws` at once.
`cell_rates` and `combined_rates` give the share of each verdict (and of errors: half or more runs failed) and the
median smallest detectable difference. This module judges nothing itself and measures nothing.
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.judge import noise
from harness.judge.runs import combination_of
from harness.judge.verdict import decide
from harness.spec.registry import Claim

SPREAD_WITHOUT_PRIOR = 1.5  # points: the sigma simulated for a cell with no published spread (its verdict is scale-free)
NEAR_FAILED_BAND = 0.3  # a near-failed run lies in the lowest 30% of the way from a constant predictor to the truth
# A constant predictor's score on each Table 1 cell's metric, from the GLUE dev sets' label counts (MNLI matched 3479 of
# 9815 entailment; QNLI 2761 of 5463; QQP 25545 of 40430 not duplicate, F1 0, so (63.18 + 0) / 2; RTE 146 of 277;
# SST-2 444 of 872; WNLI 40 of 71; MRPC 279 of 408 paraphrases, whose all-positive F1 is 81.22; CoLA MCC 0; STS-B none:
# a failed STS-B run has no correlation at all, its near-failed runs lie just above 0).
CONSTANT_SCORE = {"cola": 0.0, "mnli": 35.45, "mrpc": 81.22, "qnli": 50.54, "qqp": 31.59, "rte": 52.71, "sst2": 50.92,
                  "stsb": 0.0, "wnli": 56.34, "imdb": 50.0, "squad": 0.0}  # IMDb test: 12,500 of 25,000; SQuAD: no answer
EXEMPT = ("wnli",)  # valid whatever it scores (harness.measure.finetune.validity)
VERDICTS = ("reproduced", "inconclusive", "not reproduced", "error")  # decide()'s codes 0-2, then 3 for an error


@dataclass(frozen=True)
class Truth:
    """How a replication's runs are drawn (see the module docstring)."""

    sigma_x: float = 1.0
    distribution: str = "normal"  # normal | t3
    near_failed: float = 0.0
    failed: float = 0.0
    true_difference: float = 0.0

    def label(self) -> str:
        parts = [f"sigma {self.sigma_x:g}x" + (" (t, 3 df)" if self.distribution == "t3" else "")]
        parts += [f"{100 * self.near_failed:g}% near-failed"] if self.near_failed else []
        parts += [f"{100 * self.failed:g}% failed"] if self.failed else []
        return ", ".join(parts)


def sigma_of(claim: Claim) -> float:
    """The spread a truth's sigma_x multiplies: the cell's published one, else SPREAD_WITHOUT_PRIOR."""
    return claim.seed_spread.sigma if claim.seed_spread else SPREAD_WITHOUT_PRIOR


def draw_runs(claim: Claim, truth: Truth, mu: Any, runs: int, rng: np.random.Generator
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values (NaN: failed without one), validity and kind (0 clean, 1 near-failed, 2 failed) of `runs` runs per
    replication around true values mu (replications,)."""
    mu = np.asarray(mu, dtype=float)[:, None]
    shape = (mu.shape[0], runs)
    sigma = truth.sigma_x * sigma_of(claim)
    clean = rng.standard_t(3, shape) if truth.distribution == "t3" else rng.standard_normal(shape)
    values = mu + sigma * clean
    task = str(claim.task)
    constant = CONSTANT_SCORE[task]
    draw = rng.random(shape)
    kind = np.where(draw < truth.near_failed, 1, np.where(draw < truth.near_failed + truth.failed, 2, 0))
    values = np.where(kind == 1, constant + rng.uniform(0, NEAR_FAILED_BAND, shape) * (mu - constant), values)
    values = np.where(kind == 2, np.nan if task == "stsb" else constant, values)
    valid = np.isfinite(values) if task in EXEMPT else np.isfinite(values) & (values > constant)
    return values, valid, kind


def _paper_truth(claim: Claim, truth: Truth, draws: int, rng: np.random.Generator) -> np.ndarray:
    """The paper's true value per replication: its figure less the offset of its own median of paper_seeds runs.

    The figure is known not to be a failed or near-failed run's (Table 1's are far above a constant predictor): a
    replication whose paper median would be one is drawn again.
    """
    if not claim.paper_seeds:
        return np.full(draws, float(claim.paper_value))
    offset = np.zeros(draws)
    pending = np.arange(draws)
    for _ in range(50):
        values, _valid, kind = draw_runs(claim, truth, np.full(pending.size, claim.paper_value), claim.paper_seeds, rng)
        ranked = np.where(np.isnan(values), -np.inf, values)
        order = np.argsort(ranked, axis=1)[:, (claim.paper_seeds - 1) // 2:claim.paper_seeds // 2 + 1]
        clean = (np.take_along_axis(kind, order, axis=1) == 0).all(axis=1) | (claim.task in EXEMPT)
        offset[pending[clean]] = np.median(ranked[clean], axis=1) - claim.paper_value
        pending = pending[~clean]
        if not pending.size:
            break
    return claim.paper_value - offset


def _rng(*parts: Any) -> np.random.Generator:
    return np.random.default_rng([zlib.crc32(str(part).encode()) for part in parts])


def cell_noise(claim: Claim, truth: Truth, seeds: int, draws: int, rng: np.random.Generator) -> noise.SeedNoise:
    """The seed level of `draws` replications of a cell run with `seeds` seeds under the truth."""
    ours = _paper_truth(claim, truth, draws, rng) + truth.true_difference
    values, valid, _kind = draw_runs(claim, truth, ours, seeds, rng)
    return noise.seed_noise(values, claim.seed_spread, claim.paper_seeds, valid=valid)


def _shares(codes: np.ndarray, detectable: Any) -> dict[str, Any]:
    shares = {name: float(np.mean(codes == code)) for code, name in enumerate(VERDICTS)}
    finite = np.asarray(detectable, dtype=float) if detectable is not None else np.array([np.nan])
    finite = finite[np.isfinite(finite)]
    return shares | {"detectable": float(np.median(finite)) if finite.size else None}


def _codes(claim: Claim, level: Any, paper: float) -> np.ndarray:
    difference, equivalence = level.difference(paper), level.equivalence(paper)
    if difference is None:
        codes = np.ones(np.shape(level.median if hasattr(level, "median") else level.value), dtype=int)
    else:
        scale = level.scale if hasattr(level, "scale") else level.difference_error
        codes = decide(claim, difference, equivalence, np.isfinite(scale))
    error = np.asarray(getattr(level, "error", False)) | ~np.isfinite(level.median if hasattr(level, "median") else level.value)
    return np.where(error, 3, codes)


def cell_rates(claim: Claim, seeds: int, truth: Truth = Truth(), draws: int = 4000, seed: Any = 0) -> dict[str, Any]:
    """The share of each verdict (VERDICTS) over `draws` replications of one cell, and the median detectable difference."""
    with np.errstate(invalid="ignore"):  # the medians of replications that are errors (half or more runs failed)
        level = cell_noise(claim, truth, seeds, draws, _rng(claim.id, seeds, truth, seed))
        return _shares(_codes(claim, level, claim.paper_value), level.detectable(_margin(claim)))


def _margin(claim: Claim) -> float:
    tolerance = claim.tolerance
    return tolerance.value * abs(claim.paper_value) if tolerance.kind == "relative" else tolerance.value


def combined_rates(claim: Claim, cells: list[Claim], seeds: int, truth: Truth = Truth(), draws: int = 4000,
                   seed: Any = 0) -> dict[str, Any]:
    """As cell_rates, for a macro score or a retention: every cell drawn under the truth, combined by noise.combine.

    The claim's paper value is the combination of its cells' paper values; true_difference is in the claim's unit
    (a retention's points are spread over DistilBERT's cells).
    """
    members, combination, base = combination_of(claim, cells)
    paper = float(combination.value([c.paper_value for c in members]))
    claim = dataclasses.replace(claim, paper_value=paper)
    shift = truth.true_difference
    if claim.family == "retention":
        shift = truth.true_difference * float(np.mean([c.paper_value for c in base])) / 100.0
    rng = _rng(claim.id, seeds, truth, seed)
    with np.errstate(invalid="ignore"):
        return _combined(claim, members, combination, base, shift, truth, seeds, draws, rng, paper)


def _combined(claim: Claim, members: list[Claim], combination: Any, base: list[Claim], shift: float, truth: Truth,
              seeds: int, draws: int, rng: np.random.Generator, paper: float) -> dict[str, Any]:
    parts = []
    for cell in members:
        moved = shift if (claim.family == "macro" or cell not in base) else 0.0
        parts.append(cell_noise(cell, dataclasses.replace(truth, true_difference=moved), seeds, draws, rng))
    medians = np.stack([part.median for part in parts], axis=-1)
    value = combination.value(medians)
    gradient = combination.gradient([c.paper_value for c in members])
    level = noise.combine(value, parts, gradient)
    error = np.any([np.asarray(part.error) for part in parts], axis=0)
    codes = _codes(claim, level, paper)
    return _shares(np.where(error, 3, codes), level.detectable(_margin(claim)))
