"""The verdicts' statistics proven by simulation with known truth, for every Table 1 cell at --seeds 1, 3 and 5.

A replication's seeds are normal around the cell's true value with the cell's published spread (its
registry seed_spread; a cell with none gets SPREAD_WITHOUT_PRIOR, any value would do: the run's own seeds
set the scale from 3 on, and below 3 such a cell has no interval at all); the paper's figure is the
median of 5 such seeds of a model with the same true value (a faithful replication) or one off by a
known difference. Every replication goes through the code the claims use (harness.judge.noise for the
seed level, harness.judge.uncertainty for the margin and the paper's seeds, harness.judge.verdict.decide
for the verdict), REPLICATIONS at once, with fixed seeds. Asserted, per cell and seed count:
  - a faithful replication is called "not reproduced" at most 5% of the time;
  - the measurement's 95% interval covers the true value 95% +- 2% of the time;
  - a model off by exactly the reported smallest detectable difference is called "not reproduced"
    80% +- 5% of the time;
  - a cell with neither a prior nor 3 valid seeds is never called "not reproduced" and reports no interval.
The rates in docs/verdicts.md were printed by `python tests/test_verdicts_simulated.py`.
"""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np
import pytest

from harness.judge import noise
from harness.judge.uncertainty import margin, paper_seeds
from harness.judge.verdict import decide
from harness.measure.measurement import Combination
from harness.spec import registry as registry_module

REPLICATIONS = 4000
SEED_COUNTS = (1, 3, 5)
SPREAD_WITHOUT_PRIOR = 1.5  # points: the simulated truth of a cell with no published spread (the verdict is scale-free)
CELLS = registry_module.load().family("glue")
RANDOM_SEED = 20191002  # not the calibration's seed: the tests draw their own replications


def simulate(claim, seeds: int, offset: float | str = 0.0, replications: int = REPLICATIONS, rng=None) -> dict:
    """Rates over replications of one cell: 'not reproduced', the interval's coverage, and the detectable difference.

    offset: the true difference of our model from the paper's (points), or "detectable": each replication's
    own reported smallest detectable difference (above the paper).
    """
    rng = rng or np.random.default_rng([RANDOM_SEED, seeds, zlib.crc32(claim.id.encode())])
    prior = claim.seed_spread
    sigma = prior.sigma if prior else SPREAD_WITHOUT_PRIOR
    # The paper's figure is fixed (the registry's); its true value is that less the noise of its median of 5.
    paper_noise = np.median(rng.standard_normal((replications, claim.paper_seeds)), axis=1)
    truth = claim.paper_value - sigma * paper_noise
    noise_draws = sigma * rng.standard_normal((replications, seeds))
    probe = noise.seed_noise(noise_draws, prior, paper_seeds(claim))  # the scale does not depend on the offset
    if offset == "detectable":
        shift = probe.detectable(margin(claim))
        if shift is None:
            return {"not_reproduced": None, "coverage": None, "detectable": None}
    else:
        shift = np.full(replications, float(offset))
    values = (truth + shift)[:, None] + noise_draws
    seed_level = noise.seed_noise(values, prior, paper_seeds(claim))
    interval, difference = seed_level.interval(), seed_level.difference(claim.paper_value)
    if difference is None:
        codes = decide(claim, seed_level.median, -np.inf, np.inf, False)
        return {"not_reproduced": float(np.mean(codes == 2)), "coverage": None, "detectable": None}
    codes = decide(claim, seed_level.median, *difference, True)
    covered = (interval[0] <= truth + shift) & (truth + shift <= interval[1])
    detectable = seed_level.detectable(margin(claim))
    return {"not_reproduced": float(np.mean(codes == 2)), "coverage": float(np.mean(covered)),
            "detectable": float(np.median(detectable))}


@pytest.mark.parametrize("seeds", SEED_COUNTS)
def test_every_table1_cell_at_every_seed_count(seeds):
    problems = []
    for claim in CELLS:
        faithful = simulate(claim, seeds)
        off = simulate(claim, seeds, "detectable")
        known = claim.seed_spread is not None or seeds >= noise.MIN_OWN_SEEDS
        if faithful["not_reproduced"] > 0.05:
            problems.append(f"{claim.id} seeds {seeds}: faithful called not reproduced {faithful['not_reproduced']:.3f}")
        if not known:
            if faithful["not_reproduced"] != 0 or faithful["coverage"] is not None or off["detectable"] is not None:
                problems.append(f"{claim.id} seeds {seeds}: no prior, fewer than 3 seeds, yet judged: {faithful}, {off}")
            continue
        if not 0.93 <= faithful["coverage"] <= 0.97:
            problems.append(f"{claim.id} seeds {seeds}: interval covers the truth {faithful['coverage']:.3f}")
        if not 0.75 <= off["not_reproduced"] <= 0.85:
            problems.append(f"{claim.id} seeds {seeds}: off by the detectable difference, called not reproduced "
                            f"{off['not_reproduced']:.3f}")
    assert not problems, "\n".join(problems)


def test_a_bigger_difference_is_found_more_often():
    claim = next(c for c in CELLS if c.id == "glue.rte.distilbert")
    rates = [simulate(claim, 5, offset)["not_reproduced"] for offset in (0.0, 6.0, 10.0, 20.0)]
    assert rates == sorted(rates) and rates[0] <= 0.05 and rates[-1] > 0.95


