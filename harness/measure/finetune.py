"""The fine-tuning job: (checkpoint, task, protocol, seed) -> dev/test metrics, on transformers' Trainer.

One job fine-tunes a pretrained checkpoint on a task's training split with a protocol's settings
(harness/protocols.yaml) and scores every evaluation split with the task's metrics (harness.metrics):
GLUE and IMDb as sequence classification, STS-B as a one-output regression, SQuAD as extractive QA
with run_qa's windows and post-processing. DistilBERT (D) is a SQuAD job with a teacher: the fine-tuned
BERT of the same protocol and seed (harness.distill). Trainer does the loop, its progress bars and its
checkpoints; on a GPU the job trains in bf16 and pads every batch only to its longest row (always, via
DataCollatorWithPadding; to a multiple of 8 on GPU). Results go through harness.cache: a job already
done is read back, an interrupted one resumes from its last checkpoint. Claim-level aggregation
(medians over seeds, macro scores, retention) is harness.accuracy's.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.data import loading as data
from harness.data import preprocess
from harness.errors import ClaimsError
from harness.files import digest
from harness.measure import metrics
from harness.measure.cache import CacheWarning, JobKey, ResultCache, checkpoint_identity, files_identity
from harness.spec import protocols
from harness.spec.protocols import Settings
from harness.spec.tasks import TaskSpec, get_task

JOB_VERSION = 1  # bump when the job's semantics change: it changes every cache key
LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One fine-tuning run: what is trained on what, how, with which seed, where; a teacher for DistilBERT (D)."""

    checkpoint: str
    task: str
    protocol: str
    settings: Settings
    seed: int
    device: str = "cpu"
    data_dir: Path | None = None
    teacher: Job | None = None

    @property
    def spec(self) -> TaskSpec:
        return get_task(self.task)

    @property
    def precision(self) -> str:
        """bf16 mixed precision on a GPU that has it, else fp32."""
        import torch

        return "bf16" if self.device == "cuda" and torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "fp32"

    @property
    def keeps_model(self) -> bool:
        """SQuAD models are kept after training: a fine-tuned BERT is DistilBERT (D)'s teacher."""
        return self.spec.kind == "extractive_qa" and self.teacher is None

    def with_seed(self, seed: int) -> Job:
        """The same job with another seed (a teacher follows the student's seed)."""
        teacher = self.teacher.with_seed(seed) if self.teacher else None
        return dataclasses.replace(self, seed=seed, teacher=teacher)

    def describe(self) -> str:
        extra = f", distilled from {self.teacher.checkpoint}" if self.teacher else ""
        return f"{self.checkpoint} on {self.task} (protocol {self.protocol}, seed {self.seed}, {self.device}{extra})"


def make_job(checkpoint: str, task: str, protocol: str = "paper", seed: int | None = None, *, device: str = "cpu",
             data_dir: Path | None = None, teacher: str | None = None, overrides: dict[str, Any] | None = None) -> Job:
    """A Job from names: the protocol's settings for the task (plus overrides); teacher = a checkpoint to distil from."""
    spec = get_task(task)
    settings = protocols.get(protocol).for_task(spec.name)
    if overrides:
        settings = settings.replace(**overrides)
    seed = settings.first_seed if seed is None else seed
    teacher_job = None
    if teacher is not None:
        if spec.kind != "extractive_qa":
            raise ClaimsError(f"distillation during fine-tuning is built for SQuAD, not {task!r}", "drop the teacher")
        teacher_job = Job(teacher, spec.name, protocol, settings, seed, device, data_dir)
    return Job(checkpoint, spec.name, protocol, settings, seed, device, data_dir, teacher_job)


def _splits(spec: TaskSpec) -> list[str]:
    return [spec.train_split, *spec.eval_splits]


def data_identity(spec: TaskSpec, split: str, data_dir: Path | None) -> dict[str, Any]:
    """The split's source kind and, for local files, their content hashes (not their paths)."""
    source = data.locate(spec.name, split, data_dir)
    if source.kind == "hub":
        return {"kind": "hub", "location": source.location}
    location = Path(source.location)
    if source.kind == "aclimdb":
        from harness.data.local_files import imdb_tree_files

        listing = [(path.relative_to(location).as_posix(), path.stat().st_size) for path, _ in imdb_tree_files(location, split)]
        return {"kind": source.kind, "listing_sha256": digest(listing)}
    return {"kind": source.kind, "files": files_identity([location])}


