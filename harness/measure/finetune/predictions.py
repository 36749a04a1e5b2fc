"""A job's per-example predictions on each split it scores: what is kept in the cache, and the metrics computed from it.

SplitPredictions holds, in the split's order: `example_ids` (GLUE's idx, the row number where a split
has none (IMDb), SQuAD's question ids), `references` (label ids; STS-B's float scores; SQuAD's lists of
gold answers), `predicted` (label ids; STS-B scores; SQuAD answer texts) and `logits` (classification:
one row of class logits per example; None for STS-B, whose one output is `predicted`, and for SQuAD,
whose start/end logits belong to windows, not examples). A value that is not finite (a run whose
loss went NaN) is kept as None. A job's splits are one JSON file beside its result.json, written
atomically (harness.files); `metrics_of` is the one way a stored split becomes metrics, for a fresh job
and for `python -m harness rescore` alike. Turning model outputs into predictions is the training code's
(harness.measure.finetune.training); deciding whether a run is a measurement is harness.measure.finetune.validity's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ClaimsError
from harness.files import atomic_write_text
from harness.spec.tasks import TaskSpec

SCHEMA_VERSION = 1
FIELDS = ("example_ids", "references", "predicted", "logits")


def _finite(value: Any) -> Any:
    """The value with every float that is not finite replaced by None (strict JSON, one spelling)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


@dataclass(frozen=True)
class SplitPredictions:
    """One scored split's predictions, aligned example by example (see the module docstring)."""

    example_ids: list[Any]
    references: list[Any]
    predicted: list[Any]
    logits: list[list[float | None]] | None = None

    def __post_init__(self) -> None:
        lengths = {len(self.example_ids), len(self.references), len(self.predicted)}
        if self.logits is not None:
            lengths.add(len(self.logits))
        if len(lengths) != 1:
            raise ClaimsError(f"predictions of unequal lengths: {len(self.example_ids)} ids, {len(self.references)} "
                              f"references, {len(self.predicted)} predictions"
                              + (f", {len(self.logits)} logit rows" if self.logits is not None else ""),
                              "keep one prediction per example of the split, in order")

    def __len__(self) -> int:
        return len(self.example_ids)

    def to_json(self) -> dict[str, Any]:
        return {name: _finite(getattr(self, name)) for name in FIELDS}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> SplitPredictions:
        return cls(*(value[name] for name in FIELDS))


def metrics_of(spec: TaskSpec, predictions: SplitPredictions) -> dict[str, float | None]:
    """The task's metrics (points) of one split's stored predictions; an undefined one (a correlation of
    constant predictions) is None, never a number."""
    from harness.measure import metrics

    values = metrics.compute(spec, predictions.predicted, predictions.references)
    return {name: (value if math.isfinite(value) else None) for name, value in values.items()}


def write(path: Path, splits: Mapping[str, SplitPredictions]) -> None:
    """Write a job's predictions whole or not at all."""
    document = {"schema_version": SCHEMA_VERSION, "splits": {split: p.to_json() for split, p in splits.items()}}
    atomic_write_text(path, json.dumps(document, separators=(",", ":"), allow_nan=False) + "\n")


def read(path: Path) -> dict[str, SplitPredictions]:
    """A job's predictions by split; a ClaimsError naming the file when it is not a predictions file of this schema."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        if document.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(f"schema {document.get('schema_version')!r}, this harness reads {SCHEMA_VERSION}")
        return {split: SplitPredictions.from_json(value) for split, value in document["splits"].items()}
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError, ClaimsError) as error:
        raise ClaimsError(f"stored predictions {path} cannot be read ({getattr(error, 'what', error)})",
                          "run the job again (python -m pytest ... --refresh, or delete its cache folder)") from None
