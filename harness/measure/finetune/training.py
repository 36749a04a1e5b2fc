"""One job's training and scoring on transformers' Trainer: the part of a fine-tuning job that costs GPU time.

`fine_tune(job, key, cache, teacher_dir)` loads the job's pretrained checkpoint with a fresh head, its
tokenizer and the splits its Sources name, fine-tunes with the job's Settings (Trainer does the loop,
the progress bars and the checkpoints every save_steps), predicts every evaluation split example by
example, and stores the predictions with the scores computed from them (harness.measure.finetune.rescore) in
the cache. An interrupted run resumes from its newest complete checkpoint (one killed while saving is
skipped: harness.measure.finetune.cache), and records what an uninterrupted run records: its training loss is
the mean over every step of the loss log (logged every save_steps and at the last step, so a resumed
log, restored from the checkpoint, covers the steps before the interruption too); Trainer's NaN filter
is off, so a diverged step shows. GLUE and IMDb are sequence classification, STS-B a one-output
regression, SQuAD extractive QA with run_qa's windows and post-processing (harness.data.preprocess);
DistilBERT (D) adds the distillation loss against a fine-tuned teacher (harness.measure.finetune.distill). On a
GPU the job trains in bf16 and pads every batch to a multiple of 8. Deciding whether to train at all is
harness.measure.finetune.job's job, not this module's.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from transformers import TrainerCallback

from harness.data import preprocess
from harness.data.loading import load
from harness.errors import ClaimsError
from harness.files import atomic_folder
from harness.measure.finetune.cache import JobKey, ResultCache
from harness.measure.finetune.job import Job
from harness.measure.finetune.predictions import SplitPredictions
from harness.measure.finetune.tracking import Tracking
from harness.measure.models import accepted_inputs, load_tokenizer
from harness.spec.protocols import Settings
from harness.spec.tasks import TaskSpec

LOG = logging.getLogger(__name__)


def _first(dataset: Any, count: int | None) -> Any:
    return dataset.select(range(min(count, len(dataset)))) if count else dataset


def _model_columns(features: Any, model: Any, extra: tuple[str, ...] = ()) -> Any:
    """Only the columns the model's forward takes (plus extra), so collation never sees strings or offsets."""
    keep = accepted_inputs(model) | set(extra)
    return features.select_columns([c for c in features.column_names if c in keep])


def training_arguments(job: Job, output_dir: Path, distilling: bool = False, tracking: Tracking | None = None,
                       run_name: str | None = None) -> Any:
    """TrainingArguments from the job's settings: Trainer's checkpoints every save_steps, the last one kept; Trainer
    reports to the run's tracking (--report-to; none by default) under run_name."""
    from transformers import TrainingArguments

    s = job.settings
    return TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=s.train_batch_size,
        per_device_eval_batch_size=s.eval_batch_size,
        gradient_accumulation_steps=s.gradient_accumulation_steps,  # the cache key's effective batch reads the same value
        learning_rate=s.learning_rate,
        num_train_epochs=s.num_train_epochs,
        max_steps=s.max_steps or -1,
        warmup_steps=s.warmup_ratio,  # transformers 5: a float in [0, 1) is a fraction of the optimisation steps
        weight_decay=s.weight_decay,
        lr_scheduler_type=s.lr_scheduler,
        train_sampling_strategy=s.train_sampling,
        seed=job.seed,
        data_seed=job.seed,
        bf16=job.precision == "bf16",
        use_cpu=job.device == "cpu",
        save_strategy="steps",
        save_steps=s.save_steps,
        save_total_limit=1,
        logging_strategy="steps",
        logging_steps=s.save_steps,  # every checkpoint's log then covers every step before it
        logging_nan_inf_filter=False,  # a NaN loss must show: it makes the run invalid
        eval_strategy="no",
        **(tracking or Tracking()).trainer_arguments(run_name or output_dir.parent.name),  # report_to, run_name
        disable_tqdm=False,
        remove_unused_columns=not distilling,  # the distillation batches keep BERT's token_type_ids for the teacher
    )


