"""The speed ratio's interval: replicated interleaved sub-passes, and a floor for what one pass cannot see.

A CPU pass is timed as SUB_PASSES sub-passes one after another (harness.measure.speed.timing): each covers every
SUB_PASSES-th pair, so every sub-pass has the same mix of lengths, and within each the two models' chunks alternate.
Each sub-pass gives its own ratio t(BERT) / t(DistilBERT); their spread says how much the ratio moves over the
seconds to minutes a sub-pass takes, time-correlated chunk noise and drift included, which a bootstrap of the chunks
as if they were exchangeable does not (its coverage falls to about 70% and 50% for chunk noise correlated at 0.5
and 0.8: tests/test_speed_interval.py). The interval of the whole pass's ratio is

    log ratio +- t(B - 1) x sqrt(s_B^2 / B + RUN_TO_RUN^2),

s_B the sd of the B sub-passes' log ratios. RUN_TO_RUN is the variation between whole passes on one machine that
no single pass can see (a process's memory layout, the machine's state over minutes): measured on this project's
2-core machine from five quiet full passes in two sessions (2.071, 2.060, 2.054 and 2.058, 2.088: a pooled sd of
0.68% per pass, of which about 0.3% is each pass's own sampling noise, so sqrt(0.68^2 - 0.3^2) = 0.6%).
benchmarks/bench_speed_coverage.py measures how often passes fall inside each other's intervals.

A GPU grid cell's timed rounds are its replicates (one group each); the row's value is the smallest speedup over
the cells, whose interval [min of lows, min of highs] is taken from Bonferroni intervals of the cells (level
1 - 0.05 / cells), so it covers the smallest true speedup whenever every cell's interval covers its own.
This module computes intervals from recorded timings; it neither times nor judges.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

LEVEL = 0.95  # the interval ("not reproduced" needs it wholly below the bound)
EQUIVALENCE_LEVEL = 0.90  # "reproduced" needs the 90% interval above the bound: a one-sided test at 5%
SUB_PASSES = 10  # sub-passes of a CPU pass (fewer when the pass has fewer chunks)
RUN_TO_RUN = 0.006  # relative sd of a pass's ratio between passes that one pass cannot see (see the docstring)


@dataclass(frozen=True)
class RatioInterval:
    """A speed ratio with its LEVEL and EQUIVALENCE_LEVEL intervals, from `groups` replicates."""

    ratio: float
    low: float
    high: float
    equivalence_low: float
    equivalence_high: float
    groups: int
    relative_error: float  # the standard error of log ratio (sub-passes and run-to-run together)

    def to_json(self) -> dict[str, Any]:
        return {"ratio": self.ratio, "interval": [self.low, self.high],
                "equivalence": [self.equivalence_low, self.equivalence_high], "groups": self.groups,
                "relative_error": self.relative_error}


def sub_pass_of_chunks(chunks: int, sub_passes: int = SUB_PASSES) -> list[int]:
    """The sub-pass of each of `chunks` chunks in timed order, when a record does not say: consecutive equal blocks."""
    groups = max(1, min(sub_passes, chunks))
    return [min(index * groups // max(chunks, 1), groups - 1) for index in range(chunks)]


def ratio_interval(numerator: Sequence[float], denominator: Sequence[float], groups: Sequence[int] | None = None,
                   level: float = LEVEL, run_to_run: float = RUN_TO_RUN) -> RatioInterval | None:
    """sum(numerator) / sum(denominator) with its intervals from the groups' ratios (None: fewer than 2 groups)."""
    top, bottom = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    if top.shape != bottom.shape or top.size == 0:
        raise ValueError("the two models' chunk times must be non-empty and as many")
    labels = np.asarray(sub_pass_of_chunks(top.size) if groups is None else groups)
    names = np.unique(labels)
    if names.size < 2:
        return None
    logs = np.log([top[labels == name].sum() / bottom[labels == name].sum() for name in names])
    error = math.sqrt(float(np.var(logs, ddof=1)) / names.size + run_to_run ** 2)
    centre = math.log(top.sum() / bottom.sum())
    wide, narrow = (_t(lv, int(names.size) - 1) * error for lv in (level, EQUIVALENCE_LEVEL))
    return RatioInterval(math.exp(centre), math.exp(centre - wide), math.exp(centre + wide), math.exp(centre - narrow),
                         math.exp(centre + narrow), int(names.size), error)


@functools.cache
def _t(level: float, degrees_of_freedom: int) -> float:
    from scipy import stats

    return float(stats.t.ppf((1 + level) / 2, degrees_of_freedom))


def smallest_of(cells: Sequence[tuple[Sequence[float], Sequence[float]]]) -> RatioInterval | None:
    """The smallest ratio over cells (each: numerator and denominator round times) with Bonferroni-joint intervals."""
    level, equivalence = 1 - (1 - LEVEL) / len(cells), 1 - (1 - EQUIVALENCE_LEVEL) / len(cells)
    found = []
    for top, bottom in cells:
        rounds = list(range(len(top)))
        wide, narrow = ratio_interval(top, bottom, rounds, level), ratio_interval(top, bottom, rounds, equivalence)
        if wide is None or narrow is None:
            return None
        found.append((wide, narrow))
    ratio = min(wide.ratio for wide, _ in found)
    return RatioInterval(ratio, min(w.low for w, _ in found), min(w.high for w, _ in found),
                         min(n.low for _, n in found), min(n.high for _, n in found), min(w.groups for w, _ in found),
                         max(w.relative_error for w, _ in found))
