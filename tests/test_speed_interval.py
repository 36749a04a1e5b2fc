"""The speed ratio's interval (harness.judge.speed_interval): hand-worked cases, and its coverage by simulation.

The simulation draws whole passes with known truth: each chunk's content (its length mix) and true ratio, a machine
factor shared by both models' times of a chunk (it cancels in the ratio), chunk noise of the ratio that is
correlated in time (AR(1), rho 0, 0.5, 0.8; sd 5% a chunk, about what a full pass's +-0.6% i.i.d. interval implies),
a linear drift of the ratio over the pass, and an offset of the whole pass (sd RUN_TO_RUN) that no pass can see.
Asserted: for a full pass (300 chunks, 10 sub-passes) the interval covers the true ratio at least 93% of the time
in every case, where the i.i.d. reading of the chunks (what the old bootstrap assumed) falls below 80% once chunk
noise is correlated; a quick pass (30 chunks) covers less when its noise is correlated, which is why it is reported,
not judged. The passes are drawn with numpy, thousands at once (about a second).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.judge import speed_interval
from harness.measure.speed import timing

PASSES = 1500


def draw_passes(chunks: int, rho: float, drift: float = 0.0, offset: float = 0.0, passes: int = PASSES, seed: int = 0):
    """BERT and DistilBERT chunk times (passes x chunks, timed order) and each pass's true ratio."""
    rng = np.random.default_rng([seed, chunks, round(100 * rho), round(1000 * drift), round(10_000 * offset)])
    length = np.exp(rng.normal(0, 0.3, (passes, chunks)))
    content = 2.0 * np.exp(rng.normal(0, 0.02, (passes, chunks)))  # the ratio moves a little with the length mix
    truth = (length * content).sum(axis=1) / length.sum(axis=1)
    noise = np.empty((passes, chunks))
    noise[:, 0] = rng.normal(0, 0.05, passes)
    innovations = rng.normal(0, 0.05 * math.sqrt(1 - rho ** 2), (passes, chunks))
    for chunk in range(1, chunks):
        noise[:, chunk] = rho * noise[:, chunk - 1] + innovations[:, chunk]
    noise += drift * (np.arange(chunks) / chunks - 0.5) + rng.normal(0, offset, (passes, 1))
    distilbert = length * np.exp(rng.normal(0, 0.1, (passes, chunks)))
    return distilbert * content * np.exp(noise), distilbert, truth


def coverage(chunks: int, rho: float, drift: float = 0.0, offset: float = 0.0) -> tuple[float, float]:
    """How often the sub-pass interval, and the i.i.d. chunk reading, cover each pass's true ratio."""
    bert, distilbert, truth = draw_passes(chunks, rho, drift, offset)
    groups = speed_interval.sub_pass_of_chunks(chunks)
    covered = [(found.low <= t <= found.high) for b, d, t in zip(bert, distilbert, truth, strict=True)
               if (found := speed_interval.ratio_interval(b, d, groups)) is not None]
    ratio = bert.sum(axis=1) / distilbert.sum(axis=1)
    share = bert / bert.sum(axis=1, keepdims=True) - distilbert / distilbert.sum(axis=1, keepdims=True)
    iid = np.sqrt((share ** 2).sum(axis=1) * chunks / (chunks - 1))  # the i.i.d. chunks' delta-method error of log ratio
    return float(np.mean(covered)), float(np.mean(np.abs(np.log(ratio / truth)) <= 1.96 * iid))


@pytest.mark.parametrize(("rho", "drift", "offset"), [(0.0, 0.0, 0.0), (0.5, 0.0, 0.0), (0.8, 0.0, 0.0), (0.5, 0.02, 0.0),
                                                      (0.5, 0.0, speed_interval.RUN_TO_RUN), (0.8, 0.02, speed_interval.RUN_TO_RUN)])
def test_a_full_pass_interval_covers_the_true_ratio_under_correlated_noise_drift_and_pass_offsets(rho, drift, offset):
    sub_passes, iid = coverage(300, rho, drift, offset)
    assert sub_passes >= 0.93, f"sub-passes cover {sub_passes:.3f} (rho {rho}, drift {drift}, offset {offset})"
    if rho >= 0.5 or offset:
        assert iid < 0.80, f"the i.i.d. chunks cover {iid:.3f}: the old interval was honest here after all"


def test_a_quick_pass_covers_less_when_its_noise_is_correlated_so_it_is_not_judged():
    independent, _ = coverage(30, 0.0)
    correlated, _ = coverage(30, 0.8)
    assert independent >= 0.93 and correlated < 0.90