def fine_tune(job: Job, key: JobKey, cache: ResultCache, teacher_dir: Path | None, callbacks: tuple,
              tracking: Tracking | None = None, run_name: str | None = None) -> dict[str, Any]:
    """Train the job, score its evaluation splits and store the result under `key`; the stored entry. Trainer reports
    to `tracking` (harness.measure.finetune.tracking) under run_name while it trains."""
    from transformers import AutoModelForQuestionAnswering, DataCollatorWithPadding, Trainer, set_seed
    from transformers.trainer_callback import ProgressCallback

    from harness import environment
    from harness.measure.finetune.distill import DistillationTrainer
    from harness.measure.finetune.rescore import scores
    from harness.measure.models import load_pretrained

    spec, s = job.spec, job.settings
    qa = spec.kind == "extractive_qa"
    set_seed(job.seed)  # the new head's initial weights depend on it
    model = load_pretrained(job.checkpoint, "question_answering" if qa else "sequence_classification", spec.num_labels)
    if spec.kind == "classification":
        model.config.id2label, model.config.label2id = dict(enumerate(spec.label_names)), {n: i for i, n in enumerate(spec.label_names)}
    tokenizer = feature_tokenizer = load_tokenizer(job.checkpoint)
    teacher = None
    if teacher_dir is not None:
        teacher = AutoModelForQuestionAnswering.from_pretrained(str(teacher_dir))
        feature_tokenizer = load_tokenizer(teacher_dir)  # BERT's tokenizer also gives the teacher its token_type_ids
        if feature_tokenizer.get_vocab() != tokenizer.get_vocab():
            raise ClaimsError(f"teacher {job.teacher.checkpoint!r} and student {job.checkpoint!r} have different vocabularies",
                              "distil between checkpoints that share one tokenizer (bert-base-uncased and distilbert-base-uncased do)")
    train = _first(load(job.sources[spec.train_split]), s.max_train_samples)
    evals = {split: _first(load(job.sources[split]), s.max_eval_samples) for split in spec.eval_splits}
    if qa:
        train_features = preprocess.prepare_squad_train_features(train, feature_tokenizer, s.max_length, s.doc_stride, padding=False)
        train_features = _model_columns(train_features, teacher or model, ("start_positions", "end_positions"))
    else:
        train_features = preprocess.tokenize_task(train, spec, tokenizer, s.max_length)
    collator = DataCollatorWithPadding(feature_tokenizer, pad_to_multiple_of=8 if job.device == "cuda" else None)
    tracking = tracking or Tracking()
    run_name = run_name or key.job_id
    common = {"model": model, "args": training_arguments(job, cache.trainer_dir(key), teacher is not None, tracking, run_name),
              "train_dataset": train_features, "data_collator": collator, "processing_class": tokenizer,
              "callbacks": [LogTheLastStep(), *callbacks]}
    resume = cache.last_checkpoint(key)
    if resume is not None:
        LOG.warning("resuming %s from %s", job.describe(), resume)
    with tracking.environment(run_name):  # the integrations read their folders when built and when training starts
        if teacher is not None:
            trainer = DistillationTrainer(**common, teacher=teacher, temperature=s.distillation_temperature,
                                          alpha_ce=s.distillation_alpha_ce, alpha_task=s.distillation_alpha_task)
        else:
            trainer = Trainer(**common)
            # The heads here average their loss over the batch and ignore num_items_in_batch, which Trainer hands to any
            # model whose forward takes **kwargs, and then leaves the loss undivided: with gradient accumulation every
            # step would sum, not average, its batches (a loss and a gradient gradient_accumulation_steps times too big).
            trainer.model_accepts_loss_kwargs = False
        if any(getattr(callback, "replaces_progress_bar", False) for callback in callbacks):
            trainer.remove_callback(ProgressCallback)  # the caller shows the progress (harness.measure.finetune.progress)
        started = time.perf_counter()
        train_output = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
        train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    predictions = {split: predict_split(trainer, spec, dataset, tokenizer, s) for split, dataset in evals.items()}
    predictions = {split: SplitPredictions.from_json(p.to_json()) for split, p in predictions.items()}  # as stored
    eval_seconds = time.perf_counter() - started
    if job.keeps_model:
        _save_model(trainer, cache.model_dir(key))
    loss = loss_record(trainer.state.log_history, train_output.global_step, train_output.training_loss)
    record = {
        "job": job.describe(),
        "protocol": job.protocol,
        "checkpoint_name": job.checkpoint,
        "teacher_model": str(teacher_dir) if teacher_dir else None,
        "data_sources": {split: source.describe() for split, source in job.sources.items()},
        "device": job.device,
        "precision": job.precision,
        "environment": environment.collect(),
        "resumed_from": resume.name if resume else None,
        "train_rows": len(train),
        "train_features": len(train_features),
        "eval_rows": {split: len(dataset) for split, dataset in evals.items()},
        "optimisation_steps": train_output.global_step,
        **loss,
        "train_samples_per_second": train_output.metrics.get("train_samples_per_second"),
        "wall_time_s": {"train": round(train_seconds, 3), "evaluate": round(eval_seconds, 3),
                        "total": round(train_seconds + eval_seconds, 3)},
    }
    scored = scores(spec, predictions, loss["nonfinite_loss_step"])
    entry = cache.store(key, scored["metrics"], record, predictions, scored["validity"])
    cache.discard_checkpoints(key)
    return entry


