"""Score predictions of a task with the metrics GLUE, run_glue and SQuAD v1.1 use, in points (x100).

compute(spec, predictions, references) returns the task's metrics (harness/spec/tasks.yaml `metrics`):
matthews_correlation (CoLA), accuracy, f1 of the positive class and combined_score = mean of the two
(MRPC, QQP, as run_glue names them), pearson, spearmanr and their mean as combined_score (STS-B), and
SQuAD's exact_match and f1 with the official v1.1 answer normalization, each the maximum over the gold
answers. Values are x100, the paper's scale; the one-metric functions beneath them (accuracy, f1,
matthews_correlation, pearson, spearmanr; squad_scores per question) give fractions, for the code that
judges a run (harness.measure.finetune.validity) or resamples it (harness.judge.significance). scikit-learn
and scipy do the arithmetic; only SQuAD's normalization is written here, because it is the official
script's definition. paper_cell picks the value that fills the paper's cell. This module runs no model.
"""

from __future__ import annotations

import collections
import re
import string
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from harness.errors import ClaimsError
from harness.spec.families import cell_metric
from harness.spec.tasks import TaskSpec


def _as_labels(predictions: Any, what: str) -> np.ndarray:
    """Class ids; a 2-D array of logits is reduced by argmax."""
    array = np.asarray(predictions)
    if array.ndim == 2:
        array = array.argmax(axis=-1)
    if array.ndim != 1:
        raise ClaimsError(f"{what}: expected a list of label ids or a 2-D array of logits, got shape {array.shape}")
    return array


