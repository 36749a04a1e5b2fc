"""The dev set's own sampling error and the paired comparisons of the two models, from stored per-example predictions.

Another sample of a task's examples would move a score: a bootstrap over the examples says by how much.
It resamples example indices (RESAMPLES times, a fixed seed per task) and scores every valid seed of every
cell of that task on the same resample, so a comparison of BERT and DistilBERT is paired: what the two
models share (easy and hard examples) cancels, which an unpaired comparison would count twice (lm-eval's
api/significance.py says the same of documents; Dietterich 1998). Each metric is rebuilt from per-example
sufficient statistics (accuracy: correct; F1 and MCC: the confusion cells; Pearson: the moments; SQuAD:
each question's EM or F1, harness.measure.metrics.squad_scores), so a resample is one weighted sum and thousands take seconds; on the whole
sample they equal harness.measure.metrics.compute (tests/test_significance.py), which stays the one
definition of the metrics. Spearman's resamples keep the full sample's ranks (a first-order
approximation). McNemar's exact test (scipy.stats.binomtest on the discordant examples) compares the two
models' per-example correctness, one seed pair at a time. The speed ratio's interval is
harness.judge.speed_interval's. This module reads predictions; it neither measures nor judges.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np  # scipy is imported where it is used: the plugin loads this module at every pytest start

from harness.judge.noise import LEVEL
from harness.spec.tasks import TaskSpec

RESAMPLES = 1000
BOOTSTRAP_SEED = 2019  # the paper's year; fixed so that the same predictions give the same intervals
BLOCK_CELLS = 4_000_000  # resample rows x examples drawn at once (memory: about 32 MB of indices)


class NoPredictions(Exception):
    """The stored predictions cannot be used for a bootstrap (absent, or not on the same examples): says why."""


def example_statistics(spec: TaskSpec, metric: str, predictions: Any) -> np.ndarray:
    """Per-example sufficient statistics (examples x k) of one metric: a resample's metric is a function of their sums."""
    from scipy import stats

    from harness.measure.metrics import squad_scores

    if spec.kind == "extractive_qa":  # each question's score, the best over its gold answers (the metric code's rule)
        scores = squad_scores(predictions.predicted, predictions.references)
        return np.asarray(scores["exact_match" if metric == "exact_match" else "f1"], dtype=float)[:, None]
    if spec.kind == "regression":
        x, y = np.asarray(predictions.predicted, dtype=float).ravel(), np.asarray(predictions.references, dtype=float)
        rx, ry = stats.rankdata(x), stats.rankdata(y)
        return np.stack([x, y, x * x, y * y, x * y, rx, ry, rx * rx, ry * ry, rx * ry], axis=1)
    predicted = np.asarray(predictions.predicted)
    predicted = predicted.argmax(axis=-1) if predicted.ndim == 2 else predicted
    gold = np.asarray(predictions.references)
    if metric in ("f1", "matthews_correlation", "combined_score") and spec.num_labels != 2:
        raise NoPredictions(f"{spec.name}: {metric} is resampled for two classes only")
    positive, truth = predicted == 1, gold == 1
    return np.stack([predicted == gold, positive & truth, positive & ~truth, ~positive & truth, ~positive & ~truth],
                    axis=1).astype(float)


def _pearson(s: np.ndarray, w: np.ndarray, offset: int) -> np.ndarray:
    mx, my = s[..., offset] / w, s[..., offset + 1] / w
    vx, vy = s[..., offset + 2] / w - mx * mx, s[..., offset + 3] / w - my * my
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100 * (s[..., offset + 4] / w - mx * my) / np.sqrt(vx * vy)


