"""Live progress of the fine-tuning jobs this process runs, through harness.measure.live (nothing when nobody listens).

A job gets a number the first time it is asked for (`job 3/23`: its place among the jobs the run planned,
`plan(count)`, set by the plugin before the first claim; beyond the plan, e.g. --rerun-invalid's further seeds,
the count grows), then one line when it is read from the cache or starts training, Trainer's step, loss, pace and
time left while it trains (`TrainingProgress`, a TrainerCallback), the evaluation batch by batch, and one line
when it is done with its score. harness.measure.finetune.run calls these; the Ray driver's own progress line is
harness.execute.progress. Nothing here changes a job or its key.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from harness.measure import live
from harness.measure.finetune.job import Job, JobResult


@dataclass
class JobNumbers:
    """Each job's number in this run, by its cache key, and how many the run planned."""

    planned: int = 0
    numbers: dict[str, int] = field(default_factory=dict)

    def label(self, key_id: str) -> str:
        number = self.numbers.setdefault(key_id, len(self.numbers) + 1)
        return f"job {number}/{max(self.planned, len(self.numbers))}"


_numbers = JobNumbers()


def plan(planned: int) -> None:
    """Start numbering the run's jobs: `planned` of them (the N of `job i/N`)."""
    global _numbers
    _numbers = JobNumbers(planned)


def who(job: Job) -> str:
    """The job in a few words: model (at its revision, a commit shortened), task, seed (and (D) for DistilBERT (D))."""
    name, at, revision = job.checkpoint.rpartition("@")
    name = f"{name}@{revision[:12]}" if at and name else Path(job.checkpoint).name or job.checkpoint
    return f"{name}{' (D)' if job.teacher is not None else ''} {job.task} seed {job.seed}"


def prefix(job: Job, key_id: str) -> str:
    return f"[{_numbers.label(key_id)}] {who(job)}"


def score(result: JobResult) -> str:
    """The job's paper cell, e.g. 'validation accuracy 91.28', and the reason when the run is no measurement."""
    spec = result.job.spec
    try:
        value = result.value()
    except (KeyError, TypeError, ValueError):
        value = None
    text = f"{spec.paper_split} {spec.paper_metric} {'undefined' if value is None else f'{value:.2f}'}"
    validity = result.validity
    return text if validity.valid else f"{text}; INVALID: {validity.reason}"


def read_back(result: JobResult) -> JobResult:
    """Say that a job was read from the cache, with its score; the result, unchanged."""
    if live.active():
        live.line(f"{prefix(result.job, result.key.id)}: read from the cache ({score(result)})")
    return result


def finished(result: JobResult) -> JobResult:
    """Say that a job is trained and scored, how long it took and its score; the result, unchanged."""
    if live.active():
        wall = result.entry.get("wall_time_s") or {}
        took = f"trained in {live.duration(wall.get('train') or 0)}, evaluated in {live.duration(wall.get('evaluate') or 0)}"
        live.line(f"{prefix(result.job, result.key.id)}: done, {took}: {score(result)}")
    return result


def callbacks(job: Job, key_id: str) -> list[TrainerCallback]:
    """The callbacks that show a training job's progress (none when nobody listens)."""
    if not live.active():
        return []
    return [TrainingProgress(prefix(job, key_id), job.spec.eval_splits, f"on {job.device} (protocol {job.protocol}")]


class TrainingProgress(TrainerCallback):
    """A job's line when its training starts (its weights and data loaded), then Trainer's step, loss, pace and time
    left; its evaluation batch by batch. It takes the place of Trainer's own progress bar
    (harness.measure.finetune.training removes that one)."""

    replaces_progress_bar = True

    def __init__(self, prefix: str, eval_splits: tuple[str, ...] = (), where: str = ""):
        self.prefix, self.eval_splits, self.where = prefix, eval_splits, where
        self.started, self.first_step, self.loss = time.monotonic(), 0, None
        self.predicted, self.batch = 0, 0  # evaluation splits done; batches of the current one

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.started, self.first_step = time.monotonic(), state.global_step  # a resumed run starts past 0
        resumed = f", resuming at step {state.global_step}" if state.global_step else ""
        live.line(f"{self.prefix}: training {self.where}, {state.max_steps} steps{resumed})")

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> None:
        if logs and "loss" in logs:
            self.loss = logs["loss"]
            live.status(self._training(state), milestone=True)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        live.status(self._training(state))

    def on_prediction_step(self, args: Any, state: Any, control: Any, eval_dataloader: Any = None, **kwargs: Any) -> None:
        self.batch += 1
        total = f"/{len(eval_dataloader)}" if eval_dataloader is not None and hasattr(eval_dataloader, "__len__") else ""
        live.status(f"{self.prefix}: evaluating {self._split()}: batch {self.batch}{total}")

    def on_predict(self, args: Any, state: Any, control: Any, metrics: dict | None = None, **kwargs: Any) -> None:
        seconds = (metrics or {}).get("test_runtime")
        took = f" in {live.duration(seconds)}" if seconds is not None else ""
        batches = f"{self.batch} batch{'es' if self.batch != 1 else ''}"
        live.status(f"{self.prefix}: evaluated {self._split()} ({batches}{took})", milestone=True)
        self.predicted, self.batch = self.predicted + 1, 0

    def _split(self) -> str:
        return self.eval_splits[self.predicted] if self.predicted < len(self.eval_splits) else f"split {self.predicted + 1}"

    def _training(self, state: Any) -> str:
        step, total = state.global_step, state.max_steps or 0
        elapsed, done = time.monotonic() - self.started, step - self.first_step
        text = f"{self.prefix}: step {step}/{total}" + (f" ({100 * step / total:.0f}%)" if total else "")
        if self.loss is not None:
            text += f", loss {self.loss:.4f}"
        if done > 0 and elapsed > 0:
            pace = done / elapsed
            text += f", {pace:.2f} steps/s" if pace < 10 else f", {pace:.0f} steps/s"
            if total > step:
                text += f", about {live.duration((total - step) / pace)} left"
        return text
