"""What the accuracy claims measure (Tables 1 and 2), computed from fine-tuning jobs and their cache.

A Table 1 cell is the median over seeds of one metric on the task's dev split (the paper: median of 5
seeds); a macro score is the unweighted mean of cells; the retention is 100 * macro(DistilBERT) /
macro(BERT) over the same tasks, protocol and seeds; a gap is cell(BERT) - cell(DistilBERT). DistilBERT
(D) is the SQuAD job distilled from the fine-tuned BERT of the same seed. `AccuracyRunner.measure(claim)`
answers any accuracy row of the registry; the jobs run (or are read back) through harness.measure.finetune,
and each job is asked once per session. Every cell is read with its task's paper metric unless the row
names another of the task's paper metrics (SQuAD's F1); the macro tasks are the GLUE tasks of
harness/spec/tasks.yaml minus the row's `exclude`. This module judges nothing: harness.judge does.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.data.loading import locate
from harness.errors import ClaimsError, MissingInput
from harness.measure.cache import ResultCache
from harness.measure.finetune import Job, JobResult, make_job, run_job
from harness.measure.measurement import Measurement
from harness.measure.models import weights_problem
from harness.spec.registry import Claim
from harness.spec.tasks import get_task, glue_task_names

MISSING_FIX = ("run where huggingface.co is reachable (checkpoints and data come from the Hub), or pass local copies: "
               "--bert-checkpoint / --distilbert-checkpoint DIR (weights saved with save_pretrained) and --data-dir ROOT "
               "(ROOT/glue/<TASK>/*.tsv, ROOT/imdb/, ROOT/squad/)")


class RunFailed(ClaimsError):
    """A fine-tuning run finished without a defined score (e.g. constant STS-B predictions): the claim fails."""


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
    _done: dict[tuple, list[JobResult] | Exception] = field(default_factory=dict, repr=False)

    def planned_jobs(self, claims: list[Claim]) -> list[Job]:
        """Every job (each seed) the claims read, each once, in a stable order: what an executor runs ahead of them.

        A DistilBERT (D) job carries its teacher job (run_job trains the teacher first when the cache lacks it).
        """
        groups = dict.fromkeys(group for claim in claims for group in cells_needed(claim))
        jobs = []
        for role, task, distilled in groups:
            first = self.job(role, task, distilled)
            jobs += [first.with_seed(seed) for seed in first.settings.seeds(self.seeds)]
        return jobs

    def job(self, role: str, task: str, distilled: bool = False) -> Job:
        """The first-seed job of a role on a task; distilled: DistilBERT (D) with BERT as the teacher."""
        teacher = self.checkpoints["bert"] if distilled else None
        return make_job(self.checkpoints[role], task, self.protocol, device=self.device, data_dir=self.data_dir,
                        teacher=teacher, overrides=self.overrides or None)

    def results(self, role: str, task: str, distilled: bool = False) -> list[JobResult]:
        """One result per seed; an error (a missing input included) is remembered for the session and raised
        again for every claim that needs the same jobs, so a failing job is tried once."""
        memo_key = (role, task, distilled)
        if memo_key not in self._done:
            try:
                first = self.job(role, task, distilled)
                try:
                    self._done[memo_key] = [run_job(first.with_seed(seed), self.cache, refresh=self.refresh)
                                            for seed in first.settings.seeds(self.seeds)]
                except MissingInput as error:  # name every missing input at once, not only the first one met
                    problems = missing_inputs(first)
                    if len(problems) < 2:
                        raise
                    raise MissingInput("missing " + "; ".join(problems), MISSING_FIX) from error
            except Exception as error:  # noqa: BLE001 - remembered here, raised below for every claim that asks
                self._done[memo_key] = error
        found = self._done[memo_key]
        if isinstance(found, Exception):
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

    def macro(self, role: str, tasks: list[str]) -> Measurement:
        """Unweighted mean of the role's cells over the tasks, each with its task's paper metric (Table 1's score)."""
        cells = {task: self.cell(role, task) for task in tasks}
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
            tasks = macro_tasks(claim)
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


def macro_tasks(claim: Claim) -> list[str]:
    """The tasks a macro or retention row averages: Table 1's GLUE tasks (tasks.yaml) minus the row's `exclude`."""
    return [task for task in glue_task_names() if task not in claim.params["exclude"]]


def cells_needed(claim: Claim) -> list[tuple[str, str, bool]]:
    """The (role, task, distilled) cells an accuracy row reads: one cell, a model's GLUE row, or both models'."""
    if claim.family == "glue":
        return [(claim.model, claim.task, False)]
    if claim.family in ("macro", "retention"):
        roles = [claim.model] if claim.family == "macro" else ["bert", "distilbert"]
        return [(role, task, False) for role in roles for task in macro_tasks(claim)]
    if claim.family == "downstream":
        if claim.metric == "points_behind":
            return [("bert", claim.task, False), ("distilbert", claim.task, False)]
        return [(claim.model, claim.task, bool(claim.params.get("distillation")))]
    raise ClaimsError(f"claim {claim.id}: family {claim.family!r} is not an accuracy claim", "run it with the test of its family")


def missing_inputs(job: Job) -> list[str]:
    """Every input the job lacks (weights, the teacher's weights, data splits); empty when all are there."""
    checkpoints = dict.fromkeys(c for c in (job.checkpoint, job.teacher and job.teacher.checkpoint) if c)
    problems = [problem.what for problem in map(weights_problem, checkpoints) if problem is not None]
    for split in job.splits:
        try:
            locate(job.spec, split, job.data_dir)
        except MissingInput as error:
            problems.append(f"the {job.task} {split} data ({error.what})")
    return problems