def _as_scores(values: Any, what: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ClaimsError(f"{what}: expected one score per example, got shape {array.shape}")
    return array


def _check_lengths(task: str, predictions: Sized, references: Sized) -> None:
    if len(predictions) != len(references):
        raise ClaimsError(f"{task}: {len(predictions)} predictions for {len(references)} references",
                          "score the predictions of every example of the split, in order")
    if len(references) == 0:
        raise ClaimsError(f"{task}: no examples to score", "pass a non-empty split")


Sized = Sequence | np.ndarray | Mapping


# ------------------------------------------------------------------ one metric of aligned labels or scores, as a fraction
def accuracy(predicted: np.ndarray, gold: np.ndarray) -> float:
    return float(accuracy_score(gold, predicted))


def f1(predicted: np.ndarray, gold: np.ndarray) -> float:
    """F1 of the positive class (label 1), 0 where it is never predicted nor gold (GLUE's MRPC and QQP F1)."""
    return float(f1_score(gold, predicted, pos_label=1, average="binary", zero_division=0))


def matthews_correlation(predicted: np.ndarray, gold: np.ndarray) -> float:
    """MCC; 0 by definition where one class is all there is (a constant run: sklearn warns, and is not heard)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="A single label was found")
        return float(matthews_corrcoef(gold, predicted))


def pearson(predicted: np.ndarray, gold: np.ndarray) -> float:
    """Pearson's r; nan where it is undefined (either side constant, or fewer than two examples)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        return float(stats.pearsonr(predicted, gold)[0]) if len(gold) > 1 else float("nan")


def spearmanr(predicted: np.ndarray, gold: np.ndarray) -> float:
    """Spearman's rho; nan where it is undefined (as pearson)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        return float(stats.spearmanr(predicted, gold)[0]) if len(gold) > 1 else float("nan")


# ------------------------------------------------------------------ a task's metrics
def classification_metrics(spec: TaskSpec, predictions: Any, references: Any) -> dict[str, float]:
    """Accuracy, MCC, positive-class F1 and their GLUE combinations, as asked by the spec."""
    predicted, gold = _as_labels(predictions, spec.name), _as_labels(references, spec.name)
    _check_lengths(spec.name, predicted, gold)
    unknown = sorted(set(gold.tolist()) - set(range(spec.num_labels)))
    if unknown:
        raise ClaimsError(f"{spec.name}: reference labels {unknown} are not among the task's ids 0..{spec.num_labels - 1}",
                          "score a labelled split (GLUE test sets carry -1, their labels are hidden)")
    values: dict[str, float] = {}
    if "accuracy" in spec.metrics or "combined_score" in spec.metrics:
        values["accuracy"] = 100 * accuracy(predicted, gold)
    if "f1" in spec.metrics:
        values["f1"] = 100 * f1(predicted, gold)
    if "matthews_correlation" in spec.metrics:
        values["matthews_correlation"] = 100 * matthews_correlation(predicted, gold)
    if "combined_score" in spec.metrics:
        values["combined_score"] = (values["accuracy"] + values["f1"]) / 2
    return values


def regression_metrics(spec: TaskSpec, predictions: Any, references: Any) -> dict[str, float]:
    """Pearson and Spearman correlations (nan where either side is constant) and their mean."""
    predicted, gold = _as_scores(predictions, spec.name), _as_scores(references, spec.name)
    _check_lengths(spec.name, predicted, gold)
    r, rho = pearson(predicted, gold), spearmanr(predicted, gold)
    return {"pearson": 100 * r, "spearmanr": 100 * rho, "combined_score": 100 * (r + rho) / 2}


# --------------------------------------------------------------------------------------------- SQuAD
_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD v1.1's official normalization: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def squad_exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def squad_f1(prediction: str, gold: str) -> float:
    """Token-overlap F1 of the normalized answers (0 when they share no token, as in v1.1's script)."""
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((collections.Counter(predicted) & collections.Counter(expected)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(expected)
    return 2 * precision * recall / (precision + recall)


def _gold_texts(reference: Any) -> list[str]:
    """A reference as a list of gold answers: a list of texts, one text, or the Hub's answers dict."""
    if isinstance(reference, Mapping):
        reference = reference.get("text", [])
    if isinstance(reference, str):
        return [reference]
    return list(reference)


def squad_metrics(predictions: Mapping[str, str] | Sequence[str], references: Mapping[str, Any] | Sequence[Any]) -> dict[str, float]:
    """exact_match and f1 (x100), each the maximum over a question's gold answers, averaged over questions.

    predictions: {id: text} with references {id: gold answers}, or two aligned lists.
    """
    if isinstance(predictions, Mapping) != isinstance(references, Mapping):
        raise ClaimsError("squad: predictions and references must both be {id: ...} mappings or both lists")
    _check_lengths("squad", predictions, references)
    if isinstance(predictions, Mapping):
        missing = [key for key in references if key not in predictions]
        if missing:
            raise ClaimsError(f"squad: no prediction for {len(missing)} question(s), e.g. {missing[0]!r}",
                              "post-process the logits of every evaluation feature")
        predictions, references = [predictions[key] for key in references], list(references.values())
    return {name: 100 * float(np.mean(values)) for name, values in squad_scores(predictions, references).items()}


def squad_scores(predictions: Sequence[str], references: Sequence[Any]) -> dict[str, list[float]]:
    """Each question's exact_match and f1 (fractions), the best over its gold answers (0 for a question without any)."""
    pairs = [(prediction, _gold_texts(reference)) for prediction, reference in zip(predictions, references, strict=True)]
    return {"exact_match": [max((squad_exact_match(p, g) for g in golds), default=0.0) for p, golds in pairs],
            "f1": [max((squad_f1(p, g) for g in golds), default=0.0) for p, golds in pairs]}


def compute(spec: TaskSpec, predictions: Any, references: Any) -> dict[str, float]:
    """The task's metrics in points (x100): label ids or logits for classification, scores for STS-B, texts for SQuAD."""
    if spec.kind == "classification":
        return classification_metrics(spec, predictions, references)
    if spec.kind == "regression":
        return regression_metrics(spec, predictions, references)
    return squad_metrics(predictions, references)


def paper_cell(spec: TaskSpec, metrics: Mapping[str, float | None], metric: str | None = None) -> float | None:
    """The value of the paper's cell for a task (its paper metric; SQuAD: exact_match, or metric='f1').

    None where the metric is undefined for the run (a correlation of constant predictions).
    """
    chosen = cell_metric(spec, metric)
    if chosen not in metrics:
        raise ClaimsError(f"{spec.name}: the metrics lack {chosen!r} (have {', '.join(metrics)})", "pass compute()'s result")
    value = metrics[chosen]
    return None if value is None else float(value)
