"""Errors fail, end to end: an inner claims run whose metric sees one prediction fewer than references fails that
claim (verdict `error`, the message naming the problem) and exits non-zero; one whose data file is malformed stops
before any training (harness/plugin/preflight.py), naming the file and the line, and writes no report.

The inner run is claims/test_accuracy.py itself on tiny random checkpoints and the fixture data, through the
plugin's one error policy (harness/plugin/session.py): only a missing input skips. The metric is made to see
one prediction fewer by wrapping harness.measure.metrics.classification_metrics in the inner run's conftest.
"""

import json
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ACCURACY_CLAIMS = Path(__file__).resolve().parents[1] / "claims" / "test_accuracy.py"
SHORT_METRIC = """
pytest_plugins = ["harness.plugin"]
from harness.measure import metrics

_classification_metrics = metrics.classification_metrics


def one_prediction_fewer(spec, predictions, references):
    if spec.name == "rte":  # the metric sees one prediction fewer than references
        predictions = list(predictions)[:-1]
    return _classification_metrics(spec, predictions, references)


metrics.classification_metrics = one_prediction_fewer
"""


@pytest.fixture
def tiny_bert(tiny_checkpoints) -> str:
    """tiny-bert with seeded random weights and its tokenizer, as a local checkpoint (tests/conftest.py)."""
    return tiny_checkpoints["bert"]


def _run_claims(pytester, tiny_bert, tmp_path, data, keyword):
    pytester.makeini("[pytest]\n")
    pytester.makeconftest(SHORT_METRIC)
    test_file = pytester.makepyfile(test_accuracy=ACCURACY_CLAIMS.read_text())
    return pytester.runpytest_subprocess(
        str(test_file), "--run-slow", "--protocol", "smoke", "--bert-checkpoint", tiny_bert, "--distilbert-checkpoint",
        tiny_bert, "--data-dir", str(data), "--cache-dir", str(tmp_path / "cache"), "--report-dir", str(tmp_path / "run"),
        "-k", keyword, "-p", "no:cacheprovider", "-q")


def test_a_malformed_file_stops_the_run_before_training_and_a_scoring_error_fails_its_claim(pytester, tiny_bert, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(FIXTURES / "glue", data / "glue")
    bad_file = data / "glue" / "MRPC" / "dev.tsv"
    good = bad_file.read_text(encoding="utf-8")
    lines = good.splitlines()
    lines[2] = "0\t900013\tone sentence and no second field"  # line 3: too few fields
    bad_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    pytester.makeini("[pytest]\n")
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')  # in this process: the run stops before any test runs
    # a module name of its own: this process may hold claims/test_accuracy.py as `test_accuracy` already
    test_file = pytester.makepyfile(test_accuracy_stopped=ACCURACY_CLAIMS.read_text())
    stopped = pytester.runpytest(
        str(test_file), "--run-slow", "--protocol", "smoke", "--bert-checkpoint", tiny_bert, "--distilbert-checkpoint",
        tiny_bert, "--data-dir", str(data), "--cache-dir", str(tmp_path / "cache"), "--report-dir", str(tmp_path / "run"),
        "-k", "glue.rte.bert or glue.mrpc.bert", "-p", "no:cacheprovider", "-q")
    output = stopped.stdout.str() + stopped.stderr.str()
    assert stopped.ret == pytest.ExitCode.USAGE_ERROR, output[-3000:]
    assert str(bad_file) in output and "line 3" in output and "before any training" in output, output[-3000:]
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.json")), "nothing was trained"
    assert not (tmp_path / "run" / "results.json").exists()
    # under pytest-xdist the controller collects nothing: it checks the first worker's collection before any job is sent
    stopped = pytester.runpytest_subprocess(  # a process of its own: xdist's inline run would import datasets twice
        str(test_file), "-n", "1", "--run-slow", "--protocol", "smoke", "--bert-checkpoint", tiny_bert,
        "--distilbert-checkpoint", tiny_bert, "--data-dir", str(data), "--cache-dir", str(tmp_path / "cache"),
        "--report-dir", str(tmp_path / "run"), "-k", "glue.rte.bert or glue.mrpc.bert", "-p", "no:cacheprovider", "-q")
    output = stopped.stdout.str() + stopped.stderr.str()
    assert stopped.ret == pytest.ExitCode.USAGE_ERROR, output[-3000:]
    assert str(bad_file) in output and "line 3" in output and "before any training" in output, output[-3000:]
    assert "PASSED" not in output and "fine-tune" not in output, output[-3000:]
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.json")), "nothing was trained"
    assert not (tmp_path / "run" / "results.json").exists()

    bad_file.write_text(good, encoding="utf-8")
    result = _run_claims(pytester, tiny_bert, tmp_path, data, "glue.rte.bert")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()[-3000:]
    result.assert_outcomes(failed=1)
    rte = {c["id"]: c for c in json.loads((tmp_path / "run" / "results.json").read_text())["claims"]}["glue.rte.bert"]
    assert rte["verdict"] == "error" and "rte: 2 predictions for 3 references" in rte["message"], rte["message"]
    output = result.stdout.str()
    assert "SKIPPED" not in output.split("DistilBERT claims")[0], "an error is never a skip"
    assert "ERROR" in output and "glue.rte.bert" in output
