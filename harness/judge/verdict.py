"""Judge a measurement against a claim: the one Verdict type, and every status a claim can end in.

reproduced      shown, not assumed: the 90% interval of the difference from the paper's value lies inside the
                tolerance (two one-sided tests at 5%, TOST), so a claim whose truth is outside the tolerance is
                called reproduced at most 5% of the time; an exact measurement (sizes, the paper's arithmetic)
                is reproduced when it is inside;
not reproduced  the 95% interval of the difference lies wholly outside the tolerance (only where the seed-level
                noise is known: harness.judge.uncertainty's `complete`); an exact measurement is not reproduced
                as soon as it is outside;
inconclusive    neither: this run cannot tell (too few seeds, too noisy a task); "consistent with the paper" when
                the measurement lies inside the tolerance but the run cannot show it;
not judged      measured under a quick protocol (smoke, minilm-cpu, any --max-train-samples, a quick speed pass):
                the value and its interval are reported, the paper is not judged by them;
skipped         not measured (an absent input, a deselected or out-of-scope claim): the message says why;
error           the run failed: the test ended before it recorded a measurement, or half or more of a cell's runs failed.
`judge` gives the first four from a value and its Uncertainty (harness.judge.uncertainty), `decide` is its
vectorised core (the simulations call it on thousands of replications), `Verdict.skipped` and
`Verdict.error` the last two. `check` turns a verdict into a pytest outcome: pass (reproduced, not
judged), xfail (inconclusive: not a pass) or fail. This module neither measures nor writes anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

import numpy as np

from harness.judge.uncertainty import Interval, Uncertainty, assess, default
from harness.measure.measurement import Measurement
from harness.spec.registry import EDGE, Claim, Registry


class Status(str, Enum):
    """Every verdict a claim can end in, as results.json and the report spell it."""

    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not reproduced"
    INCONCLUSIVE = "inconclusive"
    NOT_JUDGED = "not judged"
    SKIPPED = "skipped"
    ERROR = "error"


DECISIONS = (Status.REPRODUCED, Status.INCONCLUSIVE, Status.NOT_REPRODUCED)  # decide()'s codes 0, 1, 2


@dataclass(frozen=True)
class Verdict:
    """The one result of judging a claim: its status, the values compared, the tolerance, the noise and the sentence."""

    claim_id: str
    status: Status
    paper_value: float | None
    measured: float | None
    tolerance_interval: Interval | None  # what the tolerance accepts around the paper's value
    message: str
    uncertainty: Uncertainty | None = None  # the measurement's intervals, seeds and paired tests; None: exact or none
    not_judged: str | None = None  # why a quick run's value is reported but not judged (status NOT_JUDGED)

    @property
    def delta(self) -> float | None:
        """measured - paper value, or None where either is absent."""
        if self.measured is None or self.paper_value is None:
            return None
        return self.measured - self.paper_value

    @property
    def interval(self) -> Interval | None:
        """The measurement's 95% interval, or None (exact, unknown noise, or not measured)."""
        return self.uncertainty.interval if self.uncertainty else None

    @classmethod
    def skipped(cls, claim: Claim, reason: str) -> Verdict:
        """A claim that was not measured, and why."""
        return cls._unmeasured(claim, Status.SKIPPED, reason)

    @classmethod
    def error(cls, claim: Claim, message: str) -> Verdict:
        """A claim whose run failed before it gave a measurement: an error of the run, not a verdict on the paper."""
        return cls._unmeasured(claim, Status.ERROR, message)

    @classmethod
    def _unmeasured(cls, claim: Claim, status: Status, message: str) -> Verdict:
        interval = claim.tolerance.interval(claim.paper_value) if claim.tolerance and claim.paper_value is not None else None
        return cls(claim.id, status, claim.paper_value, None, interval, message)