def job_key(job: Job) -> JobKey:
    """The cache key: everything that decides the job's result (see harness.cache)."""
    spec = job.spec
    configuration = {
        "job_version": JOB_VERSION,
        "checkpoint": checkpoint_identity(job.checkpoint),
        "task": dataclasses.asdict(spec),
        "settings": dataclasses.asdict(job.settings),
        "seed": job.seed,
        "data": {split: data_identity(spec, split, job.data_dir) for split in _splits(spec)},
        "device": job.device,
        "precision": job.precision,
        "teacher": job_key(job.teacher).id if job.teacher else None,
    }
    return JobKey(configuration)


@dataclass(frozen=True)
class JobResult:
    """A job's cache entry (metrics and provenance) and whether it was read back rather than trained."""

    job: Job
    key: JobKey
    entry: dict[str, Any]
    cached: bool

    @property
    def metrics(self) -> dict[str, dict[str, float | None]]:
        return self.entry["metrics"]

    def value(self, metric: str, split: str | None = None) -> float | None:
        """One metric of one split (default: the split of the paper's figure)."""
        return self.metrics[split or self.job.spec.paper_split].get(metric)


def run_job(job: Job, cache: ResultCache | None = None, *, refresh: bool = False, callbacks: tuple = (),
            need_model: bool = False) -> JobResult:
    """The job's metrics: from the cache when it holds them (unless refresh), else fine-tuned and stored.

    need_model: the fine-tuned model must be in the cache too (a teacher); if it was deleted, train again.
    """
    cache = cache or ResultCache()
    key = job_key(job)
    if refresh:
        cache.forget(key)
    else:
        entry = cache.load(key)
        if entry is not None and (not need_model or (cache.model_dir(key) / "config.json").is_file()):
            LOG.info("cache hit for %s: %s", job.describe(), cache.entry_path(key))
            return JobResult(job, key, entry, cached=True)
        if entry is not None:
            warnings.warn(CacheWarning(f"{cache.folder(key)}: the fine-tuned model DistilBERT (D) needs as its teacher "
                                       f"is missing; training {job.describe()} again"), stacklevel=2)
    teacher_dir = None
    if job.teacher is not None:
        teacher_dir = cache.model_dir(run_job(job.teacher, cache, need_model=True).key)
    entry = _fine_tune(job, key, cache, teacher_dir, callbacks)
    return JobResult(job, key, entry, cached=False)


def _tokenizer(checkpoint: str | Path) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(checkpoint))
    except (OSError, ValueError) as error:
        raise ClaimsError(f"cannot load the tokenizer of {checkpoint!r} ({str(error).splitlines()[0]})",
                          "save the tokenizer beside the weights (tokenizer.save_pretrained(folder))") from None


def _first(dataset: Any, count: int | None) -> Any:
    return dataset.select(range(min(count, len(dataset)))) if count else dataset


def _model_columns(features: Any, model: Any, extra: tuple[str, ...] = ()) -> Any:
    """Only the columns the model's forward takes (plus extra), so collation never sees strings or offsets."""
    from harness.measure.distill import accepted_inputs

    keep = accepted_inputs(model) | set(extra)
    return features.select_columns([c for c in features.column_names if c in keep])


def training_arguments(job: Job, output_dir: Path, distilling: bool = False) -> Any:
    """TrainingArguments from the job's settings: Trainer's checkpoints every save_steps, the last one kept."""
    from transformers import TrainingArguments

    s = job.settings
    return TrainingArguments(
        output_dir=str(output_dir),
        per_device_train_batch_size=s.train_batch_size,
        per_device_eval_batch_size=s.eval_batch_size,
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
        eval_strategy="no",
        report_to="none",
        disable_tqdm=False,
        remove_unused_columns=not distilling,  # the distillation batches keep BERT's token_type_ids for the teacher
    )