class LogTheLastStep(TrainerCallback):
    """Log the loss at the last step too (Trainer logs every logging_steps only): the loss log then covers every step."""

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if state.global_step >= state.max_steps:
            control.should_log = True
        return control


def loss_record(log_history: list[dict[str, Any]], global_step: int, trainer_loss: float) -> dict[str, Any]:
    """training_loss (the mean loss over every optimisation step), the loss curve and the first non-finite step.

    Computed from the log, which a resumed run restores from its checkpoint, so that a resumed job records the
    same loss as an uninterrupted one (Trainer's own figure covers only the steps run since the resume).
    """
    curve = [(int(entry["step"]), float(entry["loss"])) for entry in log_history if "loss" in entry and "step" in entry]
    nonfinite = next((step for step, value in curve if not math.isfinite(value)), None)
    if nonfinite is None and not math.isfinite(trainer_loss):
        nonfinite = global_step
    total, last = 0.0, 0
    for step, value in curve:  # each logged loss is the mean over the steps since the previous log
        total, last = total + value * (step - last), step
    training_loss = total / global_step if curve and last == global_step else trainer_loss
    return {"training_loss": training_loss if math.isfinite(training_loss) else None, "loss_curve": curve,
            "nonfinite_loss_step": nonfinite}


def predict_in_order(trainer: Any, features: Any) -> Any:
    """Trainer.predict over the features in their order, whatever the training sampler.

    transformers 5 also length-groups (shuffles) the evaluation batches when train_sampling_strategy is
    group_by_length, and the predictions would no longer line up with the references.
    """
    strategy = trainer.args.train_sampling_strategy
    trainer.args.train_sampling_strategy = "random"  # evaluation then reads sequentially
    try:
        return trainer.predict(_model_columns(features, trainer.model)).predictions
    finally:
        trainer.args.train_sampling_strategy = strategy


def predict_split(trainer: Any, spec: TaskSpec, dataset: Any, tokenizer: Any, s: Settings) -> SplitPredictions:
    """The trained model's prediction for every example of one evaluation split, in the split's order."""
    if spec.kind == "extractive_qa":
        features = preprocess.prepare_squad_eval_features(dataset, tokenizer, s.max_length, s.doc_stride, padding=False)
        start_logits, end_logits = predict_in_order(trainer, features)[:2]
        answers = preprocess.postprocess_squad(dataset, features, start_logits, end_logits)
        ids = list(dataset["id"])
        return SplitPredictions(ids, [list(gold["text"]) for gold in dataset["answers"]], [answers[i] for i in ids])
    tokenized = preprocess.tokenize_task(dataset, spec, tokenizer, s.max_length)
    logits = np.asarray(predict_in_order(trainer, tokenized), dtype=float)
    ids = list(dataset["idx"]) if "idx" in dataset.column_names else list(range(len(dataset)))
    references = list(dataset["label"])
    if spec.kind == "regression":
        return SplitPredictions(ids, references, logits[:, 0].tolist())
    return SplitPredictions(ids, references, logits.argmax(axis=-1).tolist(), logits.tolist())


def _save_model(trainer: Any, target: Path) -> None:
    """Save the fine-tuned model and tokenizer whole or not at all (the job's lock is held)."""
    with atomic_folder(target) as staging:
        trainer.save_model(str(staging))
