"""What transformers' run_glue.py and run_qa.py leave in their --output_dir, written from one job's result.

`write_outputs(result, folder)` writes, from the job's cache entry and its stored per-example predictions (so a
job read back from the cache writes the same files as a fresh one):
    train_results.json   epoch, train_loss, train_runtime, train_samples, train_samples_per_second,
                         train_steps_per_second (Trainer's names; `total_flos` is not kept, so not written)
    eval_results.json    eval_<metric> of the first evaluation split, eval_samples, eval_runtime (every split's
                         evaluation together), epoch; MNLI's mismatched split with run_glue's `_mm` suffix, any other
                         split with `_<split>`
    all_results.json     both, merged (run_glue's save_metrics(combined=True))
    eval_predictions_<split>.jsonl   one line per example in the split's order: its id, its input text (the
                         task's text columns), the gold label and the prediction (label names and logits for a
                         classification, scores for STS-B, answer texts for SQuAD)
    eval_predictions.json   SQuAD only: {question id: predicted answer}, run_qa's file, which SQuAD's official
                         evaluate-v1.1.py scores
    job.json             the job (checkpoint, task, protocol, seed, settings, overrides), its cache key and entry,
                         whether it was trained or read back, its validity and its metrics in points
Scales follow the scripts: GLUE and IMDb metrics as fractions (run_glue's `evaluate` metrics: 0.9128), SQuAD's
exact match and F1 in points (run_qa's: 81.2); job.json and the rest of the harness keep points throughout.
The fine-tuned model itself is not written: the cache keeps it only for DistilBERT (D)'s teacher.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from harness.data.loading import load
from harness.errors import ClaimsError
from harness.files import atomic_write_text
from harness.measure.finetune.job import JobResult
from harness.measure.finetune.predictions import SplitPredictions
from harness.spec.tasks import TaskSpec


def _scale(spec: TaskSpec, value: float | None) -> float | None:
    """A metric in the script's scale: a fraction for run_glue's tasks, points for run_qa's SQuAD."""
    if value is None or spec.kind == "extractive_qa":
        return value
    return round(value / 100, 10)


def _suffix(spec: TaskSpec, split: str) -> str:
    if split == spec.eval_splits[0]:
        return ""
    return "_mm" if split == "validation_mismatched" else f"_{split}"


def _epoch(result: JobResult) -> float:
    """Epochs run: the protocol's, or fewer where max_steps stopped the run first."""
    entry, settings = result.entry, result.job.settings
    steps, features = entry.get("optimisation_steps") or 0, entry.get("train_features") or 0
    batch = result.key.configuration.get("effective_train_batch_size") or settings.optimisation_batch_size
    per_epoch = math.ceil(features / batch) if features and batch else 0
    epochs = float(settings.num_train_epochs)
    return round(min(epochs, steps / per_epoch), 4) if per_epoch else epochs


def train_results(result: JobResult) -> dict[str, Any]:
    """run_glue's train_results.json, from the entry."""
    entry = result.entry
    seconds = (entry.get("wall_time_s") or {}).get("train")
    steps = entry.get("optimisation_steps")
    return {"epoch": _epoch(result), "train_loss": entry.get("training_loss"), "train_runtime": seconds,
            "train_samples": entry.get("train_rows"), "train_samples_per_second": entry.get("train_samples_per_second"),
            "train_steps_per_second": round(steps / seconds, 3) if steps and seconds else None}


def eval_results(result: JobResult) -> dict[str, Any]:
    """run_glue's eval_results.json (run_qa's for SQuAD), from the entry's metrics."""
    spec, entry = result.job.spec, result.entry
    found: dict[str, Any] = {"epoch": _epoch(result)}
    for split in spec.eval_splits:
        suffix = _suffix(spec, split)
        for metric, value in (result.metrics.get(split) or {}).items():
            found[f"eval_{metric}{suffix}"] = _scale(spec, value)
        found[f"eval_samples{suffix}"] = (entry.get("eval_rows") or {}).get(split)
    found["eval_runtime"] = (entry.get("wall_time_s") or {}).get("evaluate")
    return found


