"""What a fine-tuning job costs on a GPU, and how long a set of jobs takes on several workers: a model, not a measurement.

`job_seconds(job)` models one job's GPU seconds as docs/finetune.md does, from its task's cost figures
(harness/spec/tasks.yaml `cost`) and its settings: its optimisation steps (training rows / batch x epochs)
times the time of a step, the larger of its FLOPs (6 x non-embedding parameters per trained token, plus
2 x the teacher's for DistilBERT (D)) at an assumed sustained throughput and an assumed per-step floor,
plus the evaluation's FLOPs (2 x per token) and a fixed cost per job (GpuModel). The
executors use it for two things only: the order jobs start in (longest first) and the time left that the
progress line estimates. `schedule(costs, workers)` is longest-processing-time-first list scheduling: each
job in decreasing cost goes to the worker that frees first, as Ray hands queued tasks to free workers in
their order; the makespan is the latest finish. benchmarks/bench_scaleout.py --model prints it for the full
reproduction on 1, 4 and 8 GPUs. Nothing here is measured at run time and nothing here runs a job.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.measure.finetune.job import Job
from harness.spec.tasks import load_tasks

# The task table's cost figures (harness/spec/tasks.yaml `cost`: rows as released, padded tokens measured or ASSUMED),
# by task name, for the benchmarks that replace some with their own measurements (bench_scaleout.py --model).
TRAIN_ROWS = {name: spec.cost.train_rows for name, spec in load_tasks().items() if spec.cost}
PADDED_TOKENS = {name: spec.cost.padded_tokens for name, spec in load_tasks().items() if spec.cost}
# Non-embedding parameters of BERT-base (85.6 M; DistilBERT-base: 42.5 M), counted by harness.measure.models from the
# architectures in fixtures/configs (docs/finetune.md). A job's checkpoint is a path or a name: the model prices every
# job as BERT-base, which hardly matters where steps sit on the floor (most do at these batch sizes).
BERT_NON_EMBEDDING = 85.6e6


@dataclass(frozen=True)
class GpuModel:
    """The assumptions that turn a job's tokens into seconds (docs/finetune.md's central H100 scenario by default)."""

    tflops: float = 200.0  # sustained bf16 TFLOP/s during fine-tuning (H100 SXM dense peak: 989)
    step_floor_s: float = 0.025  # the least time of one optimisation step: launches, optimizer, collation
    job_overhead_s: float = 60.0  # loading weights and data, tokenizing; not downloads


def job_seconds(job: Job, model: GpuModel = GpuModel(), padded_tokens: Mapping[str, float] | None = None,
                parameters: float = BERT_NON_EMBEDDING, teacher_parameters: float = BERT_NON_EMBEDDING) -> float:
    """Modelled GPU seconds of one job (its teacher's training not included); padded_tokens by task name replaces
    the task table's figure; a task without cost figures is priced as a job's overhead alone."""
    s, cost = job.settings, job.spec.cost
    if cost is None:
        return model.job_overhead_s
    rows = min(cost.train_rows, s.max_train_samples or math.inf)
    padded = min((padded_tokens or {}).get(job.task, cost.padded_tokens), float(s.max_length))
    steps = math.ceil(rows / s.train_batch_size) * s.num_train_epochs
    if s.max_steps:
        steps = min(steps, s.max_steps)
    per_token = 6 * parameters + (2 * teacher_parameters if job.teacher else 0.0)
    step_s = max(model.step_floor_s, per_token * padded * s.train_batch_size / (model.tflops * 1e12))
    eval_rows = min(cost.eval_rows, s.max_eval_samples or math.inf)
    eval_s = 2 * parameters * padded * eval_rows / (model.tflops * 1e12)
    return steps * step_s + eval_s + model.job_overhead_s


def unit_seconds(job: Job, model: GpuModel = GpuModel(), teacher_trained: bool = True, **kwargs: float) -> float:
    """A unit of work: the job, plus its teacher's own training when the same task trains it first (DistilBERT (D))."""
    teacher = job_seconds(job.teacher, model, **kwargs) if job.teacher is not None and teacher_trained else 0.0
    return job_seconds(job, model, **kwargs) + teacher


@dataclass(frozen=True)
class Schedule:
    """Longest-first list scheduling of jobs on workers: the makespan and each worker's jobs in order."""

    makespan: float
    workers: tuple[tuple[str, ...], ...]
    loads: tuple[float, ...]

    @property
    def total(self) -> float:
        return sum(self.loads)

    @property
    def efficiency(self) -> float:
        """Busy time over workers x makespan: 1.0 when no worker ever waits for the longest one."""
        return self.total / (len(self.loads) * self.makespan) if self.makespan else 1.0


def schedule(costs: Sequence[tuple[str, float]], workers: int) -> Schedule:
    """Each job, longest first (ties by name), to the worker that frees first (ties: the lowest index)."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    free_at = [(0.0, index) for index in range(workers)]
    assigned: list[list[str]] = [[] for _ in range(workers)]
    for name, cost in sorted(costs, key=lambda pair: (-pair[1], pair[0])):
        start, index = heapq.heappop(free_at)
        assigned[index].append(name)
        heapq.heappush(free_at, (start + cost, index))
    loads = [0.0] * workers
    for finish, index in free_at:
        loads[index] = finish
    return Schedule(max(loads), tuple(map(tuple, assigned)), tuple(loads))
