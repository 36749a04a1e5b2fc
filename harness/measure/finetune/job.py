"""The fine-tuning job: (checkpoint, task, protocol, seed) -> dev/test metrics, read from the cache or trained.

A Job is resolved once from names (`make_job`): the task's TaskSpec, the protocol's Settings for that
task, the seed, the device; the sources of its data splits are located once, the first time the job
needs them (`Job.sources`), and the same Source objects are fingerprinted for the cache key and loaded
for training. `run_job` returns the job's result from harness.measure.finetune.cache when it holds one, else
trains it (harness.measure.finetune.training) and stores it, holding the job's lock (harness.measure.finetune.cache) so
that processes sharing a cache train each job once: the others wait, then read its result. The key
(`job_key`) holds everything that decides the result, derived, never bumped by hand (what pins each
input: harness.measure.finetune.identity). DistilBERT (D) is a SQuAD job with a teacher job: the fine-tuned BERT
of the same protocol and seed, trained first (and kept) when the cache lacks it. A JobResult gives the
job's metrics, its stored per-example predictions and whether the run is a measurement at all
(harness.measure.finetune.validity). Claim-level aggregation (medians over seeds, macro scores, retention) is
harness.measure.accuracy's.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import device as devices
from harness.data.loading import Source, locate
from harness.errors import ClaimsError
from harness.measure.finetune.cache import JobKey, ResultCache
from harness.measure.finetune.identity import checkpoint_identity, code_identity, training_devices
from harness.measure.finetune.predictions import SplitPredictions
from harness.measure.finetune.validity import Validity
from harness.measure.metrics import paper_cell
from harness.spec import protocols
from harness.spec.protocols import Settings
from harness.spec.tasks import TaskSpec, get_task


@dataclass(frozen=True)
class Job:
    """One fine-tuning run: what is trained on what, how, with which seed, where; a teacher for DistilBERT (D)."""

    checkpoint: str
    spec: TaskSpec
    protocol: str
    settings: Settings
    seed: int
    device: str = "cpu"
    data_dir: Path | None = None
    teacher: Job | None = None

    @property
    def task(self) -> str:
        return self.spec.name

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits the job reads: the training split, then every evaluation split."""
        return (self.spec.train_split, *self.spec.eval_splits)

    @functools.cached_property
    def sources(self) -> dict[str, Source]:
        """Where each split comes from, located once per job (a MissingInput when a split cannot be had)."""
        return {split: locate(self.spec, split, self.data_dir) for split in self.splits}

    @property
    def precision(self) -> str:
        return devices.precision(self.device)

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
    """A Job from names: the protocol's settings for the task (plus overrides, checked: Settings.replace; they are
    settings, so part of the key); teacher = a checkpoint to distil from. The protocol is read from this process's
    protocols file (harness.spec.protocols.use_file: --protocols FILE)."""
    spec = get_task(task)
    settings = protocols.get(protocol).for_task(spec)
    if overrides:
        settings = settings.replace(**overrides)
    seed = settings.first_seed if seed is None else seed
    teacher_job = None
    if teacher is not None:
        if spec.kind != "extractive_qa":
            raise ClaimsError(f"distillation during fine-tuning is built for SQuAD, not {task!r}", "drop the teacher")
        teacher_job = Job(teacher, spec, protocol, settings, seed, device, data_dir)
    return Job(checkpoint, spec, protocol, settings, seed, device, data_dir, teacher_job)


def job_key(job: Job) -> JobKey:
    """The cache key: everything that decides the job's result (see harness.measure.finetune.cache and .identity)."""
    device_count = training_devices(job.device)
    configuration = {
        "checkpoint": checkpoint_identity(job.checkpoint),
        "task": job.spec.keyed(),
        "settings": dataclasses.asdict(job.settings),
        "seed": job.seed,
        "data": {split: source.identity() for split, source in job.sources.items()},
        "device": job.device,
        "precision": job.precision,
        "devices": device_count,
        # Trainer's optimisation step: per-device batch x devices x gradient accumulation (a setting, so in the key twice)
        "effective_train_batch_size": job.settings.optimisation_batch_size * device_count,
        "code": code_identity(),
        "teacher": job_key(job.teacher).id if job.teacher else None,
    }
    return JobKey(configuration)


@dataclass(frozen=True)
class JobResult:
    """A job's cache entry (metrics and provenance), whether it was read back rather than trained, and its cache."""

    job: Job
    key: JobKey
    entry: dict[str, Any]
    cached: bool
    cache: ResultCache | None = None
    stored_predictions: dict[str, SplitPredictions] | None = field(default=None, compare=False, repr=False)  # already read

    @property
    def metrics(self) -> dict[str, dict[str, float | None]]:
        return self.entry["metrics"]

    def value(self, metric: str | None = None, split: str | None = None) -> float | None:
        """A cell's value: one of the task's paper metrics (default its first) on a split (default the paper's)."""
        return paper_cell(self.job.spec, self.metrics[split or self.job.spec.paper_split], metric)

    @property
    def validity(self) -> Validity:
        """Whether the run is a measurement at all (harness.measure.finetune.validity), as stored with its predictions.

        An entry stored without predictions (hand-built) carries none: valid, saying that nothing was checked."""
        stored = self.entry.get("validity")
        return Validity.from_json(stored) if stored else Validity(True, "not checked: the entry holds no predictions")

    def predictions(self, split: str | None = None) -> SplitPredictions:
        """The per-example predictions of one scored split (default the paper's), read from the cache."""
        split = split or self.job.spec.paper_split
        found = self._predictions
        if split not in found:
            raise ClaimsError(f"{self.job.describe()}: no stored predictions of split {split!r} (have {', '.join(found) or 'none'})",
                              "ask for one of the task's evaluation splits")
        return found[split]

    @functools.cached_property
    def _predictions(self) -> dict[str, SplitPredictions]:
        if self.stored_predictions is not None:
            return self.stored_predictions
        if self.cache is None:
            raise ClaimsError(f"{self.job.describe()}: this result was not read from a cache, so it has no stored predictions",
                              "build the JobResult with its ResultCache")
        return self.cache.predictions(self.key)
