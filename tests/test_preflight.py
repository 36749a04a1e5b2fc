"""Bad data stops a --run-slow run before any training (issue 21): the selected fine-tuning claims' local files are
loaded and checked first (harness.plugin.preflight), with the line `python -m harness data` prints.
(--max-train-samples larger than a training split, said by the same preflight: a row of tests/test_bad_inputs.py.)

The inner sessions (pytester, in this process) run claim tests that record the paper's value: whatever the preflight
stops, it stops before any test runs, so no job would have trained.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy  # noqa: F401 - imported before the in-process pytest runs, which may not import numpy twice
import pytest

import harness.measure.accuracy  # noqa: F401 - likewise: what the preflight imports (scipy, datasets, transformers)
import harness.plugin  # noqa: F401 - likewise: the inner runs load the plugin
from harness.data import loading

GLUE = Path(__file__).resolve().parents[1] / "fixtures" / "glue"
CLAIM_TEST = """
import pytest
from harness.judge.verdict import check

@pytest.mark.claims("glue")
def test_glue(claim, record_claim):
    check(record_claim(claim.paper_value))
"""


@pytest.fixture
def inner(pytester, offline, monkeypatch, tmp_path_factory):
    monkeypatch.setenv(loading.CACHE_ENV, str(tmp_path_factory.mktemp("data-cache")))
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    pytester.makepyfile(test_claims=CLAIM_TEST)
    root = pytester.path / "data" / "glue"
    shutil.copytree(GLUE / "SST-2", root / "SST-2")
    return pytester


def test_bad_data_stops_the_run_before_any_test_with_the_data_commands_line(inner, capsys):
    dev = inner.path / "data" / "glue" / "SST-2" / "dev.tsv"
    dev.write_bytes(dev.read_bytes().replace(b"\t1\n", b"\x00\t1\n", 1))
    result = inner.runpytest_inprocess("-p", "no:cacheprovider", "--run-slow", "-k", "glue.sst2.bert", "--data-dir",
                                       str(inner.path / "data"), "--report-dir", str(inner.path / "run"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    error = [line for line in result.errlines if line.startswith("ERROR:")]
    assert len(error) == 1 and "dev.tsv, line" in error[0] and "a NUL byte" in error[0]
    assert "(found before any training); fix: use the file as download_glue_data.py writes it" in error[0]
    assert not (inner.path / "run" / "results.json").exists()
    from harness.cli import main

    assert main(["data", "--task", "sst2", "--data-dir", str(inner.path / "data")]) == 2
    assert capsys.readouterr().err.splitlines()[0].removeprefix("error: ") in error[0]

