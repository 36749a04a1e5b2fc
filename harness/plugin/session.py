"""The run's results state: the Verdict of every claim test, and the one error policy of the claims.

`record_claim` judges a measurement (its uncertainty from harness.judge.uncertainty, the verdict from
harness.judge.verdict) and keeps the Verdict with the details the test gives; `pytest_runtest_makereport`
keeps what became of each claim test (its pytest outcome, a skip with its reason, or an error when the
test ended before it recorded anything) and puts the claim into the test's JUnit properties (paper value,
measurement, interval, tolerance, seeds, verdict). The error policy (`error_policy`), the same for every
claim family and for the fine-tuning jobs run as test items (harness.plugin.distributed), wraps the setup
and the call of every claim test:
    harness.errors.MissingInput  (an absent input: weights, data, a GPU, the Hub, an option)
                                 -> the claim skips: "cannot measure <claim id>: <the error and its fix>";
    any other ClaimsError        -> the claim fails with its message, no traceback (pytrace off): a
                                    malformed file, a metric given the wrong number of predictions, a
                                    cell whose every seed was invalid (verdict `error`);
    any other exception          -> the claim fails with its traceback (a bug of ours).
With --fail-inconclusive an inconclusive verdict fails its test too (for CI that wants a decision).
Claim tests and their fixtures simply raise. Where the results go is harness.plugin.storage's job.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from harness.errors import ClaimsError, MissingInput
from harness.judge.verdict import Status, Verdict, fmt_interval, judge, judge_measurement
from harness.measure.measurement import Measurement
from harness.plugin.options import REGISTRY_KEY, SLOW_REASON, claim_of
from harness.reporting.results import ClaimResult, not_run
from harness.spec.registry import Claim


class ClaimsSession:
    """What this run's claim tests produced, by node id, and the claims that -m / -k deselected."""

    def __init__(self) -> None:
        self.results: dict[str, ClaimResult] = {}
        self.deselected: set[str] = set()
        self.error_details: dict[str, dict[str, Any]] = {}  # nodeid -> the details an error carried (RunFailed's)

    def record(self, nodeid: str, claim: Claim, verdict: Verdict, details: dict[str, Any]) -> None:
        self.results[nodeid] = ClaimResult(claim, nodeid, verdict, details=details)

    def add_report(self, claim: Claim, report: pytest.TestReport, call: pytest.CallInfo[None]) -> None:
        """Keep the outcome of one phase of a claim test: a skip and its reason, or the outcome of its verdict."""
        result = self.results.get(report.nodeid)
        if report.skipped and not hasattr(report, "wasxfail"):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            verdict = Verdict.skipped(claim, reason.removeprefix("Skipped: "))
            self.results[report.nodeid] = ClaimResult(claim, report.nodeid, verdict, outcome="skipped")
        elif report.when == "call" or report.failed:
            if result is None:  # the test ended before it recorded a measurement: an error of the run, not a verdict
                result = ClaimResult(claim, report.nodeid, Verdict.error(claim, _error_message(report, call)),
                                     details=self.error_details.pop(report.nodeid, {}))
            self.results[report.nodeid] = replace(result, outcome="xfailed" if hasattr(report, "wasxfail") else report.outcome,
                                                  duration_s=result.duration_s + report.duration)

    def finish(self, config: pytest.Config) -> list[ClaimResult]:
        """Every claim of the registry: the tests' results, then each claim no test judged, skipped with why."""
        judged = {result.claim.id for result in self.results.values()}
        for claim in config.stash[REGISTRY_KEY].claims:
            if claim.id not in judged:
                self.results[f"not run: {claim.id}"] = not_run(claim, self._not_run_reason(config, claim))
        return list(self.results.values())

    def _not_run_reason(self, config: pytest.Config, claim: Claim) -> str:
        if claim.out_of_scope:
            return f"out of scope: {claim.out_of_scope}"
        reasons = [SLOW_REASON] if claim.marker == "slow" and not config.getoption("--run-slow") else []
        if claim.id in self.deselected:
            selection = (("-m", config.option.markexpr), ("-k", config.option.keyword))
            chosen = [f"{flag} {value!r}" for flag, value in selection if value]
            reasons.append(f"not selected in this run ({' '.join(chosen) or 'deselected'})")
        else:
            reasons.append("no test of this run collected it")
        return "; ".join(reasons)


SESSION_KEY = pytest.StashKey[ClaimsSession]()


def configure(config: pytest.Config) -> None:
    config.stash[SESSION_KEY] = ClaimsSession()
    config.pluginmanager.register(JunitFamily(config), "claims-junit-family")


class JunitFamily:
    """JUnit XML valid for its family. xunit1 (this project's pyproject.toml says junit_family = "xunit1") allows
    properties in a testcase, where CI dashboards show a claim's paper value, measurement and verdict beside it.
    xunit2 (pytest's default where no ini file says otherwise) allows them only in the test suite: there each test's
    properties are moved to the suite's, named "<test id>::<name>", before junitxml writes the testcase (the report's
    user_properties are emptied), so the file still validates."""

    def __init__(self, config: pytest.Config):
        self.config = config

    @pytest.hookimpl(tryfirst=True)  # before junitxml's own hook writes the testcase
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from _pytest.junitxml import xml_key  # the key record_testsuite_property uses

        xml = self.config.stash.get(xml_key, None)
        if xml is None or xml.family != "xunit2" or not report.user_properties:
            return
        for name, value in report.user_properties:
            key = f"{report.nodeid}::{name}"  # each phase's report repeats them: the last value stands, once
            xml.global_properties[:] = [(known, old) for known, old in xml.global_properties if known != key]
            xml.add_global_property(key, value)
        report.user_properties = []


