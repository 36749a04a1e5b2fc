"""The verdict rule proven by simulation from truths it does not assume, for every Table 1 cell and the combined claims.

Each replication draws a cell's runs, and the paper's own five, from a truth of harness.judge.simulate: the spread
0.6, 1, 2 or 2.87 times the published one (the 95% range of a sigma estimated from 5 seeds), Student's t with 3
degrees of freedom, 10% or 20% near-failed runs (valid, barely above a constant predictor), 10% or 20% failed runs,
or 10% of each; every replication goes through the code the claims use (harness.judge.noise, harness.judge.verdict).
Asserted, at 1, 2, 3 and 5 seeds (DRAWS replications; a bound of 5% is checked as 5% plus 3 Monte Carlo standard
errors, ALLOWANCE):
  - a faithful replication (true difference 0) is "not reproduced" at most 5% of the time, under every truth;
  - a model whose truth lies on the tolerance's edge is "reproduced" at most 5% of the time under every truth the
    intervals guard (the normal spreads and the t; further out it only grows rarer), and one off by the smallest
    detectable difference under the near-failed and failed truths (they pull a median towards the paper, which the
    edge alone cannot absorb);
  - off by the smallest detectable difference (nominal truth), "not reproduced" comes out at least 75% of the time
    (it is calibrated to 80%; the combined claims' normal approximation gives more);
  - the issue's cases: RTE 8 points below the paper is "reproduced" at most 5% at 1, 3 and 5 seeds; the median over
    all runs is the paper's estimator (unbiased against it under failed runs, where dropping them is not).
docs/verdicts.md's simulated section is these very results (DISTILBERT_CLAIMS_WRITE_DOCS=1 pytest
tests/test_verdicts_simulated.py rewrites it; the test fails when it is stale).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from harness.judge import noise
from harness.judge.simulate import Truth, cell_rates, combined_rates, draw_runs
from harness.spec import registry as registry_module

DRAWS = 4000
SEED_COUNTS = (1, 2, 3, 5)
ALLOWANCE = 0.05 + 3 * math.sqrt(0.05 * 0.95 / DRAWS)  # 5% up to 3 Monte Carlo standard errors: 6.0%
GUARDED = (Truth(1.0), Truth(0.6), Truth(2.0), Truth(2.87), Truth(1.0, "t3"))
MIXTURES = (Truth(near_failed=0.1), Truth(near_failed=0.2), Truth(failed=0.1), Truth(failed=0.2),
            Truth(near_failed=0.1, failed=0.1))
TRUTHS = GUARDED + MIXTURES
REGISTRY = registry_module.load()
CELLS = REGISTRY.family("glue")
COMBINED = REGISTRY.family("macro", "retention")
DOCS = Path(__file__).resolve().parents[1] / "docs" / "verdicts.md"
START, END = "<!-- simulated:start -->", "<!-- simulated:end -->"


def _margin(claim) -> float:
    return claim.tolerance.value


def _rates(claim, seeds: int, truth: Truth) -> dict:
    return _rates_of(claim.id, seeds, truth)


@functools.cache
def _rates_of(claim_id: str, seeds: int, truth: Truth) -> dict:
    claim = next(c for c in CELLS + COMBINED if c.id == claim_id)
    draws = DRAWS if claim.family == "glue" else DRAWS // 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # medians of replications that are errors (NaN)
        if claim.family == "glue":
            return cell_rates(claim, seeds, truth, draws)
        return combined_rates(claim, CELLS, seeds, truth, draws)


@functools.cache
def study(claim_id: str, seeds: int) -> dict:
    """Every rate the assertions and the docs need for one claim at one seed count."""
    claim = next(c for c in CELLS + COMBINED if c.id == claim_id)
    nominal = _rates(claim, seeds, Truth())
    detectable = nominal["detectable"]
    faithful = {truth: _rates(claim, seeds, truth) for truth in TRUTHS}
    edge = {(truth, side): _rates(claim, seeds, dataclasses.replace(truth, true_difference=side * _margin(claim)))
            for truth in GUARDED for side in (1, -1)}
    # beyond the edge, under the guarded truths "reproduced" only grows rarer than on the edge: the mixtures are checked
    beyond = {} if detectable is None else {
        (truth, side): _rates(claim, seeds, dataclasses.replace(truth, true_difference=side * detectable))
        for truth in MIXTURES for side in (1, -1)}
    power = None if detectable is None else _rates(claim, seeds, Truth(true_difference=detectable))["not reproduced"]
    return {"nominal": nominal, "detectable": detectable, "faithful": faithful, "edge": edge, "beyond": beyond,
            "power": power}


def _worst(rates: dict, verdict: str) -> tuple[float, str]:
    key = max(rates, key=lambda k: rates[k][verdict]) if rates else None
    if key is None or rates[key][verdict] == 0:
        return 0.0, ""
    truth = key[0] if isinstance(key, tuple) else key
    return rates[key][verdict], truth.label()


def problems_of(claim_id: str, seeds: int) -> list[str]:
    found = study(claim_id, seeds)
    problems = []
    for truth, rates in found["faithful"].items():
        if rates["not reproduced"] > ALLOWANCE:
            problems.append(f"{claim_id} at {seeds}: faithful ({truth.label()}) not reproduced {rates['not reproduced']:.3f}")
    for (truth, side), rates in found["edge"].items():
        if rates["reproduced"] > ALLOWANCE:
            problems.append(f"{claim_id} at {seeds}: on the edge {side:+d} ({truth.label()}) reproduced {rates['reproduced']:.3f}")
    for (truth, side), rates in found["beyond"].items():
        if rates["reproduced"] > ALLOWANCE:
            problems.append(f"{claim_id} at {seeds}: off by the detectable difference {side:+d} ({truth.label()}) "
                            f"reproduced {rates['reproduced']:.3f}")
    if found["power"] is not None and found["power"] < 0.75:
        problems.append(f"{claim_id} at {seeds}: off by the detectable difference, not reproduced {found['power']:.3f}")
    return problems


@pytest.mark.parametrize("seeds", SEED_COUNTS)
def test_every_table1_cell_holds_its_error_rates_under_every_truth(seeds):
    problems = [problem for claim in CELLS for problem in problems_of(claim.id, seeds)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("seeds", SEED_COUNTS)
def test_the_macro_scores_and_retentions_hold_their_error_rates_under_every_truth(seeds):
    problems = [problem for claim in COMBINED for problem in problems_of(claim.id, seeds)]
    assert not problems, "\n".join(problems)


def test_a_cell_with_no_prior_and_fewer_than_three_seeds_is_never_decided():
    for claim in CELLS:
        if claim.seed_spread is None:
            for seeds in (1, 2):
                rates = study(claim.id, seeds)["faithful"]
                assert all(r["not reproduced"] == r["reproduced"] == 0 for r in rates.values()), (claim.id, seeds)


@pytest.mark.parametrize("cell", ["glue.rte.bert", "glue.rte.distilbert"])
def test_rte_eight_points_below_the_paper_is_not_reproduced_by_chance(cell):
    """The issue: 12.3% (BERT, 1 seed) and 20.6%, 39.7%, 47.1% (DistilBERT, 1, 3, 5 seeds) under the old rule."""
    claim = next(c for c in CELLS if c.id == cell)
    rates = [_rates(claim, seeds, Truth(true_difference=-8.0))["reproduced"] for seeds in (1, 3, 5)]
    assert max(rates) <= ALLOWANCE, rates


def test_the_median_over_all_runs_is_the_papers_estimator_and_dropping_failed_runs_is_not():
    claim = next(c for c in CELLS if c.id == "glue.rte.distilbert")
    rng = np.random.default_rng(20)
    truth = Truth(failed=0.2, near_failed=0.1)
    ours, ours_valid, _ = draw_runs(claim, truth, np.full(DRAWS, 59.9), 5, rng)
    theirs, _, _ = draw_runs(claim, truth, np.full(DRAWS, 59.9), 5, rng)

    def every_run(values):
        return np.median(np.where(np.isnan(values), -np.inf, values), axis=1)

    dropped = np.array([np.median(v[ok]) if ok.any() else np.nan for v, ok in zip(ours, ours_valid, strict=True)])
    paper = every_run(theirs)
    assert abs(np.mean(every_run(ours) - paper)) < 0.15  # the same estimator: no bias against the paper's median of 5
    assert np.nanmean(dropped - paper) > 0.3  # leaving failed runs out lifts the median above the paper's


def test_the_issues_tight_seeds_get_a_floor_from_the_dev_set():
    wnli = next(c for c in CELLS if c.id == "glue.wnli.bert")
    floor = noise.FLOOR_SHARE * 100 * math.sqrt(0.437 * 0.563 / 71)  # WNLI's 71 dev examples at 43.66%
    level = noise.seed_noise([43.66] * 3, wnli.seed_spread, 5, floor=floor)
    low, high = level.difference(wnli.paper_value)
    assert high - low > 10 and high > -wnli.tolerance.value  # no zero-width interval: not "not reproduced"
    sst2 = next(c for c in CELLS if c.id == "glue.sst2.bert")
    floor = noise.FLOOR_SHARE * 100 * math.sqrt(0.9 * 0.1 / 872)
    low, high = noise.seed_noise([90.0, 90.0, 90.1], sst2.seed_spread, 5, floor=floor).difference(sst2.paper_value)
    assert high > -sst2.tolerance.value  # reaches into the tolerance: inconclusive, not "not reproduced"


# --------------------------------------------------------------------------------------- the docs, from these results

def _percent(share: float) -> str:
    return f"{100 * share:.1f}%"


def _named(share: float, truth: str) -> str:
    return f"{_percent(share)} ({truth})" if truth else _percent(share)


def truth_table() -> str:
    lines = ["| truth of a faithful replication | " + " | ".join(f"{s} seed{'s' if s > 1 else ''}" for s in SEED_COUNTS) + " |",
             "|---|" + "---|" * len(SEED_COUNTS)]
    for truth in TRUTHS:
        row = []
        for seeds in SEED_COUNTS:
            worst = max((study(c.id, seeds)["faithful"][truth]["not reproduced"], c.id) for c in CELLS + COMBINED)
            row.append(f"{_percent(worst[0])} ({worst[1]})" if worst[0] > 0 else "0.0%")
        lines.append(f"| {truth.label()} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def claim_table(claims) -> str:
    lines = ["| claim | seeds | faithful: not reproduced, worst truth | on the edge: reproduced, worst guarded truth | "
             "off by the detectable difference: reproduced, worst mixture | faithful: reproduced (nominal) | "
             "off by the detectable difference: not reproduced (nominal) | error, worst truth | smallest detectable "
             "difference |", "|---|---|---|---|---|---|---|---|---|"]
    for claim in claims:
        for seeds in SEED_COUNTS:
            found = study(claim.id, seeds)
            nr, nr_truth = _worst(found["faithful"], "not reproduced")
            edge, edge_truth = _worst(found["edge"], "reproduced")
            beyond, beyond_truth = _worst(found["beyond"], "reproduced")
            error, error_truth = _worst(found["faithful"], "error")
            cells = [_named(nr, nr_truth), _named(edge, edge_truth), "–" if not found["beyond"] else _named(beyond, beyond_truth),
                     _percent(found["nominal"]["reproduced"]), "–" if found["power"] is None else _percent(found["power"]),
                     _named(error, error_truth),
                     "–" if found["detectable"] is None else f"{found['detectable']:.2f}"]
            lines.append(f"| {claim.id} | {seeds} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def issue_table() -> str:
    lines = ["| case | 1 seed | 3 seeds | 5 seeds |", "|---|---|---|---|"]
    for cell in ("glue.rte.bert", "glue.rte.distilbert"):
        claim = next(c for c in CELLS if c.id == cell)
        for verdict in ("reproduced", "error"):
            rates = [_rates(claim, seeds, Truth(true_difference=-8.0))[verdict] for seeds in (1, 3, 5)]
            lines.append(f"| {cell}, true value 8 points below the paper: {verdict} | " + " | ".join(map(_percent, rates)) + " |")
    return "\n".join(lines)


def section() -> str:
    return "\n\n".join([
        f"{START}", f"Rates from {DRAWS:,} replications each ({DRAWS // 2:,} for the combined claims), written by "
        "tests/test_verdicts_simulated.py. The worst faithful truth of any Table 1 cell or combined claim, \"not "
        "reproduced\":", truth_table(), "Per Table 1 cell (truths in brackets: the worst one for that column):",
        claim_table(CELLS), "The macro scores and retentions (their paper value is the combination of their cells' "
        "figures; a retention's difference is in percentage points):", claim_table(COMBINED),
        "The issue's case (the old rule called these \"reproduced\" 12.3% at one seed for BERT, and 20.6%, 39.7% and "
        "47.1% at 1, 3 and 5 seeds for DistilBERT):", issue_table(), END])


def test_the_tables_in_docs_are_current():
    wanted = section()
    text = DOCS.read_text(encoding="utf-8")
    if START not in text or END not in text:
        pytest.fail(f"{DOCS} lacks the {START} ... {END} markers of its simulated section")
    current = text[text.index(START):text.index(END) + len(END)]
    if os.environ.get("DISTILBERT_CLAIMS_WRITE_DOCS") == "1":
        DOCS.write_text(text.replace(current, wanted), encoding="utf-8")
        pytest.skip(f"rewrote the simulated section of {DOCS}: run again without DISTILBERT_CLAIMS_WRITE_DOCS to check it")
    assert current == wanted, ("docs/verdicts.md's simulated section is stale: run "
                               "DISTILBERT_CLAIMS_WRITE_DOCS=1 pytest tests/test_verdicts_simulated.py")
