"""Tables 1 and 2: GLUE dev scores, macro scores, the 97% retention, IMDb, SQuAD and DistilBERT (D) (marker slow).

Each claim asks harness.measure.accuracy for its measurement: the median over --seeds of fine-tuning
--bert-checkpoint / --distilbert-checkpoint with --protocol (harness/spec/protocols.yaml), read back from
the result cache (--cache-dir) when a job was already run (--refresh to run it again). Where the weights
or the data cannot be had, the claim skips naming what is missing and the fix (the plugin's policy).
"""

import pytest

from harness.judge.verdict import check
from harness.measure.accuracy import AccuracyRunner
from harness.measure.cache import ResultCache


@pytest.fixture(scope="session")
def accuracy_runner(pytestconfig, checkpoints, device, data_dir):
    """The session's fine-tuning jobs: each model, task and seed run (or read from the cache) once."""
    max_train = pytestconfig.getoption("--max-train-samples")
    return AccuracyRunner(
        checkpoints=checkpoints,
        protocol=pytestconfig.getoption("--protocol"),
        seeds=pytestconfig.getoption("--seeds"),
        device=device,
        data_dir=data_dir,
        cache=ResultCache(pytestconfig.getoption("--cache-dir")),
        refresh=pytestconfig.getoption("--refresh"),
        overrides={"max_train_samples": max_train} if max_train else {},
    )


@pytest.mark.claims("glue", "macro", "retention", "downstream")
def test_accuracy_claim(claim, record_claim, accuracy_runner):
    measurement = accuracy_runner.measure(claim)
    print(f"\n{claim.id}: {measurement.summary}")
    check(record_claim(measurement.value, summary=measurement.summary, **measurement.details))
