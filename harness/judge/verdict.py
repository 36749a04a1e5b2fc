"""Judge a measurement against a claim: reproduced, not reproduced, inconclusive (or skipped).

reproduced      the measurement lies inside the claim's tolerance around the paper's value;
inconclusive    outside the tolerance but inside the seed-noise band: the run cannot decide;
not reproduced  outside both.
`check` turns a verdict into a pytest outcome: pass, xfail (inconclusive: not a pass) or fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from harness.spec.registry import Claim


class Status(str, Enum):
    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not reproduced"
    INCONCLUSIVE = "inconclusive"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Verdict:
    claim_id: str
    status: Status
    paper_value: float | None
    measured: float | None
    interval: tuple[float, float] | None
    band: tuple[float, float] | None
    message: str

    @property
    def delta(self) -> float | None:
        if self.measured is None or self.paper_value is None:
            return None
        return self.measured - self.paper_value


def _fmt_interval(interval: tuple[float, float]) -> str:
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
    interval = claim.tolerance.interval(paper)
    band = claim.noise_band.interval(paper) if claim.noise_band else None
    if claim.tolerance.allows(paper, measured):
        status = Status.REPRODUCED
    elif claim.noise_band and claim.noise_band.allows(paper, measured):
        status = Status.INCONCLUSIVE
    else:
        status = Status.NOT_REPRODUCED
    unit = f" {claim.unit}" if claim.unit else ""
    message = (
        f"{claim.id}: paper {paper:g}{unit}, measured {measured:.4g}{unit} "
        f"(delta {measured - paper:+.3g}), tolerance {claim.tolerance.describe()} -> {_fmt_interval(interval)}"
        + (f", noise band {_fmt_interval(band)}" if band else "")
        + f": {status.value}"
    )
    return Verdict(claim.id, status, paper, measured, interval, band, message)


def check(verdict: Verdict) -> None:
    """Make the pytest outcome follow the verdict: pass if reproduced, xfail if inconclusive, else fail."""
    import pytest

    if verdict.status is Status.INCONCLUSIVE:
        pytest.xfail(f"inconclusive (inside the seed-noise band): {verdict.message}")
    if verdict.status is not Status.REPRODUCED:
        pytest.fail(verdict.message, pytrace=False)
