"""What the accuracy claims measure (Tables 1 and 2), computed from fine-tuning jobs and their cache.

A Table 1 cell is the median over seeds of one metric on the task's dev split (the paper: median of 5
seeds); a macro score is the unweighted mean of cells; the retention is 100 * macro(DistilBERT) /
macro(BERT) over the same tasks, protocol and seeds; a gap is cell(BERT) - cell(DistilBERT). DistilBERT
(D) is the SQuAD job distilled from the fine-tuned BERT of the same seed. `AccuracyRunner.measure(claim)`
answers any accuracy row of the registry; the jobs run (or are read back) through harness.finetune, and
each job is asked once per session. This module judges nothing: harness.verdict does.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.data import loading as data
from harness.errors import ClaimsError
from harness.measure.cache import ResultCache
from harness.measure.finetune import Job, JobResult, make_job, run_job
from harness.spec.registry import Claim, Registry
from harness.spec.tasks import get_task

ROLES = ("bert", "distilbert")
MISSING_FIX = ("run where huggingface.co is reachable (checkpoints and data come from the Hub), or pass local copies: "
               "--bert-checkpoint / --distilbert-checkpoint DIR (weights saved with save_pretrained) and --data-dir ROOT "
               "(ROOT/glue/<TASK>/*.tsv, ROOT/imdb/, ROOT/squad/)")


class RunFailed(Exception):
    """A fine-tuning run finished without a defined score (e.g. constant STS-B predictions)."""


@dataclass(frozen=True)
class Measurement:
    """A claim's measured value with the per-seed values and jobs behind it."""

    value: float
    details: dict[str, Any]
    summary: str


