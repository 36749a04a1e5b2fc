"""Tolerance arithmetic and verdicts: hand-worked cases and properties.

Exact measurements (sizes, the paper's arithmetic) are reproduced inside the tolerance and not reproduced as soon
as they leave it; a measurement with seed noise (an accuracy cell) is reproduced only when the 90% interval of its
difference from the paper lies inside the tolerance (TOST), not reproduced only when the 95% interval lies wholly
outside it, never either when its noise is unknown, and "consistent with the paper" when inside but not shown. The
statistics themselves are proven by simulation in tests/test_verdicts_simulated.py.
"""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.judge.runs import judge_runs
from harness.judge.verdict import Status, Verdict, check, decide, judge
from harness.spec.registry import Claim, SeedSpread, Tolerance

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
width = st.floats(min_value=0, max_value=1e3, allow_nan=False)
PRIOR = SeedSpread(1.0, "a test's made-up spread", 5)
GUARD = 2.8736  # sqrt(4 / chi2_4(0.025)): the upper end of the 95% range of a sigma estimated from 5 seeds
ONE_RUN = 1.96 * GUARD * math.sqrt(1 + 0.2868)  # one run against the paper's median of 5, at the guarded sigma


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


def test_one_seed_with_a_prior_is_open_above_inconclusive_near_and_not_reproduced_far_above():
    claim = make_claim(92.7, Tolerance("absolute", 1.0), "glue", PRIOR)
    near, far, below = judge(claim, 94.0), judge(claim, 92.7 + 1.0 + ONE_RUN + 0.5), judge(claim, 40.0)
    assert near.uncertainty.difference[0] == pytest.approx(1.3 - ONE_RUN, abs=0.05)
    assert math.isinf(near.uncertainty.difference[1]) and math.isinf(near.interval[1])  # a lone run may be near-failed
    assert near.interval[0] == pytest.approx(94.0 - 1.96 * GUARD, abs=0.03)
    assert near.status is Status.INCONCLUSIVE and far.status is Status.NOT_REPRODUCED
    assert below.status is Status.INCONCLUSIVE  # one run far below the paper may be a near-failed run
    assert near.uncertainty.detectable == pytest.approx(1.0 + ONE_RUN + 0.8416 * math.sqrt(1.2868), abs=0.05)  # 80% power
    assert "95% interval" in near.message and "smallest detectable difference" in near.message


def test_reproduced_is_shown_and_a_point_inside_that_is_not_shown_is_consistent_with_the_paper():
    claim = make_claim(92.7, Tolerance("absolute", 1.0), "glue", SeedSpread(0.2, "s", 5))
    lone = judge(claim, 92.7)  # the paper's value itself, one run: 1.645 x 2.87 x 0.2 x 1.13 = 1.07 > 1, not shown
    assert lone.status is Status.INCONCLUSIVE and "consistent with the paper" in lone.message
    outside = judge(claim, 93.9)  # 1.2 above: outside the tolerance, but within 1 + 1.28 of it (one run, sigma 0.2)
    assert outside.status is Status.INCONCLUSIVE and "consistent" not in outside.message
    five = judge_runs(claim, [92.6, 92.8, 92.7, 92.5, 92.9])  # five runs near the paper: shown
    assert five.status is Status.REPRODUCED and five.uncertainty.equivalence[1] < 1.0


def test_without_a_prior_one_seed_is_never_not_reproduced_nor_reproduced():
    claim = make_claim(92.7, Tolerance("absolute", 1.0), "glue")
    verdict, inside = judge(claim, 40.0), judge(claim, 92.7)
    assert verdict.status is Status.INCONCLUSIVE and verdict.interval is None
    assert "run 3 or more seeds" in verdict.message
    assert inside.status is Status.INCONCLUSIVE and "consistent with the paper" in inside.message


def test_a_quick_run_is_not_judged_but_keeps_its_value_interval_and_reason():
    claim = make_claim(92.7, Tolerance("absolute", 1.0), "glue", PRIOR)
    verdict = judge(claim, 120.0, not_judged="protocol 'smoke' is a quick protocol")
    assert verdict.status is Status.NOT_JUDGED and verdict.measured == 120.0 and verdict.interval is not None
    assert "protocol 'smoke' is a quick protocol" in verdict.message and "would read not reproduced" in verdict.message
    check(verdict)  # a pass in pytest: never counted as reproduced, never a failure


def test_check_fails_not_reproduced_and_xfails_inconclusive():
    claim = make_claim(92.7, Tolerance("absolute", 1.0), "glue", PRIOR)
    with pytest.raises(pytest.fail.Exception):
        check(judge(claim, 120.0))
    with pytest.raises(pytest.xfail.Exception):
        check(judge(claim, 94.0))
    with pytest.raises(pytest.xfail.Exception, match="consistent with the paper"):
        check(judge(claim, 92.9))
    check(judge(make_claim(92.7, Tolerance("absolute", 1.0)), 92.9))  # exact and inside: reproduced, a pass


# ---------------------------------------------------------------- properties


@given(paper=finite, value=width, kind=st.sampled_from(["absolute", "relative", "at_least", "at_most"]),
       family=st.sampled_from(["size", "glue"]))
def test_the_paper_value_itself_is_never_not_reproduced_and_reproduced_when_exact(paper, value, kind, family):
    verdict = judge(make_claim(paper, Tolerance(kind, value), family, PRIOR), paper)
    assert verdict.status is (Status.REPRODUCED if family == "size" else verdict.status)
    assert verdict.status is not Status.NOT_REPRODUCED


