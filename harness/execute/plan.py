"""The units of work an executor runs ahead of the claims: the planned jobs, teachers folded in, longest first.

The jobs come from harness.measure.accuracy.AccuracyRunner.planned_jobs (each job the selected claims read,
once). A DistilBERT (D) job carries its teacher (the fine-tuned BERT of SQuAD, same protocol and seed), and
runs with it in one unit: run_job trains the teacher first when the cache lacks it, so the teacher's model
never has to travel between workers while it is being made. A planned BERT SQuAD job that is the teacher of a
planned DistilBERT (D) job is therefore not a unit of its own. Units are ordered by their modelled cost,
longest first (harness.execute.makespan), ties in the planned order: what xdist's load scheduling and Ray's
queue then hand to the workers that free first. This module plans; it runs nothing and reads no cache.
"""

from __future__ import annotations

from pathlib import Path

from harness.execute.makespan import unit_seconds
from harness.measure.finetune.job import Job


def units(jobs: list[Job]) -> list[Job]:
    """The jobs to start, each once: teachers of planned DistilBERT (D) jobs folded into them, longest first."""
    unique = list(dict.fromkeys(jobs))
    teachers = {job.teacher for job in unique if job.teacher is not None}
    kept = [job for job in unique if job not in teachers]
    order = {job: index for index, job in enumerate(kept)}
    return sorted(kept, key=lambda job: (-unit_seconds(job), order[job]))


def label(job: Job) -> str:
    """A short name for a unit, unique within a plan: checkpoint folder or name, task, seed, (D)."""
    name = Path(job.checkpoint).name or job.checkpoint
    return f"{name}-{job.task}-seed{job.seed}{'-distilled' if job.teacher else ''}"


def jobs_of(unit: Job) -> list[Job]:
    """The jobs a unit trains when the cache holds none of them: the teacher first, then the job."""
    return [unit.teacher, unit] if unit.teacher is not None else [unit]
