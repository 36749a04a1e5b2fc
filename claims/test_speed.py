"""Table 3's speed: "60% faster", i.e. one pass over STS-B dev at batch size 1 on CPU takes BERT 668 s and DistilBERT 410 s.

Each row asks harness.measure.speed.runner for its measurement: both models (built from their configs, or
their checkpoints with --speed-weights pretrained) timed in one run, their rounds interleaved, every
round timed by pytest-benchmark's pedantic mode; the claim is the ratio of the two totals, read as a lower
bound (at least 1.55x), with its interval (a paired bootstrap over the timed chunks) and the two-sided
comparison with 1.63x beside it. The GPU rows
(our extension) time a grid of batch sizes and sequence lengths per dtype and skip without CUDA.
Options: --speed-pass (auto: the full pass with -m speed, a quick one in the whole suite), --speed-pairs,
--speed-threads, --speed-inputs, --speed-weights (pytest --help).
"""

import pytest

from harness.judge.verdict import check
from harness.measure.speed import runner as speed
from harness.measure.speed import timing


@pytest.fixture(scope="session")
def speed_runner(speed_settings, architectures, device, data_dir, shared_root):
    """The session's speed measurements: both models and the timed inputs made once."""
    return speed.SpeedRunner(architectures, speed_settings, device=device, data_dir=data_dir, shared_root=shared_root)


@pytest.mark.claims("speed")
def test_speed_claim(claim, record_claim, benchmark, speed_runner):
    benchmark.group = speed.benchmark_group(claim)
    measurement = speed_runner.measure(claim, timing.benchmark_runner(benchmark))
    benchmark.extra_info.update(measurement.benchmark_info)
    print(f"\n{claim.id}: {measurement.summary}" + "".join(f"\n  {line}" for line in measurement.lines))
    check(record_claim(measurement))
