"""Tolerance arithmetic and verdicts: hand-worked cases and properties.

Exact measurements (sizes, the paper's arithmetic) are not reproduced as soon as they leave the tolerance;
a measurement with seed noise (an accuracy cell) is not reproduced only when the interval of its difference
from the paper lies wholly outside the tolerance, and never when its noise is unknown. The statistics
themselves are proven by simulation in tests/test_verdicts_simulated.py.
"""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.judge.verdict import Status, Verdict, check, decide, judge
from harness.spec.registry import Claim, SeedSpread, Tolerance

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
width = st.floats(min_value=0, max_value=1e3, allow_nan=False)
PRIOR = SeedSpread(1.0, "a test's made-up spread")


def make_claim(paper: float, tolerance: Tolerance, family: str = "size", prior: SeedSpread | None = None,
               paper_seeds: int = 5) -> Claim:
    return Claim(id="t.claim", version=1, family=family, statement="s", source="Table 1", metric="accuracy",
                 metric_reason="r", marker="slow", paper_value=paper, tolerance=tolerance, tolerance_reason="r",
                 seed_spread=prior, paper_seeds=paper_seeds, model="bert", task="sst2")


# ---------------------------------------------------------------- hand-worked cases: exact measurements


@pytest.mark.parametrize(
    ("tolerance", "measured", "status"),
    [
        (Tolerance("absolute", 1.0), 92.0, Status.REPRODUCED),
        (Tolerance("absolute", 1.0), 91.7, Status.REPRODUCED),  # exactly on the edge
        (Tolerance("absolute", 1.0), 94.0, Status.NOT_REPRODUCED),  # exact: outside is outside (no noise band any more)
        (Tolerance("absolute", 1.0), 95.0, Status.NOT_REPRODUCED),
        (Tolerance("relative", 0.01), 93.6, Status.REPRODUCED),  # 1% of 92.7 = 0.927
        (Tolerance("at_least", 0.5), 200.0, Status.REPRODUCED),
        (Tolerance("at_most", 0.5), 10.0, Status.REPRODUCED),
        (Tolerance("at_most", 0.5), 93.5, Status.NOT_REPRODUCED),
    ],
)
def test_hand_worked_verdicts_of_exact_measurements(tolerance, measured, status):
    assert judge(make_claim(92.7, tolerance), measured).status is status


def test_size_claim_as_in_the_paper():
    claim = make_claim(110, Tolerance("relative", 0.01))
    assert judge(claim, 109.48224).status is Status.REPRODUCED
    assert judge(claim, 108.8).status is Status.NOT_REPRODUCED


def test_message_names_paper_measured_tolerance_and_verdict():
    message = judge(make_claim(92.7, Tolerance("absolute", 1.0)), 90.0).message
    assert "paper 92.7" in message and "measured 90" in message and "±1" in message and "not reproduced" in message


def test_the_verdict_keeps_the_delta_and_the_tolerance_it_judged_by():
    verdict = judge(make_claim(92.7, Tolerance("absolute", 1.0)), 94.0)
    assert verdict.delta == pytest.approx(1.3) and "(delta +1.3)" in verdict.message
    assert verdict.tolerance_interval == pytest.approx((91.7, 93.7)) and verdict.interval is None
    assert judge(make_claim(1.63, Tolerance("at_least", 0.08)), 2.0).tolerance_interval == (pytest.approx(1.55), math.inf)


def test_skipped_and_error_verdicts_carry_the_claims_tolerance_and_no_measurement():
    claim = make_claim(92.7, Tolerance("absolute", 1.0))
    for verdict, status in ((Verdict.skipped(claim, "needs --run-slow"), Status.SKIPPED),
                            (Verdict.error(claim, "RuntimeError: out of memory"), Status.ERROR)):
        assert verdict.status is status and verdict.measured is None and verdict.delta is None
        assert verdict.paper_value == 92.7 and verdict.tolerance_interval == pytest.approx((91.7, 93.7))
    assert Verdict.skipped(claim, "needs --run-slow").message == "needs --run-slow"


def test_non_finite_measurement_is_refused():
    with pytest.raises(ValueError):
        judge(make_claim(1.0, Tolerance("absolute", 1.0)), math.nan)


# ---------------------------------------------------------------- hand-worked cases: one seed of a noisy cell