def fmt_interval(interval: Interval, number: Callable[[float], str] | None = None) -> str:
    """[low, high], each end to 4 significant digits with infinite ends as -inf / inf, or each end as `number` writes it."""
    low, high = interval
    if number is not None:
        return f"[{number(low)}, {number(high)}]"
    low_text = "-inf" if math.isinf(low) else f"{low:.4g}"
    high_text = "inf" if math.isinf(high) else f"{high:.4g}"
    return f"[{low_text}, {high_text}]"


def decide(claim: Claim, difference: tuple[Any, Any], equivalence: tuple[Any, Any], complete: Any) -> np.ndarray:
    """The verdict's code (DECISIONS) for arrays of difference intervals (measured - paper): the LEVEL one (`difference`)
    and the EQUIVALENCE_LEVEL one (`equivalence`; an exact measurement gives its delta as both ends of both).

    0 reproduced: complete noise and the equivalence interval inside the tolerance; 2 not reproduced: complete noise
    and the difference's interval wholly outside it; 1 inconclusive otherwise (and where the noise is unknown).
    """
    low, high = claim.tolerance.interval(claim.paper_value)
    paper = claim.paper_value
    known = np.asarray(complete, dtype=bool)
    with np.errstate(invalid="ignore"):
        inside = (np.asarray(equivalence[0]) + paper >= low - EDGE) & (np.asarray(equivalence[1]) + paper <= high + EDGE)
        outside = (np.asarray(difference[0]) + paper > high + EDGE) | (np.asarray(difference[1]) + paper < low - EDGE)
    return np.where(known & inside, 0, np.where(known & outside, 2, 1))


def judge_measurement(claim: Claim, measurement: Measurement, registry: Registry | None = None) -> Verdict:
    """Judge a Measurement: its uncertainty from its cells and their stored predictions, then `judge`."""
    return judge(claim, measurement.value, assess(claim, measurement, registry), not_judged=measurement.not_judged)


def judge(claim: Claim, measured: float, uncertainty: Uncertainty | None = None, *, not_judged: str | None = None) -> Verdict:
    """Compare one measured value with the claim's paper value under its tolerance, knowing its noise.

    uncertainty None: a bare value (harness.judge.uncertainty.default: one seed with the row's prior for an
    accuracy cell, exact for sizes and the paper's arithmetic). not_judged: the reason a quick run's value is
    reported but not judged.
    """
    if claim.tolerance is None or claim.paper_value is None:
        raise ValueError(f"claim {claim.id} has no tolerance or paper value: it cannot be judged")
    if measured is None or not math.isfinite(measured):
        raise ValueError(f"claim {claim.id}: measured value {measured!r} is not a finite number")
    uncertainty = uncertainty if uncertainty is not None else default(claim, measured)
    delta = measured - claim.paper_value
    if uncertainty is None:  # exact: the difference is the delta itself
        code = decide(claim, (delta, delta), (delta, delta), True)
    else:
        unknown = (-math.inf, math.inf)
        code = decide(claim, uncertainty.difference or unknown, uncertainty.equivalence or unknown,
                      uncertainty.complete and uncertainty.difference is not None)
    status = Status.NOT_JUDGED if not_judged else DECISIONS[int(code)]
    verdict = Verdict(claim.id, status, claim.paper_value, measured, claim.tolerance.interval(claim.paper_value), "",
                      uncertainty, not_judged or None)
    return replace(verdict, message=_sentence(claim, verdict, not_judged, DECISIONS[int(code)]))