def metric_from_sums(spec: TaskSpec, metric: str, sums: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The metric (points) of weighted example statistics: sums (..., k) over examples, weight their total count."""
    if spec.kind == "extractive_qa":
        return 100 * sums[..., 0] / weight
    if spec.kind == "regression":
        pearson, spearman = _pearson(sums, weight, 0), _pearson(sums, weight, 5)
        return {"pearson": pearson, "spearmanr": spearman}.get(metric, (pearson + spearman) / 2)
    correct, tp, fp, fn, tn = (sums[..., i] for i in range(5))
    accuracy = 100 * correct / weight
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(2 * tp + fp + fn > 0, 100 * 2 * tp / (2 * tp + fp + fn), 0.0)
        denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
        mcc = np.where(denominator > 0, 100 * (tp * tn - fp * fn) / denominator, 0.0)
    return {"accuracy": accuracy, "f1": f1, "matthews_correlation": mcc}.get(metric, (accuracy + f1) / 2)


def aligned(predictions: Sequence[Any]) -> list[Any]:
    """The predictions reordered to the first one's example ids; NoPredictions when they do not cover the same examples."""
    if not predictions:
        raise NoPredictions("no stored per-example predictions")
    order = [str(i) for i in predictions[0].example_ids]
    out = [predictions[0]]
    for other in predictions[1:]:
        ids = [str(i) for i in other.example_ids]
        if ids == order:
            out.append(other)
            continue
        if sorted(ids) != sorted(order):
            raise NoPredictions("the stored predictions do not cover the same examples")
        position = {example: i for i, example in enumerate(ids)}
        index = [position[example] for example in order]
        out.append(_Reordered(other, index))
    return out


@dataclass(frozen=True)
class _Reordered:
    """Predictions taken in another order (the first model's): example_ids, references, predicted."""

    base: Any
    index: list[int]

    @property
    def example_ids(self) -> list[Any]:
        return [self.base.example_ids[i] for i in self.index]

    @property
    def references(self) -> list[Any]:
        return [self.base.references[i] for i in self.index]

    @property
    def predicted(self) -> Any:
        predicted = self.base.predicted
        return predicted[self.index] if isinstance(predicted, np.ndarray) else [predicted[i] for i in self.index]


def resample_counts(task: str, examples: int, resamples: int = RESAMPLES) -> Iterator[np.ndarray]:
    """How often each example is drawn in each resample, in blocks (rows: resamples), the same for a task every time."""
    rng = np.random.default_rng([BOOTSTRAP_SEED, zlib.crc32(task.encode())])
    rows = max(1, BLOCK_CELLS // max(examples, 1))
    for start in range(0, resamples, rows):
        block = min(rows, resamples - start)
        draws = rng.integers(0, examples, size=(block, examples)) + examples * np.arange(block)[:, None]
        yield np.bincount(draws.ravel(), minlength=block * examples).reshape(block, examples).astype(float)


def replicates(spec: TaskSpec, metric: str, groups: Sequence[Sequence[Any]], resamples: int = RESAMPLES) -> list[np.ndarray]:
    """For each group of predictions (one cell: its valid seeds), the median over seeds of the metric on each resample.

    Every group of a task is scored on the same resamples (paired); returns one array of `resamples` values per group.
    """
    flat = aligned([p for group in groups for p in group])
    statistics = [example_statistics(spec, metric, p) for p in flat]
    examples = statistics[0].shape[0]
    per_prediction: list[list[np.ndarray]] = [[] for _ in flat]
    for counts in resample_counts(spec.name, examples, resamples):
        weight = counts.sum(axis=1)
        for i, stat in enumerate(statistics):
            per_prediction[i].append(metric_from_sums(spec, metric, counts @ stat, weight))
    values = [np.concatenate(parts) for parts in per_prediction]
    out, start = [], 0
    for group in groups:
        out.append(np.median(np.stack(values[start:start + len(group)], axis=1), axis=1))
        start += len(group)
    return out


@dataclass(frozen=True)
class Spread:
    """A bootstrap distribution summarised: its standard deviation and percentile interval (points)."""

    sd: float
    low: float
    high: float
    resamples: int

    @classmethod
    def of(cls, values: np.ndarray) -> Spread:
        finite = values[np.isfinite(values)]
        tail = 100 * (1 - LEVEL) / 2
        low, high = np.percentile(finite, [tail, 100 - tail])
        return cls(float(finite.std(ddof=1)), float(low), float(high), int(finite.size))

    def to_json(self) -> dict[str, Any]:
        return {"sd": self.sd, "interval": [self.low, self.high], "resamples": self.resamples}


@dataclass(frozen=True)
class McNemar:
    """McNemar's exact test of two models on the same examples (one seed of each): discordant counts and p-value."""

    seeds: list[int]
    first_only: int  # examples the first model gets right and the second wrong
    second_only: int
    examples: int
    p_value: float

    def to_json(self) -> dict[str, Any]:
        return {"seeds": self.seeds, "first_only": self.first_only, "second_only": self.second_only,
                "examples": self.examples, "p_value": self.p_value}


def correct(spec: TaskSpec, predictions: Any) -> np.ndarray:
    """Per-example correctness: the predicted label (classification) or an exact-match answer (SQuAD)."""
    if spec.kind == "extractive_qa":
        return example_statistics(spec, "exact_match", predictions)[:, 0] > 0
    if spec.kind != "classification":
        raise NoPredictions(f"{spec.name}: McNemar needs a right-or-wrong outcome per example")
    return example_statistics(spec, "accuracy", predictions)[:, 0] > 0


def mcnemar(spec: TaskSpec, first: Any, second: Any, seeds: list[int]) -> McNemar:
    """McNemar's exact two-sided test (binomial on the discordant examples, p = 1/2 under no difference)."""
    from scipy import stats

    a, b = (correct(spec, p) for p in aligned([first, second]))
    first_only, second_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    discordant = first_only + second_only
    p_value = float(stats.binomtest(first_only, discordant, 0.5).pvalue) if discordant else 1.0
    return McNemar(seeds, first_only, second_only, int(a.size), p_value)
