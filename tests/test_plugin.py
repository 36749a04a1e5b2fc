"""The pytest integration: options, markers, claim parametrization, slow skips, usage errors, the error policy.

Each test runs an inner pytest session (pytester) in a temporary folder with the suite's plugin.
"""

import json
import subprocess
import sys
import time

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
    # each glue cell records its paper value as one bare run: consistent with the paper, but one run cannot show it
    result.assert_outcomes(passed=3, xfailed=18)


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


# ---------------------------------------------------------------- the error policy, the same for every family

POLICY_TEST = """
import pytest
from harness.errors import ClaimsError, MissingInput

@pytest.fixture(scope="session")
def absent_input():
    raise MissingInput("no STS-B dev pairs here", "pass --data-dir DIR")

@pytest.mark.claims("size")
def test_size(claim, record_claim):
    if claim.id == "size.bert.parameters":
        raise MissingInput("checkpoint folder 'x' has no weights", "pass --bert-checkpoint DIR")
    if claim.id == "size.distilbert.parameters":
        raise ClaimsError("rte: 276 predictions for 277 references", "correct the metric's input")
    raise RuntimeError("a bug of ours")

@pytest.mark.claims("speed")
def test_speed(claim, absent_input):
    pass
"""


@pytest.fixture(scope="module")
def policy_run(tmp_path_factory):
    """One inner run of POLICY_TEST for the three tests that read it (pytester's folders are per test)."""
    folder = tmp_path_factory.mktemp("policy")
    (folder / "conftest.py").write_text('pytest_plugins = ["harness.plugin"]\n')
    (folder / "test_policy.py").write_text(POLICY_TEST)
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "pytest", "-rs", "--report-dir", str(folder / "run"), "-p", "no:cacheprovider",
                          "--rootdir", str(folder), "--basetemp", str(folder / "basetemp")], cwd=folder, capture_output=True,
                         text=True, timeout=300)
    result = pytest.RunResult(run.returncode, run.stdout.splitlines(), run.stderr.splitlines(), time.monotonic() - started)
    claims = {c["id"]: c for c in json.loads((folder / "run" / "results.json").read_text())["claims"]}
    return result, claims


def test_a_missing_input_skips_the_claim_naming_the_input_and_the_fix(policy_run):
    result, claims = policy_run
    result.stdout.fnmatch_lines(["*cannot measure size.bert.parameters: checkpoint folder 'x' has no weights*"])
    assert claims["size.bert.parameters"]["verdict"] == "skipped"
    assert claims["size.bert.parameters"]["message"] == ("cannot measure size.bert.parameters: checkpoint folder 'x' has no "
                                                         "weights\n  fix: pass --bert-checkpoint DIR")
    for claim_id in ("speed.cpu.stsb_speedup", "speed.gpu.float32", "speed.gpu.bfloat16"):  # raised while a fixture was set up
        assert claims[claim_id]["verdict"] == "skipped", claims[claim_id]
        assert claims[claim_id]["message"].startswith(f"cannot measure {claim_id}: no STS-B dev pairs here"), claim_id


def test_any_other_claims_error_fails_the_claim_in_one_message_without_a_traceback(policy_run):
    result, claims = policy_run
    result.assert_outcomes(failed=2, skipped=4)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str()
    assert "size.distilbert.parameters: rte: 276 predictions for 277 references" in output
    section = output.split("test_size[size.distilbert.parameters]")[1].split("test_size[size.reduction]")[0]
    assert "raise" not in section and "During handling" not in section  # the message alone: no traceback, no chain
    claim = claims["size.distilbert.parameters"]
    assert claim["verdict"] == "error" and claim["outcome"] == "failed"
    assert claim["message"].startswith("size.distilbert.parameters: rte: 276 predictions for 277 references")


def test_any_other_exception_fails_the_claim_with_its_traceback(policy_run):
    result, claims = policy_run
    output = result.stdout.str()
    assert "raise RuntimeError" in output and "RuntimeError: a bug of ours" in output
    assert claims["size.reduction"]["verdict"] == "error"
    assert claims["size.reduction"]["message"] == "RuntimeError: a bug of ours"


