"""The pytest integration: options, markers, claim parametrization, slow skips, usage errors.

Each test runs an inner pytest session (pytester) in a temporary folder with the suite's plugin.
"""

import pytest
import yaml

CLAIM_TEST = """
import pytest
from harness.judge.verdict import check

@pytest.mark.claims("size")
def test_size(claim, record_claim):
    check(record_claim(claim.paper_value))

@pytest.mark.claims("glue")
def test_glue(claim, record_claim):
    check(record_claim(claim.paper_value))
"""


@pytest.fixture
def inner(pytester):
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    pytester.makepyfile(test_claims=CLAIM_TEST)
    return pytester


def test_markers_are_registered(inner):
    result = inner.runpytest_subprocess("--markers")
    for marker in ("@pytest.mark.size", "@pytest.mark.speed", "@pytest.mark.slow", "@pytest.mark.claims(*families)"):
        result.stdout.fnmatch_lines([f"{marker}*"])


def test_options_show_as_one_group(inner):
    result = inner.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["DistilBERT paper claims*", "*--run-slow*", "*--device*", "*--bert-checkpoint*",
                                 "*--distilbert-checkpoint*", "*--data-dir*", "*--report-dir*"])


def test_unknown_device_is_a_usage_error(inner):
    result = inner.runpytest_subprocess("--device", "tpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*invalid choice: 'tpu'*"])


def test_slow_claims_skip_with_the_reason_and_run_with_the_option(inner):
    result = inner.runpytest_subprocess("-rs", "--report-dir", str(inner.path / "run"))
    result.assert_outcomes(passed=3, skipped=18)
    result.stdout.fnmatch_lines(["*needs --run-slow: full fine-tuning*"])
    result = inner.runpytest_subprocess("--run-slow", "--report-dir", str(inner.path / "run2"))
    result.assert_outcomes(passed=21)


def test_collect_only_lists_every_slow_claim_by_id(inner):
    result = inner.runpytest_subprocess("--run-slow", "--collect-only", "-q", "-m", "slow")
    result.stdout.fnmatch_lines(["*test_glue[[]glue.cola.bert[]]*", "*test_glue[[]glue.wnli.distilbert[]]*"])


def test_results_and_summary_are_written(inner):
    run_dir = inner.path / "run"
    result = inner.runpytest_subprocess("--report-dir", str(run_dir))
    result.stdout.fnmatch_lines(["*DistilBERT claims*", "REPRODUCED*size.bert.parameters*", f"report: {run_dir}"])
    assert (run_dir / "results.json").is_file()


def test_a_malformed_registry_fails_collection_naming_row_and_field(inner, repo_root):
    document = yaml.safe_load((repo_root / "claims" / "registry.yaml").read_text())
    document["claims"][1]["tolerance"] = {"kind": "absolute", "value": "wide"}
    bad = inner.path / "bad.yaml"
    bad.write_text(yaml.safe_dump(document))
    result = inner.runpytest_subprocess("--registry", str(bad))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*claim #2 (id 'size.distilbert.parameters'), field 'tolerance.value'*"])


def test_a_claim_test_without_a_family_is_refused(pytester):
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    pytester.makepyfile("def test_x(claim):\n    pass\n")
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(["*needs @pytest.mark.claims*"])
