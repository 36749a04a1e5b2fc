"""Whether a job's run is a measurement at all, decided from its stored predictions on the paper's split and its loss.

A run is invalid (a failed run, not a low score) when
- its training loss went NaN or infinite (Trainer's NaN filter is off, so a diverged step shows in the log);
- classification: it is no better than a constant predictor: one class predicted for every example,
  accuracy at or below the split's majority-class rate, MCC <= 0, or (tasks scored by F1) an F1 equal
  to that of predicting one class for everything;
- regression (STS-B): a correlation is undefined (constant or non-finite predictions) or Pearson <= 0;
- SQuAD: F1 no better than answering every question with nothing (0, unless a gold answer normalizes
  to nothing). A collapsed QA model (NaN logits) finds no valid span and answers "" everywhere: caught
  here. One whose logits no longer depend on the question answers a span at the same positions of
  every window and scores a few points by chance overlap; telling that from a weak real run needs the
  contexts, which the predictions do not keep, so it stays a (very low) measurement.
A task whose spec says `constant_predictor_exempt` (harness/spec/tasks.yaml: WNLI, whose dev set is adversarial
to the models of the paper's era, their own figures at or below the majority-class rate) is exempt from the
constant-predictor rule, not from the NaN rule. The metrics themselves are harness.measure.metrics'; this module
decides validity; what a claim does with invalid seeds is harness.measure.accuracy's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.measure import metrics
from harness.measure.finetune.predictions import SplitPredictions
from harness.spec.tasks import TaskSpec


@dataclass(frozen=True)
class Validity:
    """Whether a run is a measurement, and why (the checks it passed, or the first rule it broke)."""

    valid: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"valid": self.valid, "reason": self.reason}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Validity:
        return cls(bool(value["valid"]), str(value["reason"]))


def judge(spec: TaskSpec, predictions: SplitPredictions, nonfinite_loss_step: int | None = None) -> Validity:
    """The validity of a run from its predictions on the paper's split and the first step its loss was not finite."""
    split = spec.paper_split
    if nonfinite_loss_step is not None:
        return Validity(False, f"the training loss went NaN or infinite (first logged at step {nonfinite_loss_step})")
    if len(predictions) == 0:
        return Validity(False, f"no predictions on {split}")
    if spec.kind == "classification":
        problems, passed = _classification(spec, predictions)
    elif spec.kind == "regression":
        problems, passed = _regression(predictions)
    else:
        problems, passed = _squad(predictions)
    if problems and spec.constant_predictor_exempt:
        return Validity(True, f"{spec.constant_predictor_exempt} (on {split}: {'; '.join(problems)})")
    if problems:
        return Validity(False, f"no better than a constant predictor on {split}: {'; '.join(problems)}")
    return Validity(True, f"better than a constant predictor on {split}: {', '.join(passed)}")


def _classification(spec: TaskSpec, predictions: SplitPredictions) -> tuple[list[str], list[str]]:
    gold, predicted = np.asarray(predictions.references, dtype=int), np.asarray(predictions.predicted, dtype=int)
    majority = metrics.accuracy(np.full_like(gold, np.bincount(gold).argmax()), gold)  # the majority class's accuracy
    accuracy, mcc = metrics.accuracy(predicted, gold), metrics.matthews_correlation(predicted, gold)
    problems, passed = [], []
    if len(set(predicted.tolist())) == 1:
        label = int(predicted[0])
        name = spec.label_names[label] if 0 <= label < len(spec.label_names) else str(label)
        problems.append(f"it predicts one class ({name}) for all {len(predicted)} examples")
    if accuracy <= majority:
        problems.append(f"accuracy {100 * accuracy:.2f} is at or below the majority-class rate {100 * majority:.2f}")
    else:
        passed.append(f"accuracy {100 * accuracy:.2f} > majority-class rate {100 * majority:.2f}")
    if not mcc > 0:
        problems.append(f"MCC {100 * mcc:.2f} <= 0")
    else:
        passed.append(f"MCC {100 * mcc:.2f} > 0")
    if "f1" in spec.metrics:
        f1 = metrics.f1(predicted, gold)
        one_class = {metrics.f1(np.full_like(gold, label), gold) for label in (0, 1)}
        if any(math.isclose(f1, value, abs_tol=1e-12) for value in one_class):
            problems.append(f"F1 {100 * f1:.2f} equals that of predicting one class")
        else:
            passed.append(f"F1 {100 * f1:.2f} differs from one class's")
    return problems, passed


def _regression(predictions: SplitPredictions) -> tuple[list[str], list[str]]:
    predicted = np.asarray([math.nan if p is None else p for p in predictions.predicted], dtype=float)
    gold = np.asarray(predictions.references, dtype=float)
    if not np.isfinite(predicted).all():
        return [f"{int((~np.isfinite(predicted)).sum())} predictions are not finite"], []
    pearson, spearman = metrics.pearson(predicted, gold), metrics.spearmanr(predicted, gold)
    if not (math.isfinite(pearson) and math.isfinite(spearman)):
        return ["a correlation is undefined (constant predictions)"], []
    if pearson <= 0:
        return [f"Pearson {100 * pearson:.2f} <= 0"], []
    return [], [f"Pearson {100 * pearson:.2f} > 0"]


def _squad(predictions: SplitPredictions) -> tuple[list[str], list[str]]:
    f1 = metrics.squad_metrics(list(predictions.predicted), list(predictions.references))["f1"]
    nothing = metrics.squad_metrics([""] * len(predictions), list(predictions.references))["f1"]
    if f1 <= nothing:
        return [f"F1 {f1:.2f} is no better than answering nothing ({nothing:.2f})"], []
    return [], [f"F1 {f1:.2f} > answering nothing ({nothing:.2f})"]
