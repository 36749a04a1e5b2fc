"""python -m harness power CLAIM_ID --seeds N: how often each verdict comes out for a claim under a stated truth, and the
smallest difference a run of N seeds could detect: the question to ask before renting GPUs.

The truth is drawn by harness.judge.simulate (the published spread times --sigma-x, normal or Student's t with 3 degrees
of freedom, shares of near-failed and failed runs, a true difference from the paper) and every replication is judged
by the code the claims use. CLAIM_ID is a Table 1 or 2 cell (glue.*, downstream.* cells), a macro score or a
retention, or a family name (glue, macro, retention) for all of its rows. Nothing is trained or measured.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from harness.errors import ClaimsError, did_you_mean
from harness.judge.simulate import SPREAD_WITHOUT_PRIOR, VERDICTS, Truth, cell_rates, combined_rates
from harness.spec import registry as registry_module
from harness.spec.registry import Claim, Registry

FAMILIES = ("glue", "downstream", "macro", "retention")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("claims", nargs="+", metavar="CLAIM_ID",
                        help="claim ids (glue.rte.bert, macro.distilbert, ...) or a family: glue, macro, retention")
    parser.add_argument("--seeds", nargs="+", default=["1"], metavar="N", help="seeds per cell (several: one row each)")
    parser.add_argument("--sigma-x", default="1", metavar="K",
                        help="the true seed spread as a multiple of the published one (1.5 points where there is none)")
    parser.add_argument("--distribution", choices=("normal", "t3"), default="normal",
                        help="the clean runs' distribution: normal, or Student's t with 3 degrees of freedom")
    parser.add_argument("--near-failed-share", default="0", metavar="P",
                        help="share of runs that barely beat a constant predictor (valid)")
    parser.add_argument("--failed-share", default="0", metavar="P", help="share of runs that fail (a constant predictor)")
    parser.add_argument("--true-difference", default="0", metavar="D",
                        help="our model's true value minus the paper's, in the claim's unit (0: a faithful replication)")
    parser.add_argument("--draws", default="4000", metavar="M", help="replications per row")
    parser.add_argument("--markdown", action="store_true", help="print one Markdown table instead of one line per row")
    parser.add_argument("--registry", type=Path, default=registry_module.DEFAULT_REGISTRY, metavar="FILE",
                        help="the claim registry")


def _number(option: str, text: str, low: float, high: float, integer: bool = False) -> float:
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low <= value <= high):
        kind = "a whole number" if integer else "a number"
        raise ClaimsError(f"{option} {text!r}: expected {kind} from {low:g} to {high:g}",
                          f"give {option} {kind} in that range (see python -m harness power --help)")
    return value


def claims_named(registry: Registry, names: list[str]) -> list[Claim]:
    """The claims the names select, in registry order; ClaimsError naming a claim that power cannot simulate."""
    chosen: list[Claim] = []
    for name in names:
        if name in FAMILIES:
            chosen += [c for c in registry.family(name) if _simulable(c)]
            continue
        claim = registry.get(name) if name in {c.id for c in registry.claims} else None
        if claim is None:
            known = [c.id for c in registry.claims if _simulable(c)] + list(FAMILIES)
            raise ClaimsError(f"no claim {name!r} that power can simulate", did_you_mean(name, known))
        if not _simulable(claim):
            raise ClaimsError(f"{name}: power simulates the accuracy cells, macro scores and retentions, not a "
                              f"{claim.family} claim", "name a glue or downstream cell, a macro score or a retention")
        chosen.append(claim)
    return list({claim.id: claim for claim in chosen}.values())


def _simulable(claim: Claim) -> bool:
    if claim.family in ("macro", "retention"):
        return True
    return claim.family in ("glue", "downstream") and claim.metric != "points_behind" and claim.tolerance is not None


def rates(claim: Claim, registry: Registry, seeds: int, truth: Truth, draws: int) -> dict:
    """The share of each verdict and the median smallest detectable difference for one claim at one seed count."""
    if claim.family in ("macro", "retention"):
        return combined_rates(claim, registry.family("glue"), seeds, truth, draws)
    return cell_rates(claim, seeds, truth, draws)


def markdown_table(registry: Registry, claims: list[Claim], seed_counts: list[int], truth: Truth, draws: int) -> str:
    """One row per claim and seed count: the verdicts' shares and the smallest detectable difference."""
    lines = ["| claim | tolerance | seeds | reproduced | inconclusive | not reproduced | error | smallest detectable difference |",
             "|---|---|---|---|---|---|---|---|"]
    for claim in claims:
        for seeds in seed_counts:
            found = rates(claim, registry, seeds, truth, draws)
            detectable = "–" if found["detectable"] is None else f"{found['detectable']:.2f}"
            shares = " | ".join(f"{100 * found[name]:.1f}%" for name in VERDICTS)
            lines.append(f"| {claim.id} | {claim.tolerance.describe()} | {seeds} | {shares} | {detectable} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    registry = registry_module.load(args.registry)
    seed_counts = [int(_number("--seeds", text, 1, 50, integer=True)) for text in args.seeds]
    near, failed = _number("--near-failed-share", args.near_failed_share, 0, 0.9), _number("--failed-share", args.failed_share, 0, 0.9)
    if near + failed >= 1:
        raise ClaimsError(f"--near-failed-share {near:g} and --failed-share {failed:g} add up to 1 or more",
                          "leave some runs clean: the shares must add up to less than 1")
    truth = Truth(_number("--sigma-x", args.sigma_x, 0.01, 100), args.distribution, near, failed,
                  _number("--true-difference", args.true_difference, -100, 100))
    draws = int(_number("--draws", args.draws, 100, 1_000_000, integer=True))
    claims = claims_named(registry, args.claims)
    if args.markdown:
        print(markdown_table(registry, claims, seed_counts, truth, draws))
        return 0
    print(f"truth: {truth.label()} (sigma: a multiple of each cell's published spread, {SPREAD_WITHOUT_PRIOR:g} points where "
          f"it has none), true difference {truth.true_difference:g}; {draws} replications")
    for claim in claims:
        for seeds in seed_counts:
            found = rates(claim, registry, seeds, truth, draws)
            shares = ", ".join(f"{name} {100 * found[name]:.1f}%" for name in VERDICTS)
            detectable = ("none (the noise is unknown at this seed count)" if found["detectable"] is None else
                          f"{found['detectable']:.2f} {claim.unit}".rstrip() + (" (above the paper only: one run may be a "
                                                                               "near-failed one)" if seeds == 1 else ""))
            print(f"{claim.id} ({claim.tolerance.describe()}), {seeds} seed{'s' if seeds > 1 else ''}: {shares}; "
                  f"smallest detectable difference {detectable}")
    return 0
