"""Experiment tracking of the fine-tuning jobs (--report-to): Trainer's own integrations, each job's logs in the run's folder.

`Tracking(report_to, folder)`: report_to is handed to TrainingArguments as it is (tensorboard, wandb, mlflow, or
none), with the job's label as run_name; `environment(job_label)` points each integration at the run's folder while
the job trains: TensorBoard's event files in FOLDER/<job label>/ (TENSORBOARD_LOGGING_DIR), Weights & Biases' files
in FOLDER (WANDB_DIR), MLflow's runs in FOLDER/mlruns (MLFLOW_TRACKING_URI), except where the user's environment
already names a place (a W&B project or an MLflow server then win). The pytest plugin sets FOLDER to the report
dir's tracking/, the finetune command to its output dir's runs/. What is tracked never changes a result, so it is
not part of a job's cache key: a job read back from the cache logs nothing (it does not train).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import ClaimsError

if TYPE_CHECKING:  # the plugin reads REPORT_TO at every pytest start: this module stays light
    from harness.measure.finetune.cache import JobKey
    from harness.measure.finetune.job import Job

REPORT_TO = ("none", "tensorboard", "wandb", "mlflow")
PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}  # --report-to -> the module it needs


@dataclass(frozen=True)
class Tracking:
    """Where Trainer reports a job's training (report_to) and the run's folder for those logs."""

    report_to: str = "none"
    folder: Path | None = None

    def __post_init__(self) -> None:
        if self.report_to not in REPORT_TO:
            raise ClaimsError(f"--report-to {self.report_to!r} is not one of {', '.join(REPORT_TO)}",
                              "pass --report-to tensorboard, wandb, mlflow or none")

    @property
    def on(self) -> bool:
        return self.report_to != "none"

    def check(self) -> Tracking:
        """This tracking, or a ClaimsError naming the package to install (before any job starts)."""
        package = PACKAGES.get(self.report_to)
        if package and importlib.util.find_spec(package) is None:
            raise ClaimsError(f"--report-to {self.report_to}: the {package} package is not installed",
                              f"pip install {package} (tensorboard: pip install -e '.[tracking]'), or --report-to none")
        return self

    def trainer_arguments(self, job_label: str) -> dict[str, object]:
        """TrainingArguments' report_to and run_name."""
        return {"report_to": self.report_to, "run_name": job_label}

    @contextlib.contextmanager
    def environment(self, job_label: str) -> Iterator[None]:
        """Point the integration at the run's folder while a job trains; the environment is restored after."""
        if not self.on or self.folder is None:
            yield
            return
        folder = Path(self.folder).expanduser().absolute()
        wanted = {"tensorboard": {"TENSORBOARD_LOGGING_DIR": str(folder / job_label)},
                  "wandb": {"WANDB_DIR": str(folder)},
                  "mlflow": {"MLFLOW_TRACKING_URI": (folder / "mlruns").as_uri()}}[self.report_to]
        changes = {name: value for name, value in wanted.items() if name == "TENSORBOARD_LOGGING_DIR" or name not in os.environ}
        folder.mkdir(parents=True, exist_ok=True)
        before = {name: os.environ.get(name) for name in changes}
        os.environ.update(changes)
        try:
            yield
        finally:
            for name, value in before.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def run_name(job: Job, key: JobKey) -> str:
    """A job's name in the trackers, unique per key: model-task-seedN[-distilled]-<job id>."""
    name, at, revision = job.checkpoint.rpartition("@")  # a Hub name at a revision: the revision, a commit shortened
    name = f"{name}@{revision[:12]}" if at and name else Path(job.checkpoint).name or job.checkpoint
    return f"{name.replace('/', '--')}-{job.task}-seed{job.seed}{'-distilled' if job.teacher else ''}-{key.job_id[:8]}"


_current = Tracking()


def use(tracking: Tracking) -> None:
    """This process's tracking from now on (the plugin at configure, the finetune command for its job)."""
    global _current
    _current = tracking


def current() -> Tracking:
    """This process's tracking (none unless --report-to chose one)."""
    return _current
