"""Tolerance arithmetic and verdicts: hand-worked cases and properties."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.judge.verdict import Status, Verdict, judge
from harness.spec.registry import Claim, Tolerance

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
width = st.floats(min_value=0, max_value=1e3, allow_nan=False)


def make_claim(paper: float, tolerance: Tolerance, band: Tolerance | None = None) -> Claim:
    return Claim(id="t.claim", version=1, family="glue", statement="s", source="Table 1", metric="accuracy",
                 metric_reason="r", marker="slow", paper_value=paper, tolerance=tolerance, noise_band=band,
                 tolerance_reason="r")


# ---------------------------------------------------------------- hand-worked cases


@pytest.mark.parametrize(
    ("tolerance", "measured", "status"),
    [
        (Tolerance("absolute", 1.0), 92.0, Status.REPRODUCED),
        (Tolerance("absolute", 1.0), 91.7, Status.REPRODUCED),  # exactly on the edge
        (Tolerance("absolute", 1.0), 94.0, Status.INCONCLUSIVE),  # inside the 2-point band
        (Tolerance("absolute", 1.0), 95.0, Status.NOT_REPRODUCED),
        (Tolerance("relative", 0.01), 93.6, Status.REPRODUCED),  # 1% of 92.7 = 0.927
        (Tolerance("at_least", 0.5), 200.0, Status.REPRODUCED),
        (Tolerance("at_most", 0.5), 10.0, Status.REPRODUCED),
        (Tolerance("at_most", 0.5), 93.5, Status.INCONCLUSIVE),
    ],
)
def test_hand_worked_verdicts(tolerance, measured, status):
    band = Tolerance(tolerance.kind, tolerance.value * 2) if tolerance.kind != "relative" else None
    assert judge(make_claim(92.7, tolerance, band), measured).status is status


def test_size_claim_as_in_the_paper():
    claim = make_claim(110, Tolerance("relative", 0.01))
    assert judge(claim, 109.48224).status is Status.REPRODUCED
    assert judge(claim, 108.8).status is Status.NOT_REPRODUCED


def test_message_names_paper_measured_tolerance_and_verdict():
    message = judge(make_claim(92.7, Tolerance("absolute", 1.0)), 90.0).message
    assert "paper 92.7" in message and "measured 90" in message and "±1" in message and "not reproduced" in message


def test_the_verdict_keeps_the_delta_and_the_intervals_it_judged_by():
    verdict = judge(make_claim(92.7, Tolerance("absolute", 1.0), Tolerance("absolute", 2.0)), 94.0)
    assert verdict.delta == pytest.approx(1.3) and "(delta +1.3)" in verdict.message
    assert verdict.tolerance_interval == pytest.approx((91.7, 93.7)) and verdict.noise_interval == pytest.approx((90.7, 94.7))
    assert judge(make_claim(1.63, Tolerance("at_least", 0.08)), 2.0).tolerance_interval == (pytest.approx(1.55), math.inf)


def test_skipped_and_error_verdicts_carry_the_claims_intervals_and_no_measurement():
    claim = make_claim(92.7, Tolerance("absolute", 1.0))
    for verdict, status in ((Verdict.skipped(claim, "needs --run-slow"), Status.SKIPPED),
                            (Verdict.error(claim, "RuntimeError: out of memory"), Status.ERROR)):
        assert verdict.status is status and verdict.measured is None and verdict.delta is None
        assert verdict.paper_value == 92.7 and verdict.tolerance_interval == pytest.approx((91.7, 93.7))
    assert Verdict.skipped(claim, "needs --run-slow").message == "needs --run-slow"


def test_non_finite_measurement_is_refused():
    with pytest.raises(ValueError):
        judge(make_claim(1.0, Tolerance("absolute", 1.0)), math.nan)


# ---------------------------------------------------------------- properties


@given(paper=finite, value=width, kind=st.sampled_from(["absolute", "relative", "at_least", "at_most"]))
def test_the_paper_value_itself_is_always_reproduced(paper, value, kind):
    assert judge(make_claim(paper, Tolerance(kind, value)), paper).status is Status.REPRODUCED


@given(paper=finite, value=width, measured=finite)
def test_absolute_tolerance_is_symmetric(paper, value, measured):
    tolerance = Tolerance("absolute", value)
    assert tolerance.allows(paper, measured) == tolerance.allows(paper, 2 * paper - measured) or math.isclose(
        abs(measured - paper), value, rel_tol=1e-9, abs_tol=1e-9)


@given(paper=finite, value=width, extra=width, measured=finite)
def test_a_wider_band_never_turns_reproduced_into_anything_else(paper, value, extra, measured):
    narrow = judge(make_claim(paper, Tolerance("absolute", value)), measured)
    banded = judge(make_claim(paper, Tolerance("absolute", value), Tolerance("absolute", value + extra)), measured)
    if narrow.status is Status.REPRODUCED:
        assert banded.status is Status.REPRODUCED
    else:
        assert banded.status in (Status.INCONCLUSIVE, Status.NOT_REPRODUCED)


@given(paper=finite, value=width, measured=finite)
def test_one_sided_tolerances_accept_everything_on_their_side(paper, value, measured):
    assert Tolerance("at_least", value).allows(paper, max(paper, measured))
    assert Tolerance("at_most", value).allows(paper, min(paper, measured))