def _error_message(report: pytest.TestReport, call: pytest.CallInfo[None]) -> str:
    """The error that ended a claim test: a failure's message, else the exception's type and text."""
    if call.excinfo is not None:
        error = call.excinfo.value
        return str(error) if isinstance(error, pytest.fail.Exception) else call.excinfo.exconly()
    return str(report.longrepr).strip().splitlines()[-1] if report.longrepr else "no measurement recorded"


@contextlib.contextmanager
def error_policy(subject: str, action: str = "measure") -> Iterator[None]:
    """The suite's one error policy, for a claim test and a fine-tuning job item alike: an absent input skips
    ("cannot <action> <subject>: <the error and its fix>"); any other ClaimsError fails in one message, without a
    traceback; anything else propagates (a bug of ours: its traceback)."""
    try:
        yield
    except MissingInput as missing:  # `from None`: the reason alone, not the exception it replaces
        raise pytest.skip.Exception(f"cannot {action} {subject}: {missing}") from None
    except ClaimsError as error:
        raise pytest.fail.Exception(f"{subject}: {error}", pytrace=False) from None


@contextlib.contextmanager
def _claim_policy(claim: Claim, item: pytest.Item | None = None) -> Iterator[None]:
    """error_policy for a claim; item (the call phase): under --fail-inconclusive, the xfail of an inconclusive
    verdict becomes a failure."""
    try:
        with error_policy(claim.id):
            try:
                yield
            except ClaimsError as error:  # what the run found before it failed (harness.measure.accuracy.RunFailed)
                if item is not None and getattr(error, "details", None) and SESSION_KEY in item.config.stash:
                    item.config.stash[SESSION_KEY].error_details[item.nodeid] = error.details
                raise
    except pytest.xfail.Exception as xfailed:
        result = item.config.stash[SESSION_KEY].results.get(item.nodeid) if item and SESSION_KEY in item.config.stash else None
        if (result is None or result.verdict.status is not Status.INCONCLUSIVE
                or not item.config.getoption("--fail-inconclusive", False)):
            raise
        raise pytest.fail.Exception(f"--fail-inconclusive: {xfailed.msg}", pytrace=False) from None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    claim = claim_of(item)
    with _claim_policy(claim) if claim else contextlib.nullcontext():
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    claim = claim_of(item)
    with _claim_policy(claim, item) if claim else contextlib.nullcontext():
        return (yield)


def junit_properties(result: ClaimResult) -> list[tuple[str, str]]:
    """The claim as JUnit properties of its testcase: what a CI dashboard shows beside pass / fail."""
    claim, verdict = result.claim, result.verdict
    uncertainty = verdict.uncertainty
    seeds = (uncertainty.seeds if uncertainty else {}) or {}
    properties = [("claim", claim.id), ("paper_value", "" if verdict.paper_value is None else f"{verdict.paper_value:g}"),
                  ("measured", "" if verdict.measured is None else f"{verdict.measured:.6g}"),
                  ("interval", fmt_interval(verdict.interval) if verdict.interval else ""),
                  ("tolerance", f"{claim.tolerance.describe()} -> {fmt_interval(verdict.tolerance_interval)}"
                   if claim.tolerance and verdict.tolerance_interval else ""),
                  ("seeds", f"{seeds['valid']} valid, {seeds['invalid']} invalid" if "valid" in seeds else ""),
                  ("verdict", verdict.status.value)]
    return [(f"claim_{name}" if name != "claim" else name, value) for name, value in properties]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    claim = claim_of(item)
    if claim is not None and SESSION_KEY in item.config.stash:
        session = item.config.stash[SESSION_KEY]
        session.add_report(claim, report, call)
        result = session.results.get(report.nodeid)
        if result is not None and (report.when == "call" or report.skipped or report.failed):
            # junitxml writes the properties of the teardown report, made from item.user_properties
            item.user_properties[:] = [p for p in item.user_properties if not p[0].startswith("claim")]
            item.user_properties.extend(junit_properties(result))
    return report


def pytest_deselected(items: list[pytest.Item]) -> None:
    for item in items:
        claim = claim_of(item)
        if claim is not None and SESSION_KEY in item.config.stash:
            item.config.stash[SESSION_KEY].deselected.add(claim.id)


@pytest.fixture
def record_claim(request: pytest.FixtureRequest, claim: Claim) -> Callable[..., Verdict]:
    """Judge a measurement of this test's claim, keep the verdict for the report, and return it.

    Takes a Measurement (its details, summary, cells and not_judged reason are used; the uncertainty comes
    from harness.judge.uncertainty) or a bare value. Keyword details are stored with the result; a
    `summary` string is also printed under the claim's line in the terminal summary.
    """

    def record(measured: float | Measurement, **details: Any) -> Verdict:
        if isinstance(measured, Measurement):
            details = {"summary": measured.summary, **measured.details, **details}
            verdict = judge_measurement(claim, measured, request.config.stash.get(REGISTRY_KEY, None))
        else:
            verdict = judge(claim, measured)
        request.config.stash[SESSION_KEY].record(request.node.nodeid, claim, verdict, details)
        return verdict

    return record