@dataclass
class AccuracyRunner:
    """Runs (or reads back) the jobs the accuracy claims need, once per session each."""

    checkpoints: dict[str, str]
    protocol: str = "paper"
    seeds: int = 1
    device: str = "cpu"
    data_dir: Path | None = None
    cache: ResultCache = field(default_factory=ResultCache)
    refresh: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)
    registry: Registry | None = None
    _done: dict[tuple, list[JobResult] | ClaimsError] = field(default_factory=dict, repr=False)

    def job(self, role: str, task: str, distilled: bool = False) -> Job:
        """The first-seed job of a role on a task; distilled: DistilBERT (D) with BERT as the teacher."""
        teacher = self.checkpoints["bert"] if distilled else None
        return make_job(self.checkpoints[role], task, self.protocol, device=self.device, data_dir=self.data_dir,
                        teacher=teacher, overrides=self.overrides or None)

    def results(self, role: str, task: str, distilled: bool = False) -> list[JobResult]:
        """One result per seed; a missing input raises ClaimsError (remembered for the session)."""
        memo_key = (role, task, distilled)
        if memo_key not in self._done:
            try:
                first = self.job(role, task, distilled)
                try:
                    self._done[memo_key] = [run_job(first.with_seed(seed), self.cache, refresh=self.refresh)
                                            for seed in first.settings.seeds(self.seeds)]
                except ClaimsError as error:  # name every missing input at once, not only the first one met
                    problems = missing_inputs(first)
                    if len(problems) < 2:
                        raise
                    raise ClaimsError("missing " + "; ".join(problems), MISSING_FIX) from error
            except ClaimsError as error:
                self._done[memo_key] = error
        found = self._done[memo_key]
        if isinstance(found, ClaimsError):
            raise found
        return found

    def cell(self, role: str, task: str, metric: str | None = None, distilled: bool = False) -> Measurement:
        """Median over seeds of one metric on the task's paper split."""
        spec = get_task(task)
        metric = metric or spec.paper_metric
        results = self.results(role, task, distilled)
        per_seed = [r.value(metric) for r in results]
        undefined = [r.job.seed for r, v in zip(results, per_seed, strict=True) if v is None]
        if undefined:
            raise RunFailed(f"{task} {metric} is undefined for {role} seed(s) {undefined} (constant predictions: a "
                            f"failed run); rerun with more --seeds or --refresh")
        value = float(statistics.median(per_seed))
        name = f"{role}{' (D)' if distilled else ''}"
        details = {
            "role": name, "checkpoint": self.checkpoints[role], "task": task, "metric": metric,
            "split": spec.paper_split, "protocol": self.protocol, "seeds": [r.job.seed for r in results],
            "per_seed": per_seed, "median": value, "all_metrics": [r.metrics for r in results],
            "cache": ["hit" if r.cached else "trained" for r in results],
            "cache_keys": [r.key.id for r in results],
            "wall_time_s": [r.entry.get("wall_time_s", {}).get("total") for r in results],
        }
        seeds_text = f"median of {len(per_seed)} seeds {', '.join(f'{v:.2f}' for v in per_seed)}" if len(per_seed) > 1 \
            else f"seed {results[0].job.seed}"
        return Measurement(value, details, f"{name} {task} {metric} = {value:.2f} ({seeds_text}; protocol {self.protocol})")

    def _metric_of(self, task: str, role: str) -> str:
        """The metric of a task's Table 1 cell: the registry row's, else the task's paper metric."""
        if self.registry is not None:
            try:
                return self.registry.get(f"glue.{task}.{role}").metric
            except ClaimsError:
                pass
        return get_task(task).paper_metric

    def macro(self, role: str, tasks: list[str]) -> Measurement:
        """Unweighted mean of the role's cells over the tasks (Table 1's score)."""
        cells = {task: self.cell(role, task, self._metric_of(task, role)) for task in tasks}
        value = sum(c.value for c in cells.values()) / len(cells)
        details = {"role": role, "tasks": tasks, "cells": {t: c.value for t, c in cells.items()},
                   "cache": [state for c in cells.values() for state in c.details["cache"]],
                   "cell_details": {t: c.details for t, c in cells.items()}}
        return Measurement(value, details, f"{role} macro over {len(tasks)} tasks = {value:.2f} ("
                           + ", ".join(f"{t} {c.value:.1f}" for t, c in cells.items()) + ")")

    def measure(self, claim: Claim) -> Measurement:
        """The measured value of any glue, macro, retention or downstream row of the registry."""
        params = claim.params
        if claim.family == "glue":
            return self.cell(claim.model, claim.task, claim.metric)
        if claim.family in ("macro", "retention"):
            tasks = [t for t in params["tasks"] if t not in params.get("exclude", [])]
            if claim.family == "macro":
                return self.macro(claim.model, tasks)
            bert, distilbert = self.macro("bert", tasks), self.macro("distilbert", tasks)
            if bert.value <= 0:
                raise RunFailed(f"BERT's macro score is {bert.value:.2f}: a ratio to it means nothing (failed runs?)")
            value = 100 * distilbert.value / bert.value
            return Measurement(value, {"tasks": tasks, "bert_macro": bert.value, "distilbert_macro": distilbert.value,
                                       "cache": bert.details["cache"] + distilbert.details["cache"],
                                       "bert": bert.details, "distilbert": distilbert.details},
                               f"retention {distilbert.value:.2f} / {bert.value:.2f} = {value:.1f}% over {len(tasks)} tasks")
        if claim.family == "downstream":
            if claim.metric == "points_behind":
                metric = params.get("metric_of_gap") or get_task(claim.task).paper_metric
                bert, distilbert = self.cell("bert", claim.task, metric), self.cell("distilbert", claim.task, metric)
                value = bert.value - distilbert.value
                return Measurement(value, {"metric": metric, "cache": bert.details["cache"] + distilbert.details["cache"],
                                           "bert": bert.details, "distilbert": distilbert.details},
                                   f"{claim.task} {metric}: BERT {bert.value:.2f} - DistilBERT {distilbert.value:.2f} "
                                   f"= {value:.2f} points")
            return self.cell(claim.model, claim.task, claim.metric, distilled=bool(params.get("distillation")))
        raise ClaimsError(f"claim {claim.id}: family {claim.family!r} is not an accuracy claim",
                          "run it with the test of its family")


def _weights_problem(checkpoint: str) -> str | None:
    """Why harness.models.load_pretrained would refuse this checkpoint (its tests, without loading anything)."""
    from harness.data.hub import hub_is_reachable, looks_like_local_path

    if looks_like_local_path(checkpoint):
        folder = Path(checkpoint)
        if not any((folder / name).is_file() for name in ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json")):
            return f"the weights of {checkpoint!r} (the folder has no model.safetensors or pytorch_model.bin)"
        return None
    return None if hub_is_reachable() else f"the pretrained weights of {checkpoint!r} (the Hugging Face Hub is unreachable)"


def missing_inputs(job: Job) -> list[str]:
    """Every input the job lacks (weights, the teacher's weights, data splits); empty when all are there."""
    problems = [p for p in dict.fromkeys(_weights_problem(c) for c in (job.checkpoint, job.teacher and job.teacher.checkpoint)
                                         if c) if p]
    for split in (job.spec.train_split, *job.spec.eval_splits):
        try:
            data.locate(job.task, split, job.data_dir)
        except ClaimsError as error:
            problems.append(f"the {job.task} {split} data ({error.what})")
    return problems
