"""What every claim family's measurement returns to its claim test: the value, the details behind it, a summary,
and, for the accuracy claims, the cells over seeds that the value combines.

The size, speed and accuracy runners (harness.measure.size, .speed, .accuracy) each answer a claim with
a Measurement; the claim test records it (harness.plugin) and the judge compares it with the paper
(harness.judge: the intervals come from the cells' per-seed values and stored predictions). An accuracy
value is one Combination of its cells: one cell (a Table 1 or 2 figure, the median over the valid
seeds), the mean of cells (a macro score), the difference of two (a gap) or 100 x the ratio of two
means (the retention); `Combination.value` is the one place that arithmetic is written. This module
neither measures nor judges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

KINDS = ("cell", "mean", "difference", "ratio")


@dataclass(frozen=True)
class SeedRun:
    """One fine-tuning seed of a cell: whether its run is a measurement at all, and why not (harness.measure.finetune.job);
    its value (None: its metric is undefined), and whether a further seed replaced it (--rerun-invalid)."""

    seed: int
    valid: bool
    reason: str | None = None
    value: float | None = None
    replaced: bool = False


@dataclass(frozen=True)
class Cell:
    """One model on one task over seeds: the valid seeds' values (in seed order), every run, the stored predictions.

    predictions: one per valid seed (JobResult.predictions of the paper split), for the dev-set bootstrap
    and the paired comparisons; empty where the cache holds none. checkpoint and protocol: what the runs used
    (how much a published seed spread counts for them, harness.judge.noise.prior_weight).
    """

    role: str  # bert | distilbert | distilbert (D)
    task: str
    metric: str
    values: tuple[float, ...]
    runs: tuple[SeedRun, ...]
    predictions: tuple[Any, ...] = ()
    checkpoint: str | None = None
    protocol: str | None = None

    @property
    def label(self) -> str:
        return f"{self.role} {self.task}"

    @property
    def counted(self) -> tuple[SeedRun, ...]:
        """The runs the cell's median is over: every run but those a further seed replaced (the paper's estimator
        counts failed runs too). A cell built from bare values (no runs recorded) counts its values as valid runs."""
        if not self.runs:
            return tuple(SeedRun(index, True, None, value) for index, value in enumerate(self.values))
        values, out = iter(self.values), []
        for run in self.runs:  # a valid run recorded without its value takes the next of `values` (their seed order)
            value = next(values, None) if run.valid else run.value
            if not run.replaced:
                out.append(run if run.value is not None or not run.valid else SeedRun(run.seed, True, run.reason, value))
        return tuple(out)

    @property
    def median(self) -> float:
        """The median over the counted runs, a failed run without a value below every other (NaN: no valid run)."""
        ranked = [(-np.inf if run.value is None or not np.isfinite(run.value) else run.value) for run in self.counted]
        value = float(np.median(ranked)) if ranked else float("nan")
        return value if np.isfinite(value) else float("nan")

    @property
    def invalid(self) -> tuple[SeedRun, ...]:
        return tuple(run for run in self.runs if not run.valid)


@dataclass(frozen=True)
class Combination:
    """How a claim's value follows from its cells: cell | mean | difference | ratio over groups of cell indices.

    cell: the one cell; mean: the mean of the group; difference: mean(first) - mean(second);
    ratio: 100 * mean(first) / mean(second).
    """

    kind: str = "cell"
    groups: tuple[tuple[int, ...], ...] = ((0,),)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown combination {self.kind!r}; known: {', '.join(KINDS)}")

    def value(self, cells: Any) -> Any:
        """The combined value from the cells' values (last axis: one entry per cell; leading axes broadcast)."""
        cells = np.asarray(cells, dtype=float)
        first = cells[..., list(self.groups[0])].mean(axis=-1)
        if self.kind in ("cell", "mean"):
            return first
        second = cells[..., list(self.groups[1])].mean(axis=-1)
        return first - second if self.kind == "difference" else 100.0 * first / second

    def gradient(self, cells: Any) -> np.ndarray:
        """d value / d cell at the given cell values (exact for the linear kinds; the ratio's first-order terms)."""
        cells = np.asarray(cells, dtype=float)
        weights = np.zeros(cells.shape[-1])
        first = list(self.groups[0])
        if self.kind in ("cell", "mean", "difference"):
            weights[first] = 1.0 / len(first)
            if self.kind == "difference":
                weights[list(self.groups[1])] -= 1.0 / len(self.groups[1])
            return weights
        second = list(self.groups[1])
        numerator, denominator = cells[first].mean(), cells[second].mean()
        weights[first] = 100.0 / (denominator * len(first))
        weights[second] -= 100.0 * numerator / (denominator ** 2 * len(second))
        return weights


@dataclass(frozen=True)
class Measurement:
    """A claim's measured value, the details behind it (per-seed values, timings, counts) and a one-line summary.

    cells and combination: the accuracy cells the value combines (empty for the other families);
    not_judged: why this value is reported but not judged against the paper (a quick protocol), or None.
    """

    value: float
    details: dict[str, Any]
    summary: str
    cells: tuple[Cell, ...] = ()
    combination: Combination = field(default_factory=Combination)
    not_judged: str | None = None
