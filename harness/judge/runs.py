"""The verdict rule as one public function: judge a claim from its runs' values, valid and failed.

`judge_runs` takes what a user has after fine-tuning (or what a simulation draws): every run's value of a Table 1
or 2 cell, which runs failed, and optionally the checkpoint and protocol they used and the dev set's sampling sd;
for a macro score or a retention, the runs of each of its cells. It returns the same Verdict the claim tests give
(harness.judge.verdict), by the same code: the median over every run (an `error` when half or more failed),
the pooled seed level and its guarded pivots (harness.judge.noise), TOST for "reproduced". Nothing is measured
or read from disk here; the dev-set bootstrap and the paired comparisons need stored predictions and are the
claim tests' (harness.judge.uncertainty.assess).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from harness.errors import ClaimsError, did_you_mean
from harness.judge import noise, uncertainty
from harness.judge.verdict import Verdict, judge
from harness.measure.measurement import Combination
from harness.spec.registry import Claim, Registry

Runs = Sequence[float]


def combination_of(claim: Claim, cells: list[Claim]) -> tuple[list[Claim], Combination, list[Claim]]:
    """The cells a macro or retention claim combines (BERT's then DistilBERT's for a retention), how, and the
    denominator's cells (a retention's BERT cells; a macro score's own)."""
    exclude = set(claim.params.get("exclude") or ())
    if claim.family == "macro":
        mine = [c for c in cells if c.model == claim.model and c.task not in exclude]
        return mine, Combination("mean", (tuple(range(len(mine))),)), mine
    bert = [c for c in cells if c.model == "bert" and c.task not in exclude]
    distilbert = [c for c in cells if c.model == "distilbert" and c.task not in exclude]
    return bert + distilbert, Combination("ratio", (tuple(range(len(bert), 2 * len(bert))), tuple(range(len(bert))))), bert


def _level(claim: Claim, values: Runs, failed: Sequence[bool] | None, checkpoint: str | None, protocol: str | None,
           floor: float | None) -> noise.SeedNoise:
    values = np.asarray([math.nan if v is None else v for v in values], dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ClaimsError(f"{claim.id}: expected a list of at least one run's value, got {values.shape}",
                          "give every run's value (NaN or None for a failed run without one)")
    failed = np.zeros(values.size, dtype=bool) if failed is None else np.asarray(failed, dtype=bool)
    if failed.shape != values.shape:
        raise ClaimsError(f"{claim.id}: {failed.size} failed flags for {values.size} runs", "give one flag per run")
    weight, why = noise.prior_weight(claim.model, checkpoint, protocol)
    return noise.seed_noise(values, claim.seed_spread, uncertainty.paper_seeds(claim), valid=~failed & np.isfinite(values),
                            weight=weight, weight_reason=why, floor=floor)


def _runs_json(values: Runs, failed: Sequence[bool] | None, label: str) -> list[dict[str, Any]]:
    flags = list(failed) if failed is not None else [False] * len(values)
    return [{"cell": label, "seed": index, "valid": not bad, "reason": "failed (given)" if bad else None}
            for index, bad in enumerate(flags)]


def judge_runs(claim: Claim, values: Runs | Mapping[str, Runs], failed: Sequence[bool] | Mapping[str, Sequence[bool]] | None
               = None, *, registry: Registry | None = None, checkpoint: str | None = None, protocol: str | None = None,
               floor: float | Mapping[str, float] | None = None, not_judged: str | None = None) -> Verdict:
    """The verdict on a claim from its runs' values (see the module docstring).

    values: a cell claim's runs (NaN or None: a failed run without a value), or for a macro score or a retention
    {cell claim id: runs} for each of its cells (with the registry that holds them). failed: which runs failed
    (default none), in the same shape. checkpoint, protocol: what the runs used (how much the published spread
    counts: noise.prior_weight; None: the checkpoint and protocol it was measured for). floor: the least scale,
    noise.FLOOR_SHARE x the dev set's sampling sd, where known. not_judged: a quick run's reason.
    """
    if claim.tolerance is None or claim.paper_value is None:
        raise ClaimsError(f"{claim.id} has no tolerance or paper value: it cannot be judged", "judge a measured claim")
    if claim.family in ("macro", "retention"):
        return _combined(claim, values, failed, registry, checkpoint, protocol, floor, not_judged)
    if isinstance(values, Mapping):
        raise ClaimsError(f"{claim.id} is one cell: give its runs as a list", "pass a list of the runs' values")
    level = _level(claim, values, failed, checkpoint, protocol, floor if not isinstance(floor, Mapping) else None)
    if bool(level.error):
        return Verdict.error(claim, f"{claim.id}: half or more of its {level.runs} runs failed: its median would be a "
                                    "failed run's, so no measurement (train further seeds)")
    found = uncertainty.of_seed_level(claim, level, {"valid": int(level.valid), "invalid": level.runs - int(level.valid),
                                                     "runs": _runs_json(values, failed, claim.id)})
    return judge(claim, float(level.median), found, not_judged=not_judged)


def _combined(claim: Claim, values: Any, failed: Any, registry: Registry | None, checkpoint: str | None,
              protocol: str | None, floor: Any, not_judged: str | None) -> Verdict:
    if registry is None or not isinstance(values, Mapping):
        raise ClaimsError(f"{claim.id} combines cells: give {{cell claim id: runs}} and the registry",
                          "pass values as a mapping of the cells' claim ids and registry=harness.spec.registry.load()")
    cells, combination, _ = combination_of(claim, registry.family("glue"))
    wanted = [cell.id for cell in cells]
    unknown = sorted(set(values) - set(wanted))
    if unknown or len(values) != len(wanted):
        missing = sorted(set(wanted) - set(values))
        raise ClaimsError(f"{claim.id}: " + (f"unknown cell {unknown[0]!r}" if unknown else f"no runs for {', '.join(missing)}"),
                          did_you_mean(unknown[0], wanted) if unknown else f"give the runs of every cell: {', '.join(wanted)}")
    failed = failed or {}
    floors = floor if isinstance(floor, Mapping) else {}
    parts = [_level(cell, values[cell.id], failed.get(cell.id), checkpoint, protocol, floors.get(cell.id)) for cell in cells]
    broken = [cell.id for cell, part in zip(cells, parts, strict=True) if bool(part.error)]
    if broken:
        return Verdict.error(claim, f"{claim.id}: half or more of the runs of {', '.join(broken)} failed: no measurement")
    medians = [float(part.median) for part in parts]
    value = float(combination.value(medians))
    level = noise.combine(value, parts, combination.gradient(medians))
    runs = [run for cell in cells for run in _runs_json(values[cell.id], failed.get(cell.id), cell.id)]
    seeds = {"valid": sum(run["valid"] for run in runs), "invalid": sum(not run["valid"] for run in runs), "runs": runs}
    found = uncertainty.of_combined(claim, level, f"{len(cells)} cells: " + "; ".join(sorted({p.source for p in parts})), seeds)
    return judge(claim, value, found, not_judged=not_judged)
