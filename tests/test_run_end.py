"""How a run ends when it did not measure what it set out to (issue 21): interrupted (Ctrl-C), or -k / -m selecting no
claim. Neither writes a report, and reports/latest keeps pointing at the last run that did; each says so in one line.
A run that ends normally writes its report, then points reports/latest at it.

The inner pytest sessions (pytester, in this process) load the suite's plugin and claim tests that record the paper's
value, one of which can raise KeyboardInterrupt, what Ctrl-C raises in the test that is running.
"""

from __future__ import annotations

import json
import os

import numpy  # noqa: F401 - imported before the in-process pytest runs, which may not import numpy twice
import pytest

import harness.plugin  # noqa: F401 - likewise: the inner runs load the plugin

CLAIM_TEST = """
import os

import pytest
from harness.judge.verdict import check

@pytest.mark.claims("size")
def test_size(claim, record_claim):
    if claim.id == os.environ.get("CTRL_C_AT"):
        raise KeyboardInterrupt
    check(record_claim(claim.paper_value))
"""


def test_only_a_run_that_ends_writes_its_report_and_moves_latest(pytester, monkeypatch):
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    pytester.makepyfile(test_claims=CLAIM_TEST)
    reports = pytester.path / "reports"

    finished = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert finished.ret == 0
    latest = os.readlink(reports / "latest")
    assert json.loads((reports / latest / "results.json").read_text())["summary"]["reproduced"] == 3
    runs = sorted(reports.iterdir())

    monkeypatch.setenv("CTRL_C_AT", "size.distilbert.parameters")
    interrupted = pytester.runpytest_inprocess("-p", "no:cacheprovider", no_reraise_ctrlc=True)
    assert interrupted.ret == pytest.ExitCode.INTERRUPTED
    interrupted.stdout.fnmatch_lines(["DistilBERT claims: interrupted: no report written, reports/latest left as it was*"
                                      "run the same command again to resume*"])
    assert "SKIPPED" not in interrupted.stdout.str() and "report:" not in interrupted.stdout.str()
    assert os.readlink(reports / "latest") == latest and sorted(reports.iterdir()) == runs

    monkeypatch.delenv("CTRL_C_AT")
    nothing = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-k", "size.bert.parameterz")
    assert nothing.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    lines = [line for line in nothing.stdout.lines if "DistilBERT claims" in line or "SKIPPED" in line]
    assert len(lines) == 1 and lines[0].startswith(
        "DistilBERT claims: no claim matched -k 'size.bert.parameterz': nothing measured, no report written, reports/latest "
        "left as it was; did you mean 'size.bert.parameters'"), nothing.stdout.str()
    assert os.readlink(reports / "latest") == latest and sorted(reports.iterdir()) == runs
