"""What a fine-tuning job costs on a GPU, and how long a set of jobs takes on several workers: a model, not a measurement.

`job_seconds(job)` models one job's GPU seconds as docs/finetune.md does: its optimisation steps (training
rows / batch x epochs) times the time of a step, the larger of its FLOPs (6 x non-embedding parameters per
trained token, plus 2 x the teacher's for DistilBERT (D)) at an assumed sustained throughput and an assumed
per-step floor, plus the evaluation's FLOPs (2 x per token) and a fixed cost per job (GpuModel). The
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

# Rows of each task as released (GLUE, IMDb, SQuAD v1.1): training rows, and the rows scored (dev; IMDb test).
# SQuAD counts its windows of 384 tokens with stride 128 over the 87,599 training questions.
TRAIN_ROWS = {"cola": 8551, "mnli": 392702, "mrpc": 3668, "qnli": 104743, "qqp": 363846, "rte": 2490, "sst2": 67349,
              "stsb": 5749, "wnli": 635, "imdb": 25000, "squad": 88641}
EVAL_ROWS = {"cola": 1043, "mnli": 19647, "mrpc": 408, "qnli": 5463, "qqp": 40430, "rte": 277, "sst2": 872, "stsb": 1500,
             "wnli": 71, "imdb": 25000, "squad": 10784}
# Tokens a row costs when random batches of the paper protocol's size are padded to their longest row. Measured by
# benchmarks/bench_finetune_throughput.py on ../shared's data with the bert-base-uncased tokenizer (docs/finetune.md)
# for SST-2, MRPC, RTE, STS-B, IMDb and SQuAD; ASSUMED for the tasks ../shared lacks (CoLA, MNLI, QNLI, QQP, WNLI).
# bench_scaleout.py --model measures them again where the data is present and passes its own figures in.
PADDED_TOKENS = {"sst2": 40.1, "mrpc": 80.0, "rte": 127.9, "stsb": 69.4, "imdb": 511.7, "squad": 303.0,
                 "cola": 24.0, "mnli": 80.0, "qnli": 110.0, "qqp": 64.0, "wnli": 64.0}
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


def job_seconds(job: Job, model: GpuModel = GpuModel(), padded_tokens: Mapping[str, float] = PADDED_TOKENS,
                parameters: float = BERT_NON_EMBEDDING, teacher_parameters: float = BERT_NON_EMBEDDING) -> float:
    """Modelled GPU seconds of one job (its teacher's training not included)."""
    s, task = job.settings, job.task
    rows = min(TRAIN_ROWS.get(task, 0), s.max_train_samples or math.inf)
    padded = min(padded_tokens.get(task, 128.0), float(s.max_length or 512))
    steps = math.ceil(rows / s.train_batch_size) * s.num_train_epochs
    if s.max_steps:
        steps = min(steps, s.max_steps)
    per_token = 6 * parameters + (2 * teacher_parameters if job.teacher else 0.0)
    step_s = max(model.step_floor_s, per_token * padded * s.train_batch_size / (model.tflops * 1e12))
    eval_rows = min(EVAL_ROWS.get(task, 0), s.max_eval_samples or math.inf)
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