def noise_parts(uncertainty: Uncertainty, unit: str = "", number: Callable[[float], str] | None = None,
                with_seeds: bool = True) -> dict[str, str]:
    """The noise of a measurement in words, part by part (the verdict's message joins them all; the report picks some):
    interval, source, difference, detectable, seeds (unless with_seeds is False), dev_set, dev_interval, two_sided; a part
    that does not apply is absent."""
    unit = f" {unit}" if unit else ""
    short = number or "{:.3g}".format
    parts = {"interval": f"95% interval {fmt_interval(uncertainty.interval)}" if uncertainty.interval else "no interval",
             "source": uncertainty.source}
    if uncertainty.difference:
        parts["difference"] = f"difference from the paper {fmt_interval(uncertainty.difference, number)}"
    if uncertainty.detectable is not None:
        parts["detectable"] = f"smallest detectable difference {short(uncertainty.detectable)}{unit}"
    seeds = uncertainty.seeds
    if with_seeds and seeds.get("runs"):
        invalid = [f"{r['seed']} ({r['reason']})" for r in seeds["runs"] if not r["valid"]]
        parts["seeds"] = f"seeds: {seeds['valid']} valid" + (f", {len(invalid)} invalid: {'; '.join(invalid)}" if invalid else "")
    dev = uncertainty.dev_set or {}
    if "sd" in dev:
        parts["dev_set"] = f"dev-set sampling sd {short(dev['sd'])}"
        if dev.get("interval"):
            parts["dev_interval"] = f"(bootstrap, interval {fmt_interval(dev['interval'])})"
    two_sided = uncertainty.comparisons.get("two_sided")
    if two_sided:
        parts["two_sided"] = str(two_sided.get("sentence", ""))
    return parts


def _noise_text(claim: Claim, uncertainty: Uncertainty | None) -> str:
    """The interval, the difference's interval, the detectable difference, the seeds and the dev set, in words."""
    if uncertainty is None:
        return "exact (no noise)"
    parts = noise_parts(uncertainty, claim.unit or "")
    parts["source"] = f"from {parts['source']}"
    if "dev_interval" in parts:
        parts["dev_set"] += " " + parts.pop("dev_interval")
    return "; ".join(parts.values())


def _sentence(claim: Claim, verdict: Verdict, not_judged: str | None, would_be: Status) -> str:
    """paper, measured, delta, the accepted interval, the noise, then the status (and why a quick run is not judged)."""
    unit = f" {claim.unit}" if claim.unit else ""
    status = (f"not judged ({not_judged}; against the paper it would read {would_be.value})" if not_judged
              else verdict.status.value)
    if would_be is Status.INCONCLUSIVE:
        status += _why_inconclusive(claim, verdict)
    return (f"{claim.id}: paper {verdict.paper_value:g}{unit}, measured {verdict.measured:.4g}{unit} "
            f"(delta {verdict.delta:+.3g}), tolerance {claim.tolerance.describe()} -> "
            f"{fmt_interval(verdict.tolerance_interval)}; {_noise_text(claim, verdict.uncertainty)}: {status}")


def _why_inconclusive(claim: Claim, verdict: Verdict) -> str:
    """Why a run could not decide: consistent with the paper (inside the tolerance, not shown) or not, and what would tell."""
    uncertainty = verdict.uncertainty
    inside = claim.tolerance.allows(claim.paper_value, verdict.measured)
    more = "a longer pass" if claim.family == "speed" else "more seeds"
    if uncertainty is None or not uncertainty.complete or uncertainty.difference is None:
        reason = ("the noise is unknown: time a full pass" if claim.family == "speed"
                  else "the seed-level noise is unknown: run 3 or more seeds")
    elif inside:
        equivalence = uncertainty.equivalence
        reason = ("the 90% interval of the difference " + (fmt_interval(equivalence) if equivalence else "(none)")
                  + f" is not inside the tolerance: {more} would show it")
    else:
        reason = f"outside the tolerance, but the 95% interval of the difference reaches into it: {more} would tell"
    return f": consistent with the paper ({reason})" if inside else f" ({reason})"


def check(verdict: Verdict) -> None:
    """Make the pytest outcome follow the verdict: pass if reproduced or not judged, xfail if inconclusive, else fail."""
    import pytest

    if verdict.status is Status.INCONCLUSIVE:
        pytest.xfail(f"inconclusive (this run cannot decide): {verdict.message}")
    if verdict.status not in (Status.REPRODUCED, Status.NOT_JUDGED):
        pytest.fail(verdict.message, pytrace=False)