def test_the_old_fixed_tolerance_failed_faithful_replications_and_the_new_verdict_does_not():
    """The issue's finding: at --seeds 1 a bare ±5 tolerance called a faithful RTE (DistilBERT) 'not reproduced' ~21%."""
    claim = next(c for c in CELLS if c.id == "glue.rte.distilbert")
    rng = np.random.default_rng(RANDOM_SEED)
    paper_noise = np.median(rng.standard_normal((REPLICATIONS, 5)), axis=1)
    ours = rng.standard_normal(REPLICATIONS)
    old_rate = np.mean(np.abs(claim.seed_spread.sigma * (ours - paper_noise)) > claim.tolerance.value)
    assert 0.17 < old_rate < 0.25
    assert simulate(claim, 1)["not_reproduced"] <= 0.05


def simulate_macro(claim, seeds: int, offset: float | str = 0.0, replications: int = REPLICATIONS) -> dict:
    """As `simulate`, for a macro score: nine cells, each with its own spread, combined by harness.judge.noise.combine."""
    rng = np.random.default_rng([RANDOM_SEED, seeds, zlib.crc32(claim.id.encode())])
    cells = [c for c in CELLS if c.model == claim.model]
    claim = dataclasses.replace(claim, paper_value=float(np.mean([c.paper_value for c in cells])))
    sigmas = np.array([c.seed_spread.sigma if c.seed_spread else SPREAD_WITHOUT_PRIOR for c in cells])
    truth = np.array([c.paper_value for c in cells]) - sigmas * np.median(
        rng.standard_normal((replications, len(cells), claim.paper_seeds)), axis=2)
    draws = sigmas[None, :, None] * rng.standard_normal((replications, len(cells), seeds))
    combination = Combination("mean", (tuple(range(len(cells))),))
    gradient = combination.gradient(np.zeros(len(cells)))

    def combined(shift):
        values = (truth + shift[:, None])[:, :, None] + draws
        parts = [noise.seed_noise(values[:, i], c.seed_spread, paper_seeds(claim)) for i, c in enumerate(cells)]
        return noise.combine(combination.value(np.stack([p.median for p in parts], axis=1)), parts, gradient)

    shift = np.full(replications, 0.0)
    if offset == "detectable":
        shift = combined(shift).detectable(margin(claim))
        if shift is None:
            return {"not_reproduced": None, "coverage": None}
    level = combined(shift)
    difference = level.difference(claim.paper_value)
    if difference is None:
        return {"not_reproduced": float(np.mean(decide(claim, level.value, -np.inf, np.inf, False) == 2)), "coverage": None}
    interval, target = level.interval(), truth.mean(axis=1) + shift
    return {"not_reproduced": float(np.mean(decide(claim, level.value, *difference, True) == 2)),
            "coverage": float(np.mean((interval[0] <= target) & (target <= interval[1])))}


@pytest.mark.parametrize("seeds", SEED_COUNTS)
def test_macro_scores_combine_their_cells_noise(seeds):
    for claim in registry_module.load().family("macro"):
        faithful, off = simulate_macro(claim, seeds), simulate_macro(claim, seeds, "detectable")
        assert faithful["not_reproduced"] <= 0.05, (claim.id, seeds, faithful)
        if seeds < noise.MIN_OWN_SEEDS:  # QNLI, SST-2, STS-B and WNLI have no prior: unknown, never not reproduced
            assert faithful == {"not_reproduced": 0.0, "coverage": None}, (claim.id, seeds, faithful)
            continue
        assert 0.93 <= faithful["coverage"] <= 0.97, (claim.id, seeds, faithful)
        assert 0.75 <= off["not_reproduced"] <= 0.85, (claim.id, seeds, off)


def rates_table() -> str:
    """The measured rates of every Table 1 cell and seed count, as the Markdown table of docs/verdicts.md."""
    lines = ["| cell | sigma (source) | seeds | faithful: not reproduced | interval covers the truth | "
             "off by the detectable difference: not reproduced | detectable difference (median) |",
             "|---|---|---|---|---|---|---|"]
    for claim in CELLS:
        for seeds in SEED_COUNTS:
            faithful, off = simulate(claim, seeds), simulate(claim, seeds, "detectable")
            sigma = f"{claim.seed_spread.sigma:g} (prior)" if claim.seed_spread else f"none ({SPREAD_WITHOUT_PRIOR:g} simulated)"
            cells = [f"{faithful['not_reproduced']:.1%}",
                     "–" if faithful["coverage"] is None else f"{faithful['coverage']:.1%}",
                     "–" if off["not_reproduced"] is None else f"{off['not_reproduced']:.1%}",
                     "–" if off["detectable"] is None else f"{off['detectable']:.2f}"]
            lines.append(f"| {claim.id} | {sigma} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def macro_table() -> str:
    """The same rates for the macro scores (nine cells combined), as the second table of docs/verdicts.md."""
    lines = ["| macro score | seeds | faithful: not reproduced | interval covers the truth | "
             "off by the detectable difference: not reproduced |", "|---|---|---|---|---|"]
    for claim in registry_module.load().family("macro"):
        for seeds in SEED_COUNTS:
            faithful, off = simulate_macro(claim, seeds), simulate_macro(claim, seeds, "detectable")
            rates = [faithful["not_reproduced"], faithful["coverage"], off["not_reproduced"]]
            lines.append(f"| {claim.id} | {seeds} | " + " | ".join("–" if r is None else f"{r:.1%}" for r in rates) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(rates_table(), macro_table(), sep="\n\n")