@given(paper=finite, value=width, measured=finite)
def test_absolute_tolerance_is_symmetric(paper, value, measured):
    tolerance = Tolerance("absolute", value)
    assert tolerance.allows(paper, measured) == tolerance.allows(paper, 2 * paper - measured) or math.isclose(
        abs(measured - paper), value, rel_tol=1e-9, abs_tol=1e-9)


@given(paper=st.floats(0, 100), value=st.floats(0, 10), measured=st.floats(0, 100), narrow=st.floats(0.01, 5),
       extra=st.floats(0, 5))
def test_more_noise_never_makes_a_verdict_more_decided(paper, value, measured, narrow, extra):
    """A wider interval can turn 'not reproduced' or 'reproduced' into 'inconclusive', never the reverse."""
    tolerance = Tolerance("absolute", value)
    def spread(sigma):
        return SeedSpread(sigma, "s", 5)

    less = judge(make_claim(paper, tolerance, "glue", spread(narrow)), measured)
    more = judge(make_claim(paper, tolerance, "glue", spread(narrow + extra)), measured)
    if more.status is not Status.INCONCLUSIVE:
        assert less.status is more.status


@given(paper=finite, value=width, measured=finite, sigma=st.floats(0.01, 10))
def test_reproduced_lies_inside_the_tolerance(paper, value, measured, sigma):
    spread = SeedSpread(sigma, "s", 5)
    verdict = judge(make_claim(paper, Tolerance("absolute", value), "glue", spread), measured)
    if verdict.status is Status.REPRODUCED:
        assert Tolerance("absolute", value).allows(paper, measured)


@given(paper=finite, value=width, measured=finite)
def test_unknown_noise_is_never_not_reproduced(paper, value, measured):
    assert judge(make_claim(paper, Tolerance("absolute", value), "glue"), measured).status is not Status.NOT_REPRODUCED


@given(paper=finite, value=width, measured=finite)
def test_one_sided_tolerances_accept_everything_on_their_side(paper, value, measured):
    assert Tolerance("at_least", value).allows(paper, max(paper, measured))
    assert Tolerance("at_most", value).allows(paper, min(paper, measured))


def test_decide_is_vectorised_and_agrees_with_judge():
    claim = make_claim(50.0, Tolerance("absolute", 10.0), "glue", PRIOR)
    runs = [[50.5, 50.0, 51.0], [60.0, 59.0, 61.0], [80.0, 79.0, 81.0]]
    verdicts = [judge_runs(claim, values) for values in runs]
    difference = tuple(zip(*(v.uncertainty.difference for v in verdicts), strict=True))
    equivalence = tuple(zip(*(v.uncertainty.equivalence for v in verdicts), strict=True))
    codes = decide(claim, difference, equivalence, [True] * 3)
    assert [int(c) for c in codes] == [0, 1, 2] and [v.status for v in verdicts] == [
        Status.REPRODUCED, Status.INCONCLUSIVE, Status.NOT_REPRODUCED]


# ---------------------------------------------------------------- the rule as one function: judge_runs


def test_judge_runs_counts_failed_runs_and_errs_when_half_failed():
    claim = make_claim(69.3, Tolerance("absolute", 5.0), "glue", SeedSpread(2.4, "s", 5))
    counted = judge_runs(claim, [68.2, 70.1, 52.7, 71.0, 66.4], failed=[False, False, True, False, False])
    assert counted.measured == 68.2 and counted.uncertainty.seeds == {"valid": 4, "invalid": 1, "runs": counted.uncertainty.seeds["runs"]}
    assert judge_runs(claim, [68.2, None, 52.7], failed=[False, True, True]).status is Status.ERROR
    assert "half or more" in judge_runs(claim, [68.2, 52.7], failed=[False, True]).message


def test_judge_runs_weakens_the_prior_off_its_checkpoint():
    claim = make_claim(69.3, Tolerance("absolute", 5.0), "glue", SeedSpread(2.4, "s", 5))
    claim = Claim(**{**claim.__dict__, "task": "rte"})
    here, elsewhere = judge_runs(claim, [69.0]), judge_runs(claim, [69.0], checkpoint="roberta-base")
    assert elsewhere.uncertainty.interval[0] < here.uncertainty.interval[0] and "counted at 0.25" in elsewhere.message
    # with agreeing seeds a weaker prior weighs less against them: the run's own spread counts for more
    assert judge_runs(claim, [69.0] * 3, protocol="seed-study").uncertainty.source.count("counted at 0.5") == 1


def test_judge_runs_refuses_what_is_not_a_claims_runs():
    from harness.errors import ClaimsError

    claim = make_claim(69.3, Tolerance("absolute", 5.0), "glue", SeedSpread(2.4, "s", 5))
    with pytest.raises(ClaimsError, match="one flag per run"):
        judge_runs(claim, [68.0, 69.0], failed=[True])
    with pytest.raises(ClaimsError, match="one cell"):
        judge_runs(claim, {"glue.rte.bert": [68.0]})


def test_judge_runs_combines_a_macro_scores_cells():
    from harness.spec import registry as registry_module

    claims = registry_module.load()
    macro = claims.get("macro.bert")
    cells = {cell.id: [cell.paper_value] * 5 for cell in claims.family("glue") if cell.model == "bert"}
    verdict = judge_runs(macro, cells, registry=claims)  # every cell on the paper's figure, 5 runs each: shown
    assert verdict.status is Status.REPRODUCED and verdict.measured == pytest.approx(79.72, abs=0.01)
    assert verdict.uncertainty.interval is not None and "9 cells" in verdict.uncertainty.source
    from harness.errors import ClaimsError

    with pytest.raises(ClaimsError, match="no runs for glue.cola.bert"):
        judge_runs(macro, {k: v for k, v in cells.items() if k != "glue.cola.bert"}, registry=claims)