def _rows(result: JobResult, split: str) -> Any:
    """The split's rows the job scored, in its order (its first max_eval_samples)."""
    dataset = load(result.job.sources[split])
    count = result.job.settings.max_eval_samples
    return dataset.select(range(min(count, len(dataset)))) if count else dataset


def _name(spec: TaskSpec, label: Any) -> Any:
    if spec.kind == "classification" and isinstance(label, int) and 0 <= label < len(spec.label_names):
        return spec.label_names[label]
    return label


def example_lines(result: JobResult, split: str, predictions: SplitPredictions) -> list[dict[str, Any]]:
    """One record per example: id, input text, gold and prediction; a ClaimsError when the data and the stored
    predictions do not line up (the data changed since the job ran)."""
    spec, rows = result.job.spec, _rows(result, split)
    id_column = "id" if spec.kind == "extractive_qa" else "idx" if "idx" in rows.column_names else None
    ids = list(rows[id_column]) if id_column else list(range(len(rows)))
    if ids != list(predictions.example_ids):
        raise ClaimsError(f"{result.job.describe()}: the stored predictions of {split} ({len(predictions)} examples) do not "
                          f"line up with the data's rows ({len(ids)}): the data changed since the job ran",
                          "run the job again with --refresh")
    texts = {column: rows[column] for column in spec.text_columns}
    lines = []
    for index, example_id in enumerate(ids):
        line: dict[str, Any] = {id_column or "index": example_id}
        line.update({column: texts[column][index] for column in spec.text_columns})
        gold, predicted = predictions.references[index], predictions.predicted[index]
        if spec.kind == "classification":
            line.update(label=_name(spec, gold), prediction=_name(spec, predicted), label_id=gold, prediction_id=predicted,
                        logits=predictions.logits[index] if predictions.logits is not None else None)
        elif spec.kind == "extractive_qa":
            line.update(answers=gold, prediction=predicted)
        else:
            line.update(label=gold, prediction=predicted)
        lines.append(line)
    return lines


def job_record(result: JobResult, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """job.json: what ran, under which key, trained or read back, whether it is a measurement, its metrics in points."""
    job = result.job
    cache = result.cache
    return {"job": job.describe(), "checkpoint": job.checkpoint, "task": job.task, "protocol": job.protocol, "seed": job.seed,
            "device": job.device, "teacher": job.teacher.checkpoint if job.teacher else None,
            "settings": dataclasses.asdict(job.settings), "overrides": overrides or {},
            "cache": "read from the cache" if result.cached else "trained",
            "cache_key": result.key.id, "cache_entry": str(cache.entry_path(result.key)) if cache else None,
            "validity": result.entry.get("validity"), "metrics_points": result.metrics,
            "data_sources": result.entry.get("data_sources"), "created": result.entry.get("created")}


def _json(value: Any) -> str:
    return json.dumps(value, indent=4, sort_keys=True, allow_nan=False, default=str) + "\n"


def write_outputs(result: JobResult, folder: Path, overrides: dict[str, Any] | None = None) -> list[Path]:
    """Write run_glue's (run_qa's) result files and the per-example predictions into `folder`; the paths written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    train, evaluation = train_results(result), eval_results(result)
    documents: dict[str, str] = {"train_results.json": _json(train), "eval_results.json": _json(evaluation),
                                 "all_results.json": _json({**evaluation, **train}),
                                 "job.json": _json(job_record(result, overrides))}
    for split in result.job.spec.eval_splits:
        predictions = result.predictions(split)
        lines = example_lines(result, split, predictions)
        documents[f"eval_predictions_{split}.jsonl"] = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        if result.job.spec.kind == "extractive_qa" and split == result.job.spec.eval_splits[0]:
            documents["eval_predictions.json"] = _json(dict(zip(predictions.example_ids, predictions.predicted, strict=True)))
    written = []
    for name, text in documents.items():
        atomic_write_text(folder / name, text)
        written.append(folder / name)
    return written