def _fine_tune(job: Job, key: JobKey, cache: ResultCache, teacher_dir: Path | None, callbacks: tuple) -> dict[str, Any]:
    from transformers import AutoModelForQuestionAnswering, DataCollatorWithPadding, Trainer, set_seed

    from harness import environment
    from harness.measure.distill import DistillationTrainer
    from harness.measure.models import load_pretrained

    spec, s = job.spec, job.settings
    qa = spec.kind == "extractive_qa"
    set_seed(job.seed)  # the new head's initial weights depend on it
    model = load_pretrained(job.checkpoint, "question_answering" if qa else "sequence_classification", spec.num_labels)
    if spec.kind == "classification":
        model.config.id2label, model.config.label2id = dict(enumerate(spec.label_names)), {n: i for i, n in enumerate(spec.label_names)}
    tokenizer = feature_tokenizer = _tokenizer(job.checkpoint)
    teacher = None
    if teacher_dir is not None:
        teacher = AutoModelForQuestionAnswering.from_pretrained(str(teacher_dir))
        feature_tokenizer = _tokenizer(teacher_dir)  # BERT's tokenizer also gives the teacher its token_type_ids
        if feature_tokenizer.get_vocab() != tokenizer.get_vocab():
            raise ClaimsError(f"teacher {job.teacher.checkpoint!r} and student {job.checkpoint!r} have different vocabularies",
                              "distil between checkpoints that share one tokenizer (bert-base-uncased and distilbert-base-uncased do)")
    train = _first(data.load_split(spec.name, spec.train_split, job.data_dir), s.max_train_samples)
    evals = {split: _first(data.load_split(spec.name, split, job.data_dir), s.max_eval_samples) for split in spec.eval_splits}
    if qa:
        train_features = preprocess.prepare_squad_train_features(train, feature_tokenizer, s.max_length, s.doc_stride, padding=False)
        train_features = _model_columns(train_features, teacher or model, ("start_positions", "end_positions"))
    else:
        train_features = preprocess.tokenize_task(train, spec, tokenizer, s.max_length)
    collator = DataCollatorWithPadding(feature_tokenizer, pad_to_multiple_of=8 if job.device == "cuda" else None)
    common = {"model": model, "args": training_arguments(job, cache.trainer_dir(key), teacher is not None),
              "train_dataset": train_features, "data_collator": collator, "processing_class": tokenizer,
              "callbacks": list(callbacks)}
    if teacher is not None:
        trainer = DistillationTrainer(**common, teacher=teacher, temperature=s.distillation_temperature,
                                      alpha_ce=s.distillation_alpha_ce, alpha_task=s.distillation_alpha_task)
    else:
        trainer = Trainer(**common)
    resume = cache.last_checkpoint(key)
    if resume is not None:
        LOG.warning("resuming %s from %s", job.describe(), resume)
    started = time.perf_counter()
    train_output = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    scores = {split: _evaluate(trainer, spec, dataset, tokenizer, s) for split, dataset in evals.items()}
    eval_seconds = time.perf_counter() - started
    if job.keeps_model:
        _save_model(trainer, cache.model_dir(key))
    record = {
        "job": job.describe(),
        "protocol": job.protocol,
        "checkpoint_name": job.checkpoint,
        "teacher_model": str(teacher_dir) if teacher_dir else None,
        "data_sources": {split: data.data_source(spec.name, split, job.data_dir) for split in _splits(spec)},
        "device": job.device,
        "precision": job.precision,
        "environment": environment.collect(),
        "resumed_from": resume.name if resume else None,
        "train_rows": len(train),
        "train_features": len(train_features),
        "eval_rows": {split: len(dataset) for split, dataset in evals.items()},
        "optimisation_steps": train_output.global_step,
        "training_loss": train_output.training_loss,
        "train_samples_per_second": train_output.metrics.get("train_samples_per_second"),
        "wall_time_s": {"train": round(train_seconds, 3), "evaluate": round(eval_seconds, 3),
                        "total": round(train_seconds + eval_seconds, 3)},
    }
    entry = cache.store(key, scores, record)
    cache.discard_checkpoints(key)
    return entry


def _finite_or_none(values: dict[str, float]) -> dict[str, float | None]:
    """A correlation of constant predictions is undefined (nan): stored as null, never as a number."""
    return {name: (value if math.isfinite(value) else None) for name, value in values.items()}


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


def _evaluate(trainer: Any, spec: TaskSpec, dataset: Any, tokenizer: Any, s: Settings) -> dict[str, float | None]:
    """The task's metrics on one evaluation split, from the trained model's predictions."""
    if spec.kind == "extractive_qa":
        features = preprocess.prepare_squad_eval_features(dataset, tokenizer, s.max_length, s.doc_stride, padding=False)
        start_logits, end_logits = predict_in_order(trainer, features)[:2]
        answers = preprocess.postprocess_squad(dataset, features, start_logits, end_logits)
        references = dict(zip(dataset["id"], dataset["answers"], strict=True))
        return _finite_or_none(metrics.compute(spec.name, answers, references))
    tokenized = preprocess.tokenize_task(dataset, spec, tokenizer, s.max_length)
    logits = np.asarray(predict_in_order(trainer, tokenized))
    predictions = logits[:, 0] if spec.kind == "regression" else logits.argmax(axis=-1)
    return _finite_or_none(metrics.compute(spec.name, predictions, dataset["label"]))


def _save_model(trainer: Any, target: Path) -> None:
    """Save the fine-tuned model and tokenizer whole or not at all (a temporary folder, then a rename)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".model.", dir=target.parent))
    trainer.save_model(str(staging))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)