def test_hand_worked_ratio_and_interval():
    bert, distilbert = [2.0, 2.2, 1.8, 2.0], [1.0, 1.0, 1.0, 1.0]
    found = speed_interval.ratio_interval(bert, distilbert, [0, 1, 2, 3], run_to_run=0.0)
    logs = np.log(bert)
    half = 3.182446 * logs.std(ddof=1) / 2  # t(3) at 97.5%, 4 groups
    assert found.ratio == pytest.approx(2.0) and found.groups == 4
    assert found.low == pytest.approx(2.0 * math.exp(-half), rel=1e-5) and found.high == pytest.approx(2.0 * math.exp(half), rel=1e-5)
    assert found.low < found.equivalence_low < found.ratio < found.equivalence_high < found.high
    floored = speed_interval.ratio_interval([2.0] * 4, [1.0] * 4, [0, 1, 2, 3])  # identical sub-passes: the floor remains
    assert floored.high / floored.ratio == pytest.approx(math.exp(3.182446 * speed_interval.RUN_TO_RUN), rel=1e-5)
    assert speed_interval.ratio_interval([2.0, 2.0], [1.0, 1.0], [0, 0]) is None  # one replicate: no interval


def test_recorded_chunks_without_sub_passes_are_read_as_consecutive_blocks():
    assert speed_interval.sub_pass_of_chunks(4) == [0, 1, 2, 3]
    assert speed_interval.sub_pass_of_chunks(30, 10) == [k // 3 for k in range(30)]


def test_the_smallest_cell_takes_bonferroni_intervals_of_every_cell():
    fast, slow = ([3.0, 3.1, 2.9], [1.0, 1.0, 1.0]), ([1.6, 1.5, 1.7], [1.0, 1.0, 1.0])
    found = speed_interval.smallest_of([fast, slow])
    alone = speed_interval.ratio_interval(*slow, [0, 1, 2], level=1 - 0.05 / 2)
    assert found.ratio == pytest.approx(1.6) and found.low == pytest.approx(alone.low) and found.high == pytest.approx(alone.high)
    assert speed_interval.smallest_of([([2.0], [1.0])]) is None  # one round a cell: no interval


def test_sub_passes_stride_the_pairs_and_keep_every_pair_once():
    chunks, owner = timing.sub_pass_chunks(23, 5, 3)
    assert sorted(i for chunk in chunks for i in chunk) == list(range(23))
    assert owner == sorted(owner) and set(owner) == {0, 1, 2}
    assert chunks[0] == [0, 3, 6, 9, 12] and all(len(chunk) <= 5 for chunk in chunks)
    assert timing.sub_pass_chunks(20, 5, 10)[1] == [0, 1, 2, 3]  # no more sub-passes than chunks


def _gpu_details(rounds_of_cells):
    return {"cells": [{"dtype": "float32", "batch_size": 8 * index + 1, "seq_length": 128, "speedup": sum(b) / sum(d),
                       "round_seconds": {"bert": b, "distilbert": d}} for index, (b, d) in enumerate(rounds_of_cells)]}


def test_a_gpu_row_reads_not_reproduced_only_when_the_smallest_cells_interval_is_wholly_below_the_bound():
    from harness.judge import uncertainty
    from harness.judge.verdict import Status, judge
    from harness.measure.measurement import Measurement
    from harness.spec import registry as registry_module

    claim = registry_module.load().get("speed.gpu.float32")
    steady = ([1.80, 1.81, 1.79, 1.80, 1.80], [1.0] * 5)  # 1.8x every round: above 1.55, shown
    slow = ([1.40, 1.41, 1.39, 1.40, 1.40], [1.0] * 5)  # 1.4x every round: below, shown
    shaky = ([1.2, 1.9, 1.3, 2.0, 1.1], [1.0] * 5)  # 1.5x on average, but its rounds disagree: cannot tell
    verdicts = {}
    for name, cells in (("steady", [steady, steady]), ("slow", [steady, slow]), ("shaky", [steady, shaky])):
        details = _gpu_details(cells)
        found = uncertainty.assess(claim, Measurement(min(c["speedup"] for c in details["cells"]), details, ""))
        verdicts[name] = judge(claim, min(c["speedup"] for c in details["cells"]), found)
        assert "Bonferroni" in found.source
    assert verdicts["steady"].status is Status.REPRODUCED
    assert verdicts["slow"].status is Status.NOT_REPRODUCED
    assert verdicts["shaky"].status is Status.INCONCLUSIVE
    one_round = _gpu_details([([1.4], [1.0])])
    found = uncertainty.assess(claim, Measurement(1.4, one_round, ""))
    assert judge(claim, 1.4, found).status is Status.INCONCLUSIVE  # one timing a cell: no interval, never "not reproduced"


def test_the_cpu_row_reads_its_sub_passes_from_the_recorded_details():
    from harness.judge import uncertainty
    from harness.measure.measurement import Measurement
    from harness.spec import registry as registry_module

    claim = registry_module.load().get("speed.cpu.stsb_speedup")
    bert, distilbert = [2.0, 2.1, 1.9, 2.0] * 3, [1.0] * 12
    details = {"chunk_seconds": {"bert": bert, "distilbert": distilbert}, "sub_pass_of_chunk": [k // 3 for k in range(12)]}
    found = uncertainty.assess(claim, Measurement(2.0, details, ""))
    expected = speed_interval.ratio_interval(bert, distilbert, details["sub_pass_of_chunk"])
    assert found.interval == pytest.approx((expected.low, expected.high)) and "4 sub-passes of the 12 timed chunks" in found.source
    assert found.equivalence[0] == pytest.approx(expected.equivalence_low - claim.paper_value)