def test_one_seed_with_a_prior_is_inconclusive_near_the_tolerance_and_not_reproduced_far_from_it():
    claim = make_claim(92.7, Tolerance("absolute", 1.0), "glue", PRIOR)
    near, far = judge(claim, 94.0), judge(claim, 97.0)
    # one seed against the paper's median of 5, sigma 1: the difference is measured +- 2.22 (calibrated, 95%)
    assert near.uncertainty.difference == pytest.approx((1.3 - 2.22, 1.3 + 2.22), abs=0.02)
    assert near.status is Status.INCONCLUSIVE and far.status is Status.NOT_REPRODUCED
    assert near.interval == pytest.approx((94.0 - 1.96, 94.0 + 1.96), abs=0.02)
    assert near.uncertainty.detectable == pytest.approx(1.0 + 2.22 + 0.96, abs=0.03)
    assert "95% interval" in near.message and "smallest detectable difference" in near.message


def test_without_a_prior_one_seed_is_never_not_reproduced():
    claim = make_claim(92.7, Tolerance("absolute", 1.0), "glue")
    verdict = judge(claim, 40.0)
    assert verdict.status is Status.INCONCLUSIVE and verdict.interval is None
    assert "run 3 or more seeds" in verdict.message


def test_a_quick_run_is_not_judged_but_keeps_its_value_interval_and_reason():
    claim = make_claim(92.7, Tolerance("absolute", 1.0), "glue", PRIOR)
    verdict = judge(claim, 80.0, not_judged="protocol 'smoke' is a quick protocol")
    assert verdict.status is Status.NOT_JUDGED and verdict.measured == 80.0 and verdict.interval is not None
    assert "protocol 'smoke' is a quick protocol" in verdict.message and "would read not reproduced" in verdict.message
    check(verdict)  # a pass in pytest: never counted as reproduced, never a failure


def test_check_fails_not_reproduced_and_xfails_inconclusive():
    claim = make_claim(92.7, Tolerance("absolute", 1.0), "glue", PRIOR)
    with pytest.raises(pytest.fail.Exception):
        check(judge(claim, 97.0))
    with pytest.raises(pytest.xfail.Exception):
        check(judge(claim, 94.0))
    check(judge(claim, 92.9))


# ---------------------------------------------------------------- properties


@given(paper=finite, value=width, kind=st.sampled_from(["absolute", "relative", "at_least", "at_most"]),
       family=st.sampled_from(["size", "glue"]))
def test_the_paper_value_itself_is_always_reproduced(paper, value, kind, family):
    assert judge(make_claim(paper, Tolerance(kind, value), family, PRIOR), paper).status is Status.REPRODUCED


@given(paper=finite, value=width, measured=finite)
def test_absolute_tolerance_is_symmetric(paper, value, measured):
    tolerance = Tolerance("absolute", value)
    assert tolerance.allows(paper, measured) == tolerance.allows(paper, 2 * paper - measured) or math.isclose(
        abs(measured - paper), value, rel_tol=1e-9, abs_tol=1e-9)


@given(paper=st.floats(0, 100), value=st.floats(0, 10), measured=st.floats(0, 100), narrow=st.floats(0.01, 5),
       extra=st.floats(0, 5))
def test_more_noise_never_makes_a_verdict_not_reproduced(paper, value, measured, narrow, extra):
    """A wider interval can turn 'not reproduced' into 'inconclusive', never the reverse, and never moves 'reproduced'."""
    tolerance = Tolerance("absolute", value)
    less = judge(make_claim(paper, tolerance, "glue", SeedSpread(narrow, "s")), measured)
    more = judge(make_claim(paper, tolerance, "glue", SeedSpread(narrow + extra, "s")), measured)
    if more.status is Status.NOT_REPRODUCED:
        assert less.status is Status.NOT_REPRODUCED
    assert (less.status is Status.REPRODUCED) == (more.status is Status.REPRODUCED)


@given(paper=finite, value=width, measured=finite)
def test_unknown_noise_is_never_not_reproduced(paper, value, measured):
    assert judge(make_claim(paper, Tolerance("absolute", value), "glue"), measured).status is not Status.NOT_REPRODUCED


@given(paper=finite, value=width, measured=finite)
def test_one_sided_tolerances_accept_everything_on_their_side(paper, value, measured):
    assert Tolerance("at_least", value).allows(paper, max(paper, measured))
    assert Tolerance("at_most", value).allows(paper, min(paper, measured))


def test_decide_is_vectorised_and_agrees_with_judge():
    claim = make_claim(50.0, Tolerance("absolute", 1.0), "glue", PRIOR)
    measured = [50.5, 52.0, 56.0]
    verdicts = [judge(claim, m) for m in measured]
    low, high = zip(*(v.uncertainty.difference for v in verdicts), strict=True)
    codes = decide(claim, measured, low, high, [True] * 3)
    assert [int(c) for c in codes] == [0, 1, 2] and [v.status for v in verdicts] == [
        Status.REPRODUCED, Status.INCONCLUSIVE, Status.NOT_REPRODUCED]
