"""Judge a measurement against a claim: the one Verdict type, and every status a claim can end in.

reproduced      the measurement lies inside the claim's tolerance around the paper's value;
inconclusive    outside the tolerance but inside the seed-noise band: the run cannot decide;
not reproduced  outside both;
skipped         not measured (an absent input, a deselected or out-of-scope claim): the message says why;
error           the test ended before it recorded a measurement: the message is the error.
`judge` gives the first three, `Verdict.skipped` and `Verdict.error` the last two; the plugin keeps
every Verdict and results.json is written from it. `check` turns a verdict into a pytest outcome:
pass, xfail (inconclusive: not a pass) or fail. This module neither measures nor writes anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import Enum

from harness.spec.registry import Claim

Interval = tuple[float, float]  # low, high; -inf / inf for an open side


class Status(str, Enum):
    """Every verdict a claim can end in, as results.json and the report spell it."""

    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not reproduced"
    INCONCLUSIVE = "inconclusive"
    SKIPPED = "skipped"
    ERROR = "error"


@dataclass(frozen=True)
class Verdict:
    """The one result of judging a claim: its status, the values compared, the intervals and the sentence."""

    claim_id: str
    status: Status
    paper_value: float | None
    measured: float | None
    tolerance_interval: Interval | None  # what the tolerance accepts around the paper's value
    noise_interval: Interval | None  # the seed-noise band around it (inconclusive inside)
    message: str

    @property
    def delta(self) -> float | None:
        """measured - paper value, or None where either is absent."""
        if self.measured is None or self.paper_value is None:
            return None
        return self.measured - self.paper_value

    @classmethod
    def skipped(cls, claim: Claim, reason: str) -> Verdict:
        """A claim that was not measured, and why."""
        return cls._unmeasured(claim, Status.SKIPPED, reason)

    @classmethod
    def error(cls, claim: Claim, message: str) -> Verdict:
        """A claim whose test ended before it recorded a measurement: an error of the run, not a verdict on the paper."""
        return cls._unmeasured(claim, Status.ERROR, message)

    @classmethod
    def _unmeasured(cls, claim: Claim, status: Status, message: str) -> Verdict:
        return cls(claim.id, status, claim.paper_value, None, *_intervals(claim), message)


def _intervals(claim: Claim) -> tuple[Interval | None, Interval | None]:
    """The tolerance's and the noise band's intervals around the claim's paper value (None where it has none)."""
    if claim.paper_value is None:
        return None, None
    paper = claim.paper_value
    return (claim.tolerance.interval(paper) if claim.tolerance else None,
            claim.noise_band.interval(paper) if claim.noise_band else None)


def _fmt_interval(interval: Interval) -> str:
    low, high = interval
    low_text = "-inf" if math.isinf(low) else f"{low:.4g}"
    high_text = "inf" if math.isinf(high) else f"{high:.4g}"
    return f"[{low_text}, {high_text}]"


def judge(claim: Claim, measured: float) -> Verdict:
    """Compare one measured value with the claim's paper value under its tolerance and noise band."""
    if claim.tolerance is None or claim.paper_value is None:
        raise ValueError(f"claim {claim.id} has no tolerance or paper value: it cannot be judged")
    if measured is None or not math.isfinite(measured):
        raise ValueError(f"claim {claim.id}: measured value {measured!r} is not a finite number")
    paper = claim.paper_value
    interval, band = _intervals(claim)
    if claim.tolerance.allows(paper, measured):
        status = Status.REPRODUCED
    elif claim.noise_band and claim.noise_band.allows(paper, measured):
        status = Status.INCONCLUSIVE
    else:
        status = Status.NOT_REPRODUCED
    verdict = Verdict(claim.id, status, paper, measured, interval, band, message="")
    return replace(verdict, message=_sentence(claim, verdict))


def _sentence(claim: Claim, verdict: Verdict) -> str:
    """paper, measured, delta, the accepted interval (and the noise band), then the status."""
    unit = f" {claim.unit}" if claim.unit else ""
    band = f", noise band {_fmt_interval(verdict.noise_interval)}" if verdict.noise_interval else ""
    return (f"{claim.id}: paper {verdict.paper_value:g}{unit}, measured {verdict.measured:.4g}{unit} "
            f"(delta {verdict.delta:+.3g}), tolerance {claim.tolerance.describe()} -> "
            f"{_fmt_interval(verdict.tolerance_interval)}{band}: {verdict.status.value}")


def check(verdict: Verdict) -> None:
    """Make the pytest outcome follow the verdict: pass if reproduced, xfail if inconclusive, else fail."""
    import pytest

    if verdict.status is Status.INCONCLUSIVE:
        pytest.xfail(f"inconclusive (inside the seed-noise band): {verdict.message}")
    if verdict.status is not Status.REPRODUCED:
        pytest.fail(verdict.message, pytrace=False)
