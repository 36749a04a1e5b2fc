"""Kept predictions at work on tiny trained jobs: rescoring after a metric fix, edited entries, collapsed runs.

Two tiny-bert jobs (SST-2 and STS-B, protocol smoke) are trained once for the module; each test works on
a private copy of their cache. `no_training` makes any Trainer.train call fail: what it guards trained nothing.
"""

import json
import shutil

import pytest
from tiny_models import tiny_job

from harness.cli import main
from harness.measure import metrics
from harness.measure.finetune.cache import CacheWarning, ResultCache
from harness.measure.finetune.job import job_key, make_job
from harness.measure.finetune.predictions import metrics_of
from harness.measure.finetune.run import run_job


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_checkpoints, tiny_data):
    """(cache root, checkpoints, data root) with tiny-bert trained on SST-2 and STS-B."""
    root = tmp_path_factory.mktemp("rescore")
    for task in ("sst2", "stsb"):
        run_job(tiny_job(tiny_checkpoints, tiny_data, task), ResultCache(root / "cache"))
    return root / "cache", tiny_checkpoints, tiny_data


@pytest.fixture
def cache(trained, tmp_path) -> ResultCache:
    shutil.copytree(trained[0], tmp_path / "cache")
    return ResultCache(tmp_path / "cache")


@pytest.fixture
def sst2_job(trained):
    return tiny_job(trained[1], trained[2])


def rescore(cache, capsys) -> str:
    assert main(["rescore", "--cache-dir", str(cache.root)]) == 0
    return capsys.readouterr().out


# ---------------------------------------------------------------- python -m harness rescore


def test_a_fresh_entry_holds_its_predictions_and_metrics_computed_from_them(cache, sst2_job):
    result = run_job(sst2_job, cache)
    predictions = result.predictions("validation")
    assert result.cached and len(predictions) == result.entry["eval_rows"]["validation"]
    assert predictions.example_ids == list(range(len(predictions))), "GLUE's idx"
    assert all(len(row) == 2 for row in predictions.logits) and set(predictions.predicted) <= {0, 1}
    assert metrics_of(sst2_job.spec, predictions) == result.metrics["validation"]
    assert result.entry["validity"] == {"valid": result.validity.valid, "reason": result.validity.reason}


def test_rescore_after_a_metric_fix_changes_the_entry_and_trains_nothing(cache, sst2_job, monkeypatch, capsys, no_training):
    assert "0 changed, 2 unchanged" in rescore(cache, capsys)
    path = cache.entry_path(job_key(sst2_job))
    before = json.loads(path.read_text())
    original = metrics.classification_metrics

    def fixed(spec, predictions, references):  # a "fix" to the accuracy metric
        return {name: value + 1.0 if name == "accuracy" else value for name, value in original(spec, predictions, references).items()}

    monkeypatch.setattr(metrics, "classification_metrics", fixed)
    out = rescore(cache, capsys)
    accuracy = before["metrics"]["validation"]["accuracy"]
    assert f"validation accuracy {accuracy:.4f} -> {accuracy + 1:.4f}" in out and "1 changed, 1 unchanged" in out
    after = json.loads(path.read_text())
    assert after["metrics"]["validation"]["accuracy"] == accuracy + 1.0
    assert {k: v for k, v in after.items() if k not in ("metrics", "digests", "rescored")} == \
        {k: v for k, v in before.items() if k not in ("metrics", "digests")}, "only the scores are rewritten"
    assert cache.peek(job_key(sst2_job)) == after, "the rewritten entry is a valid hit"
    assert "0 changed, 2 unchanged" in rescore(cache, capsys)


def test_rescore_names_and_leaves_an_entry_without_predictions(cache, sst2_job, capsys):
    key = job_key(sst2_job.with_seed(7))
    cache.store(key, {"validation": {"accuracy": 50.0}}, {"job": "an older harness's entry"})
    out = rescore(cache, capsys)
    assert f"left       {key.id}: no stored predictions" in out and "1 left as they are" in out
    assert json.loads(cache.entry_path(key).read_text())["metrics"] == {"validation": {"accuracy": 50.0}}


def test_rescore_names_a_file_where_a_cache_folder_belongs(cache, sst2_job, capsys):
    key = job_key(sst2_job.with_seed(8))
    cache.root.joinpath(key.job_id).write_text("not a folder")  # a job's folder
    other = job_key(sst2_job.with_seed(9))
    cache.root.joinpath(other.job_id).mkdir(parents=True)
    cache.root.joinpath(*other.id.split("/")).write_text("")  # an entry's folder
    out = rescore(cache, capsys)
    assert f"left       {key.job_id}: a file where a cache folder belongs" in out
    assert f"left       {other.id}: a file where a cache folder belongs" in out and "2 left as they are" in out


# ---------------------------------------------------------------- entries edited by hand


def test_an_entry_whose_metrics_were_edited_is_recomputed_without_training(cache, sst2_job, no_training):
    path = cache.entry_path(job_key(sst2_job))
    entry, true_metrics = json.loads(path.read_text()), json.loads(path.read_text())["metrics"]
    entry["metrics"]["validation"]["accuracy"] = 99.5
    path.write_text(json.dumps(entry, indent=2))
    with pytest.warns(CacheWarning, match="edited by hand.*nothing is trained"):
        result = run_job(sst2_job, cache)
    assert result.cached and result.metrics == true_metrics


def test_an_entry_whose_predictions_were_edited_is_trained_again(cache, sst2_job):
    stored = cache.predictions_path(job_key(sst2_job))
    document = json.loads(stored.read_text())
    true_predicted = document["splits"]["validation"]["predicted"]
    document["splits"]["validation"]["predicted"] = [1 - label for label in true_predicted]
    stored.write_text(json.dumps(document))
    with pytest.warns(CacheWarning, match="predictions are missing or do not match their digest"):
        result = run_job(sst2_job, cache)
    assert not result.cached and result.predictions("validation").predicted == true_predicted


# ---------------------------------------------------------------- collapsed runs


def test_a_tiny_model_driven_to_collapse_is_an_invalid_run(trained, tmp_path):
    checkpoints, data = trained[1], trained[2]
    diverged = run_job(make_job(checkpoints["bert"], "sst2", "smoke", data_dir=data, overrides={"learning_rate": 1e6}),
                       ResultCache(tmp_path / "cache"))
    assert not diverged.validity.valid and "NaN" in diverged.validity.reason
    assert diverged.entry["training_loss"] is None and diverged.entry["nonfinite_loss_step"] == 2
    constant = run_job(make_job(checkpoints["bert"], "stsb", "smoke", data_dir=data, overrides={"learning_rate": 1e3}),
                       ResultCache(tmp_path / "cache"))
    assert not constant.validity.valid and "correlation is undefined" in constant.validity.reason
    assert constant.value() is None, "the undefined correlation is stored as null"
