"""What the accuracy claims measure (Tables 1 and 2), computed from fine-tuning jobs and their cache.

A Table 1 cell is the median over every run (seed) of one metric on the task's dev split, failed runs counted as
the paper's median of 5 counted whatever its runs did; a macro score is the unweighted mean of cells; the retention is 100 *
macro(DistilBERT) / macro(BERT) over the same tasks, protocol and seeds; a gap is cell(BERT) -
cell(DistilBERT) (harness.measure.measurement.Combination writes that arithmetic). DistilBERT (D) is the
SQuAD job distilled from the fine-tuned BERT of the same seed. `AccuracyRunner.measure(claim)` answers any
accuracy row of the registry through its family's entry of harness.spec.families (measure_cell, measure_macro,
measure_retention; cells_of_* list the cells a row reads, for the executors); the jobs run (or are read back)
through harness.measure.finetune.job, and each job is asked once per session. Every cell is read with its task's
paper metric unless the row names another of the task's paper metrics (SQuAD's F1: families.cell_metric); the
macro tasks are the GLUE tasks of harness/spec/tasks.yaml minus the row's `exclude`.

A seed whose run is no measurement (JobResult.validity: a NaN loss, no better than a constant predictor;
or its cell's metric undefined) is a failed run: counted in the median with its value (below every other where
it has none) and reported; where half or more of a cell's runs failed the median would be a failed run's, so
the cell raises RunFailed: the claim ends in `error`, never in a verdict on the paper. `rerun_invalid` (the
option --rerun-invalid N) trains up to N further seeds while fewer than the requested are valid; each failed
run a further seed replaces leaves the median (SeedRun.replaced; the summary says so). A quick run (a protocol that is not
faithful, or any override such as --max-train-samples) gives every Measurement a `not_judged` reason.
Each Measurement carries its cells (values, runs, stored predictions) for the judge's intervals. This
module judges nothing: harness.judge does.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.data.loading import locate
from harness.errors import ClaimsError, MissingInput
from harness.measure.finetune.cache import ResultCache
from harness.measure.finetune.identity import revisions
from harness.measure.finetune.job import Job, JobResult, make_job
from harness.measure.finetune.run import cached_result, run_job
from harness.measure.measurement import Cell, Combination, Measurement, SeedRun
from harness.measure.models import weights_problem
from harness.spec import families, protocols
from harness.spec.registry import Claim
from harness.spec.tasks import get_task, glue_task_names

MISSING_FIX = ("run where the Hugging Face Hub answers, or with the checkpoints and datasets in its caches (README: On a GPU "
               "cluster), or pass local copies: "
               "--bert-checkpoint / --distilbert-checkpoint DIR (weights saved with save_pretrained) and --data-dir ROOT "
               "(ROOT/glue/<TASK>/*.tsv, ROOT/imdb/, ROOT/squad/)")


class RunFailed(ClaimsError):
    """No seed of a cell gave a measurement (every run invalid): the claim fails with `error`, naming each reason; its
    details (the runs' cache keys and revisions) go to the claim's result all the same (harness.plugin.session)."""

    def __init__(self, what: str, fix: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(what, fix)
        self.details = details or {}


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
    rerun_invalid: int = 0  # further seeds, at most, that replace a cell's invalid ones (--rerun-invalid)
    read_only: bool = False  # read every job from the cache, never train (python -m harness check)
    _done: dict[tuple, list[JobResult] | Exception] = field(default_factory=dict, repr=False)

    @classmethod
    def from_options(cls, options: Mapping[str, Any], root: Path, cache: ResultCache, **extra: Any) -> AccuracyRunner:
        """The runner a run's options describe, by pytest's option names as results.json records them: the claims'
        and the executors' runner (harness.plugin.options), and `python -m harness check`'s (read_only=True)."""
        from harness import device
        from harness.data.hub import expand_local, with_revision
        from harness.paths import data_root

        chosen = {role: options.get(f"{role}_checkpoint") for role in ("bert", "distilbert")}
        max_train = options.get("max_train_samples")
        return cls(checkpoints={role: with_revision(expand_local(name), options.get(f"{role}_revision")) if name else name
                                for role, name in chosen.items()},
                   protocol=options.get("protocol") or "paper", seeds=options.get("seeds") or 1,
                   device=device.resolve(options.get("device") or "auto"),
                   data_dir=data_root(options.get("data_dir"), root), cache=cache,
                   overrides={"max_train_samples": max_train} if max_train else {},
                   rerun_invalid=options.get("rerun_invalid") or 0, **extra)

    @property
    def quick(self) -> str | None:
        """Why this runner's measurements are quick (reported, not judged), or None for a faithful run."""
        reasons = [] if protocols.get(self.protocol).faithful else [f"quick protocol {self.protocol!r}"]
        reasons += [f"{name} {value}" for name, value in sorted(self.overrides.items())]  # e.g. --max-train-samples
        return "quick run: " + ", ".join(reasons) if reasons else None

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
                    self._done[memo_key] = self._run_seeds(first)
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

    def _run_seeds(self, first: Job) -> list[JobResult]:
        """The requested seeds, then up to rerun_invalid further seeds while fewer than the requested are valid."""
        requested = first.settings.seeds(self.seeds)
        results = [self._result(first.with_seed(seed)) for seed in requested]
        for seed in first.settings.seeds(self.seeds + self.rerun_invalid)[len(requested):]:
            if sum(run_validity(result)[0] for result in results) >= len(requested):
                break
            results.append(self._result(first.with_seed(seed)))
        return results

    def _result(self, job: Job) -> JobResult:
        return cached_result(job, self.cache) if self.read_only else run_job(job, self.cache, refresh=self.refresh)

    def replacement_jobs(self, claims: list[Claim]) -> list[Job]:
        """The further seeds --rerun-invalid would train next for the claims, from what the cache holds: for each
        cell, its next seed while fewer of its seeds than requested are valid (an executor runs them ahead of the
        claims, round after round, so the claims train nothing). Nothing when a needed seed is not in the cache."""
        if not self.rerun_invalid:
            return []
        needed = []
        for role, task, distilled in dict.fromkeys(group for claim in claims for group in cells_needed(claim)):
            first = self.job(role, task, distilled)
            valid = 0
            for index, seed in enumerate(first.settings.seeds(self.seeds + self.rerun_invalid)):
                job = first.with_seed(seed)
                try:
                    result = cached_result(job, self.cache)
                except ClaimsError:  # not there (or unusable): the requested seeds are the planned jobs, not this
                    if index >= self.seeds:
                        needed.append(job)
                    break
                valid += run_validity(result)[0]
                if valid >= self.seeds:
                    break
        return needed

    def cell(self, role: str, task: str, metric: str | None = None, distilled: bool = False) -> Measurement:
        """Median over every run of one metric on the task's paper split, failed runs counted (the paper's estimator),
        except failed runs a further seed replaced (--rerun-invalid); RunFailed when half or more of them failed."""
        spec = get_task(task)
        metric = families.cell_metric(spec, metric)
        results = self.results(role, task, distilled)
        name = f"{role}{' (D)' if distilled else ''}"
        runs, values, predictions, unavailable = [], [], [], None
        for result in results:
            valid, reason = run_validity(result, metric)
            raw = result.value(metric)
            finite = raw is not None and math.isfinite(float(raw))
            runs.append(SeedRun(result.job.seed, valid, None if valid else reason, float(raw) if finite else None))
            if valid:
                values.append(float(raw))
                try:
                    predictions.append(result.predictions(spec.paper_split))
                except ClaimsError as error:  # an entry without stored predictions: no dev-set bootstrap, say why
                    unavailable = error.what
        extra = max(0, len(results) - self.seeds)  # further seeds --rerun-invalid trained: each replaces a failed run
        for index, run in enumerate(runs):
            if not run.valid and extra:
                runs[index], extra = dataclasses.replace(run, replaced=True), extra - 1
        counted = [run for run in runs if not run.replaced]
        failed = [run for run in counted if not run.valid]
        if not values or 2 * len(failed) >= len(counted):
            why = ("no valid seed" if not values else f"{len(failed)} of its {len(counted)} runs failed (half or more: the "
                   "median would be a failed run's)")
            raise RunFailed(f"{name} {task}: {why}, so no measurement: " + "; ".join(f"seed {run.seed}: {run.reason}" for run in failed),
                            "the run failed, the paper is not judged by it: train further seeds with --rerun-invalid N "
                            "(each replaced failed run then leaves the median), --seeds N, or --refresh",
                            {"role": name, "checkpoint": self.checkpoints[role], "task": task, "protocol": self.protocol,
                             "cache_keys": [r.key.id for r in results], "revisions": revisions([r.job for r in results])})
        cell = Cell(name, task, metric, tuple(values), tuple(runs), () if unavailable else tuple(predictions),
                    self.checkpoints[role], self.protocol)
        value = cell.median
        details = {
            "role": name, "checkpoint": self.checkpoints[role], "task": task, "metric": metric,
            "split": spec.paper_split, "protocol": self.protocol, "seeds": [r.job.seed for r in results],
            "per_seed": [r.value(metric) for r in results], "valid_seeds": [run.seed for run in runs if run.valid],
            "invalid_seeds": {str(run.seed): run.reason for run in runs if not run.valid}, "median": value,
            "replaced_seeds": [run.seed for run in runs if run.replaced],
            "all_metrics": [r.metrics for r in results], "cache": ["hit" if r.cached else "trained" for r in results],
            "cache_keys": [r.key.id for r in results],
            "revisions": revisions([r.job for r in results]),  # each Hub name's commit, or why it is unknown
            "wall_time_s": [r.entry.get("wall_time_s", {}).get("total") for r in results],
        }
        if unavailable:
            details["predictions_unavailable"] = unavailable
        shown = ", ".join("failed" if run.value is None else f"{run.value:.2f}" + ("" if run.valid else " (failed)")
                          for run in counted)
        seeds_text = f"median of {len(counted)} runs {shown}" if len(counted) > 1 else f"seed {counted[0].seed}"
        replaced = len(runs) - len(counted)
        seeds_text += (f"; {replaced} failed run{'s' if replaced > 1 else ''} replaced by further seeds (--rerun-invalid): "
                       "the median leaves them out, unlike the paper's") if replaced else ""
        return Measurement(value, details, f"{name} {task} {metric} = {value:.2f} ({seeds_text}; protocol {self.protocol})",
                           (cell,), Combination("cell"), self.quick)

    def macro(self, role: str, tasks: list[str]) -> Measurement:
        """Unweighted mean of the role's cells over the tasks, each with its task's paper metric (Table 1's score)."""
        cells = {task: self.cell(role, task) for task in tasks}
        combination = Combination("mean", (tuple(range(len(cells))),))
        value = float(combination.value([c.value for c in cells.values()]))
        details = {"role": role, "tasks": tasks, "cells": {t: c.value for t, c in cells.items()},
                   "cache": [state for c in cells.values() for state in c.details["cache"]],
                   "cell_details": {t: c.details for t, c in cells.items()}}
        return Measurement(value, details, f"{role} macro over {len(tasks)} tasks = {value:.2f} ("
                           + ", ".join(f"{t} {c.value:.1f}" for t, c in cells.items()) + ")",
                           tuple(c.cells[0] for c in cells.values()), combination, self.quick)

    def measure(self, claim: Claim) -> Measurement:
        """The measured value of any row of a family that fine-tunes: its family's `measure` (harness.spec.families)."""
        return families.resolve(_accuracy_family(claim).measure)(self, claim)


def measure_cell(runner: AccuracyRunner, claim: Claim) -> Measurement:
    """A glue or downstream row: its cell of Table 1 or 2, or (a comparison row) BERT - DistilBERT on its task."""
    if families.is_cell(claim.family, claim.task, claim.metric):
        return runner.cell(claim.model, claim.task, claim.metric, distilled=bool(claim.params.get("distillation")))
    metric = families.cell_metric(claim.task, claim.params.get("metric_of_gap"))
    bert, distilbert = runner.cell("bert", claim.task, metric), runner.cell("distilbert", claim.task, metric)
    combination = Combination("difference", ((0,), (1,)))
    value = float(combination.value([bert.value, distilbert.value]))
    return Measurement(value, {"metric": metric, "cache": bert.details["cache"] + distilbert.details["cache"],
                               "bert": bert.details, "distilbert": distilbert.details},
                       f"{claim.task} {metric}: BERT {bert.value:.2f} - DistilBERT {distilbert.value:.2f} "
                       f"= {value:.2f} points", bert.cells + distilbert.cells, combination, runner.quick)


def measure_macro(runner: AccuracyRunner, claim: Claim) -> Measurement:
    """A macro row: its model's mean over Table 1's tasks (macro_tasks)."""
    return runner.macro(claim.model, macro_tasks(claim))


def measure_retention(runner: AccuracyRunner, claim: Claim) -> Measurement:
    """A retention row: 100 * macro(DistilBERT) / macro(BERT) over the same tasks."""
    tasks = macro_tasks(claim)
    bert, distilbert = runner.macro("bert", tasks), runner.macro("distilbert", tasks)
    if bert.value <= 0:
        raise RunFailed(f"BERT's macro score is {bert.value:.2f}: a ratio to it means nothing (failed runs?)")
    k = len(tasks)
    combination = Combination("ratio", (tuple(range(k, 2 * k)), tuple(range(k))))
    cells = bert.cells + distilbert.cells
    value = float(combination.value([cell.median for cell in cells]))
    return Measurement(value, {"tasks": tasks, "bert_macro": bert.value, "distilbert_macro": distilbert.value,
                               "cache": bert.details["cache"] + distilbert.details["cache"],
                               "bert": bert.details, "distilbert": distilbert.details},
                       f"retention {distilbert.value:.2f} / {bert.value:.2f} = {value:.1f}% over {len(tasks)} tasks",
                       cells, combination, runner.quick)


def run_validity(result: JobResult, metric: str | None = None) -> tuple[bool, str]:
    """Whether a seed's run is a measurement (JobResult.validity), and its cell's metric defined on the paper split."""
    validity = result.validity
    if not validity.valid:
        return False, validity.reason
    metrics = [metric] if metric else result.job.spec.paper_metrics
    undefined = [name for name in metrics if result.value(name) is None]
    if undefined:
        return False, f"{', '.join(undefined)} is undefined on {result.job.spec.paper_split} (constant predictions)"
    return True, validity.reason


def macro_tasks(claim: Claim) -> list[str]:
    """The tasks a macro or retention row averages: Table 1's GLUE tasks (tasks.yaml) minus the row's `exclude`."""
    return [task for task in glue_task_names() if task not in claim.params["exclude"]]


def cells_needed(claim: Claim) -> list[tuple[str, str, bool]]:
    """The (role, task, distilled) cells an accuracy row reads: its family's `cells` (harness.spec.families)."""
    return families.resolve(_accuracy_family(claim).cells)(claim)


def cells_of_cell(claim: Claim) -> list[tuple[str, str, bool]]:
    """A glue or downstream row reads its one cell, or (a comparison row) both models' cells of its task."""
    if families.is_cell(claim.family, claim.task, claim.metric):
        return [(claim.model, claim.task, bool(claim.params.get("distillation")))]
    return [("bert", claim.task, False), ("distilbert", claim.task, False)]


def cells_of_macro(claim: Claim) -> list[tuple[str, str, bool]]:
    """A macro row reads its model's cells of Table 1's tasks."""
    return [(claim.model, task, False) for task in macro_tasks(claim)]


def cells_of_retention(claim: Claim) -> list[tuple[str, str, bool]]:
    """A retention row reads both models' cells of Table 1's tasks."""
    return [(role, task, False) for role in ("bert", "distilbert") for task in macro_tasks(claim)]


def _accuracy_family(claim: Claim) -> families.Family:
    family = families.get(claim.family)
    if not family.fine_tuned:
        raise ClaimsError(f"claim {claim.id}: family {claim.family!r} is not an accuracy claim", "run it with the test of its family")
    return family


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