# ---------------------------------------------------------------- verdicts a CI can read: JUnit properties, a strict mode

NOISY_TEST = """
import pytest
from harness.judge.verdict import check
from harness.measure.arithmetic import recompute

@pytest.mark.claims("glue")
def test_glue(claim, record_claim):
    check(record_claim(claim.paper_value + (4.0 if claim.id == "glue.sst2.bert" else 0.0)))

@pytest.mark.claims("paper_arithmetic")
def test_paper(claim, record_claim, claims_registry):
    check(record_claim(recompute(claim, claims_registry)))
"""


def test_junit_properties_fail_inconclusive_and_the_paper_checks_apart(pytester):
    """One inner run: SST-2 measured 4 points off (inconclusive: no prior, one value), RTE on the paper's value (one run:
    consistent with the paper, not shown), and the paper's own arithmetic, with --fail-inconclusive and a JUnit XML file."""
    import xml.etree.ElementTree as ET

    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    pytester.makepyfile(test_noisy=NOISY_TEST)
    result = pytester.runpytest_subprocess("--run-slow", "-k", "sst2 or rte or paper", "--fail-inconclusive",
                                           "--report-dir", str(pytester.path / "run"), "--junitxml",
                                           str(pytester.path / "junit.xml"), "-o", "junit_family=xunit1",
                                           "-p", "no:cacheprovider")
    document = json.loads((pytester.path / "run" / "results.json").read_text())
    claims = {c["id"]: c for c in document["claims"]}

    # JUnit: each claim's testcase carries the paper value, the measurement, its interval, the tolerance, seeds, verdict
    root = ET.parse(pytester.path / "junit.xml").getroot()
    assert junit_problems(root, "xunit1") == []
    cases = {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")} for case in root.iter("testcase")}
    sst2 = cases["test_glue[glue.sst2.bert]"]
    assert sst2["claim"] == "glue.sst2.bert" and sst2["claim_paper_value"] == "92.7" and sst2["claim_measured"] == "96.7"
    assert sst2["claim_tolerance"] == "±1 -> [91.7, 93.7]" and sst2["claim_verdict"] == "inconclusive"
    assert sst2["claim_interval"] == "" and sst2["claim_seeds"] == "1 valid, 0 invalid"  # no prior for SST-2, one value
    rte = cases["test_glue[glue.rte.bert]"]
    # the paper's value as one run: 69.3 - 1.96 x 2.87 x 2.4 (the prior guarded at the top of its range), open above
    assert rte["claim_verdict"] == "inconclusive" and rte["claim_interval"].startswith("[55.8")
    assert "consistent with the paper" in claims["glue.rte.bert"]["message"]

    # --fail-inconclusive: the four inconclusive cells fail (the xfail left is the paper's known discrepancy, strict)
    result.assert_outcomes(passed=5, failed=4, xfailed=1)
    result.stdout.fnmatch_lines(["*--fail-inconclusive: inconclusive*glue.sst2.bert*"])
    assert claims["glue.sst2.bert"]["verdict"] == "inconclusive" and claims["glue.sst2.bert"]["outcome"] == "failed"

    # the paper's own arithmetic: checks of the paper, counted apart from the claims
    result.stdout.fnmatch_lines(["claims: *", "checks of the paper's own arithmetic (not claims reproduced):",
                                 "PAPER DOES NOT HOLD*paper.table1.bert_score_is_row_mean*",
                                 "PAPER HOLDS*paper.table1.bert_score_with_mnli_84_7*"])
    assert document["paper_checks"] == {"does not hold": 1, "holds": 5}
    assert document["summary"]["inconclusive"] == 4, "the SST-2 and RTE rows, not the paper's checks"
    assert claims["paper.table3.speedup_is_60_percent"]["kind"] == "paper check" and claims["glue.sst2.bert"]["kind"] == "claim"


# ---------------------------------------------------------------- one AccuracyRunner a session

RUNNER_TEST = """
from harness.plugin.options import accuracy_runner_of

def test_one_runner(pytestconfig, accuracy_runner):
    assert accuracy_runner is accuracy_runner_of(pytestconfig) and accuracy_runner.refresh
    accuracy_runner.refresh = False  # what --executor ray does once it has refreshed every planned job
    assert not accuracy_runner_of(pytestconfig).refresh
"""


def test_the_session_builds_one_accuracy_runner_and_records_refresh_as_given(pytester):
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    pytester.makepyfile(test_runner=RUNNER_TEST)
    result = pytester.runpytest_subprocess("--refresh", "--device", "cpu", "--report-dir", str(pytester.path / "run"),
                                           "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert json.loads((pytester.path / "run" / "results.json").read_text())["options"]["refresh"] is True


# The JUnit schemas' structure (xunit1: pytest's legacy one, properties allowed in a testcase; xunit2: Jenkins' JUnit 10
# XSD, which pytest's own tests validate against: properties only in the test suite, no file/line attributes).
JUNIT_CASE_CHILDREN = {"xunit1": {"properties", "skipped", "error", "failure", "system-out", "system-err"},
                       "xunit2": {"skipped", "error", "failure", "system-out", "system-err"}}
JUNIT_CASE_ATTRIBUTES = {"xunit1": {"classname", "name", "time", "file", "line"}, "xunit2": {"classname", "name", "time"}}
JUNIT_SUITE_CHILDREN = {"properties", "testcase", "system-out", "system-err"}


def junit_problems(root, family: str) -> list[str]:
    """What in a JUnit XML document the family's structure does not allow (empty: it is valid)."""
    problems = [] if root.tag == "testsuites" else [f"root <{root.tag}>, not <testsuites>"]
    for suite in root.iter("testsuite"):
        problems += [f"<testsuite> holds <{child.tag}>" for child in suite if child.tag not in JUNIT_SUITE_CHILDREN]
        for properties in suite.findall("properties"):
            problems += [f"<properties> holds <{p.tag}>" for p in properties if p.tag != "property"]
            problems += [f"<property> without name and value: {p.attrib}" for p in properties
                         if set(p.attrib) != {"name", "value"}]
        for case in suite.findall("testcase"):
            problems += [f"{case.get('name')}: <testcase> holds <{child.tag}>" for child in case
                         if child.tag not in JUNIT_CASE_CHILDREN[family]]
            problems += [f"{case.get('name')}: attribute {name!r}" for name in case.attrib
                         if name not in JUNIT_CASE_ATTRIBUTES[family]]
    return problems


def test_junit_under_xunit2_moves_the_properties_to_the_suite_and_validates(pytester):
    """pytest's default family (no ini file says otherwise): xunit2, whose testcase takes no properties. The claims'
    properties then sit in the test suite's, named by the test; the file has the xunit2 structure, and pytest does
    not warn that record_property is incompatible with it."""
    import xml.etree.ElementTree as ET

    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    pytester.makepyfile(test_noisy=NOISY_TEST)
    result = pytester.runpytest_subprocess("--run-slow", "-k", "glue.sst2.bert", "--report-dir", str(pytester.path / "run"),
                                           "--junitxml", str(pytester.path / "junit.xml"), "-p", "no:cacheprovider")
    result.assert_outcomes(xfailed=1)
    assert "incompatible with junit_family" not in result.stdout.str() + result.stderr.str()
    root = ET.parse(pytester.path / "junit.xml").getroot()
    assert junit_problems(root, "xunit2") == []
    suite = {p.get("name"): p.get("value") for p in root.find("testsuite").find("properties")}
    node = "test_noisy.py::test_glue[glue.sst2.bert]"
    assert suite[f"{node}::claim"] == "glue.sst2.bert" and suite[f"{node}::claim_verdict"] == "inconclusive"
    assert suite[f"{node}::claim_paper_value"] == "92.7" and suite[f"{node}::claim_measured"] == "96.7"
    assert list(suite).count(f"{node}::claim_verdict") == 1
    assert junit_problems(root, "xunit1") == []  # xunit2's structure is xunit1's too
