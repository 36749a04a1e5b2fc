"""The planned fine-tuning jobs as Ray tasks: on a local Ray started for the run, or on the user's cluster.

`RayExecutor.run(jobs, cache)` folds the jobs into units (harness.execute.plan: a DistilBERT (D) job with
its teacher), skips every unit whose jobs the driver's cache already holds, and submits the rest longest
first, each a Ray task with one GPU where the jobs train on CUDA, else one CPU (and one torch thread).
A task runs `run_job` in the worker's own cache (the driver's --cache-dir when the worker can write that
path, a shared disk; else a folder of the worker's temporary directory) and returns the entries it made or
read, predictions and kept model included (harness.execute.transfer), never the Trainer checkpoints,
which stay where a retried job resumes from them. The driver checks that each returned entry is the job
it planned (the worker's cache key must equal its own: the same libraries, code, data, device count) and
stores it, so results reach the driver's cache whether or not the workers share its disk; the claims then
read them back and train nothing. Where the teacher's entry and model are already in the driver's cache
and its student is not, they travel to the student's task in Ray's object store, fetched only when that
worker lacks them.

Failures: a user's mistake (a ClaimsError: bad data, a missing input) comes back as the job's one-line
problem and is not retried; any other exception, and a worker that dies (SIGKILL, OOM, a lost node), is
retried by Ray up to `retries` times (max_retries, retry_exceptions) before the job is reported failed
with its error. Ctrl-C cancels every queued and running task (force) and leaves the finished entries in
the cache. One progress line per finished job, and one a minute while none finishes (harness.execute.progress).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ClaimsError, MissingInput, first_line
from harness.execute import ray_cluster, transfer
from harness.execute.makespan import unit_seconds
from harness.execute.plan import jobs_of, label, units
from harness.execute.progress import Progress, duration
from harness.measure.finetune.cache import RESULT_FILE, JobKey, ResultCache
from harness.measure.finetune.job import Job, job_key
from harness.measure.finetune.run import run_job

HEARTBEAT_S = 60.0
FIX_LOGS = ("the worker's log is under /tmp/ray/session_latest/logs on its node (or the Ray dashboard); rerun the same "
            "command: finished jobs are read back from the cache and an interrupted one resumes from its checkpoint")


@dataclass(frozen=True)
class Outcome:
    """What one task returns: each job's key as the worker computed it, its entry's files, what it trained, or its problem."""

    keys: dict[str, str] = field(default_factory=dict)  # role ("job", "teacher") -> key id
    folders: dict[str, dict[str, bytes]] = field(default_factory=dict)
    trained: tuple[str, ...] = ()
    seconds: float = 0.0
    node: str = ""
    problem: str | None = None  # a ClaimsError's message: not retried
    fix: str | None = None
    missing: bool = False  # the problem is a missing input (the claims skip)


@dataclass(frozen=True)
class Failure:
    """A job that did not reach the cache, and why: raised for every claim that reads it."""

    job: str
    message: str
    fix: str | None = FIX_LOGS
    missing: bool = False

    def error(self) -> ClaimsError:
        cls = MissingInput if self.missing else ClaimsError
        return cls(f"job {self.job} failed on Ray: {self.message}", self.fix)


@dataclass
class Execution:
    """What a run did: jobs trained and read back (by description), failures by the driver's key id, wall time."""

    trained: list[str] = field(default_factory=list)
    cached: list[str] = field(default_factory=list)
    failures: dict[str, Failure] = field(default_factory=dict)
    wall_s: float = 0.0

    def merge(self, later: Execution) -> None:
        """Add a later round's outcome (the replacement seeds of --rerun-invalid) to this one."""
        self.trained += later.trained
        self.cached += later.cached
        self.failures.update(later.failures)
        self.wall_s += later.wall_s


@contextlib.contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    """Environment variables set (None: unset) for the duration of the block, then restored."""
    def apply(settings: dict[str, str | None]) -> None:
        for name, value in settings.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    saved = {name: os.environ.get(name) for name in values}
    apply(values)
    try:
        yield
    finally:
        apply(saved)


def _worker_cache(root: str) -> ResultCache:
    """The driver's cache path when this node can write it (a shared disk, or the same path), else a local folder."""
    path = Path(root)
    try:
        path.mkdir(parents=True, exist_ok=True)
        if os.access(path, os.W_OK):
            return ResultCache(path)
    except OSError:
        pass
    return ResultCache(Path(tempfile.gettempdir()) / "distilbert-claims-cache")


def run_unit(unit: Job, cache_root: str, refresh: bool, refresh_teacher: bool, shipped: list[Any]) -> Outcome:
    """The body of one Ray task: the unit's teacher (if any) then its job, in the worker's cache; their entries back."""
    import ray

    started = time.perf_counter()
    if unit.device == "cpu":
        import torch

        torch.set_num_threads(max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1))))
    cache = _worker_cache(cache_root)
    results = {}
    try:
        if unit.teacher is not None:
            teacher_key = job_key(unit.teacher)
            if shipped and not refresh_teacher and not transfer.holds(cache, teacher_key, model=True):
                transfer.store(cache, teacher_key, ray.get(shipped[0]))  # fetched from the object store only when needed
            results["teacher"] = run_job(unit.teacher, cache, refresh=refresh_teacher, need_model=True)
        results["job"] = run_job(unit, cache, refresh=refresh)
    except ClaimsError as error:  # MissingInput included: the same answer on every retry
        return Outcome(problem=error.what, fix=error.fix, missing=isinstance(error, MissingInput), node=socket.gethostname())
    return Outcome(keys={role: r.key.id for role, r in results.items()},
                   folders={role: transfer.pack(cache.folder(r.key)) for role, r in results.items()},
                   trained=tuple(role for role, r in results.items() if not r.cached),
                   seconds=time.perf_counter() - started, node=socket.gethostname())


def fresh(job: Job) -> Job:
    """The same job without the data sources this process located: the worker locates its own (and keys them)."""
    return dataclasses.replace(job, teacher=fresh(job.teacher) if job.teacher is not None else None)


def key_difference(expected: JobKey, files: dict[str, bytes]) -> str:
    """The fields in which a worker's entry's key differs from the driver's key of the same job."""
    try:
        entry = json.loads(files[RESULT_FILE])
    except (KeyError, ValueError):
        return "its entry has no readable result.json"
    stored = {**entry.get("configuration", {}), "libraries": entry.get("libraries")}
    ours = json.loads(json.dumps({**expected.configuration, "libraries": expected.libraries}, default=str))
    names = sorted(name for name in set(stored) | set(ours) if stored.get(name) != ours.get(name))
    return ", ".join(names) or "nothing visible (a different key version)"


class RayExecutor:
    """Runs units of fine-tuning work as Ray tasks and stores their entries in the driver's cache."""

    def __init__(self, address: str | None = None, retries: int = 2, device_choice: str = "auto",
                 worker_cache: str | None = None, report: Callable[[str], None] = print,
                 local_environment: dict[str, str | None] | None = None):
        """worker_cache: the cache folder the tasks use (default: the driver's path); local_environment: variables
        a local Ray starts with (the GPUs the machine shows, where the driver pinned itself to one)."""
        self.address, self.retries, self.device_choice = address, retries, device_choice
        self.worker_cache, self.report, self.local_environment = worker_cache, report, local_environment or {}

    def connect(self) -> bool:
        """Join the cluster at the address (harness.execute.ray_cluster: its token, one line when it cannot be joined), or
        start a local Ray; True when this call made the connection."""
        import ray

        if ray.is_initialized():
            return False
        if self.address is not None:
            ray_cluster.join(self.address)  # with the cluster's token when one is available (harness.execute.ray_cluster)
            return True
        try:
            with _environment(self.local_environment):  # Ray's processes inherit it; this one keeps its own
                ray.init(address="local", include_dashboard=False, log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as error:
            raise ClaimsError(f"cannot start a local Ray ({first_line(error)})",
                              "give a running cluster's address (--ray-address HOST:6379), or run without --executor ray") from None
        return True

    def _check_devices(self, planned: list[Job]) -> str:
        """One line on the cluster's resources; a ClaimsError when the jobs' device does not match them."""
        import ray

        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 0))
        devices = {job.device for job in planned}
        if "cuda" in devices and gpus == 0:
            raise ClaimsError("the jobs train on CUDA but the Ray cluster has no GPU", "add GPU workers, or pass --device cpu")
        if devices == {"cpu"} and gpus and self.device_choice == "auto":
            raise ClaimsError(f"the Ray cluster has {gpus} GPUs but this driver sees none, so every job would be planned "
                              "for a CPU (--device auto resolves where pytest runs)",
                              "run the driver on a GPU node (ray job submit --entrypoint-num-gpus 1 -- pytest ...), "
                              "or pass --device cpu to train on CPUs on purpose")
        return f"{gpus} GPUs, {cpus} CPUs"

    def run(self, jobs: list[Job], cache: ResultCache, refresh: bool = False) -> Execution:
        """Train every planned job the cache lacks on Ray; store each result in `cache` as it arrives."""
        import ray

        execution, started = Execution(), time.monotonic()
        keys, submit = {}, []
        for unit in units(jobs):
            try:
                for job in jobs_of(unit):
                    keys[job] = job_key(job)
            except ClaimsError:  # a missing input or bad data: the claims that read the job say so themselves
                continue
            submit += self._to_run(unit, jobs, keys, cache, refresh, execution)
        progress = Progress(total=sum(len(jobs_of(u)) - (t is not None) for u, t in submit),
                            total_cost=sum(unit_seconds(u, teacher_trained=t is None) for u, t in submit),
                            cached=len(execution.cached))
        if not submit:
            self.report(f"ray: nothing to run, all {len(execution.cached)} jobs are in the cache {cache.root}")
            return execution
        owns = self.connect()
        try:
            where = self._check_devices([u for u, _ in submit])
            self.report(f"ray: {progress.total} jobs to run on {where} ({len(execution.cached)} already in the cache); "
                        f"each retried up to {self.retries} times")
            pending = {self._submit(unit, shipped, cache, refresh, unit.teacher in jobs): (unit, shipped) for unit, shipped in submit}
            progress.running, progress.started = len(pending), time.monotonic()  # the pace from the first submission
            try:
                self._wait(pending, keys, cache, refresh, progress, execution)
            except KeyboardInterrupt:
                for ref in pending:
                    ray.cancel(ref, force=True)
                self.report(f"ray: interrupted; cancelled {len(pending)} queued or running jobs. Finished jobs are in the "
                            "cache and the same command resumes the rest")
                raise
        finally:
            if owns:
                ray.shutdown()
        execution.wall_s = time.monotonic() - started
        failed = f", {len(execution.failures)} failed (their claims fail with the error)" if execution.failures else ""
        self.report(f"ray: finished in {duration(execution.wall_s)}: {len(execution.trained)} jobs trained, "
                    f"{len(execution.cached)} read from the cache{failed}")
        return execution

    def _to_run(self, unit: Job, planned: list[Job], keys: dict[Job, JobKey], cache: ResultCache, refresh: bool,
                execution: Execution) -> list[tuple[Job, Any]]:
        """(unit, the teacher's packed entry or None) to submit; what the cache holds is counted as read back."""
        teacher = unit.teacher
        if refresh:
            return [(unit, None)]
        if transfer.holds(cache, keys[unit]):
            execution.cached.append(unit.describe())
            if teacher is None or teacher not in planned:
                return []
            if transfer.holds(cache, keys[teacher]):
                execution.cached.append(teacher.describe())
                return []
            return [(teacher, None)]
        if teacher is not None and transfer.holds(cache, keys[teacher], model=True):
            return [(unit, transfer.pack(cache.folder(keys[teacher])))]
        return [(unit, None)]

    def _submit(self, unit: Job, shipped: Any, cache: ResultCache, refresh: bool, teacher_planned: bool) -> Any:
        import ray

        resources = {"num_gpus": 1} if unit.device == "cuda" else {"num_cpus": 1}
        task = ray.remote(run_unit).options(name=f"job:{label(unit)}", max_retries=self.retries,  # its process's title
                                            retry_exceptions=True, **resources)
        root = self.worker_cache or str(cache.root.resolve())
        return task.remote(fresh(unit), root, refresh, refresh and teacher_planned, [ray.put(shipped)] if shipped else [])

    def _wait(self, pending: dict[Any, tuple[Job, Any]], keys: dict[Job, JobKey], cache: ResultCache, refresh: bool,
              progress: Progress, execution: Execution) -> None:
        import ray

        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=HEARTBEAT_S)
            if not ready:
                self.report(f"ray: {progress.line()}")
                continue
            unit, shipped = pending.pop(ready[0])
            roles = {"job": unit} | ({"teacher": unit.teacher} if unit.teacher is not None and shipped is None else {})
            try:
                outcome = ray.get(ready[0])
            except ray.exceptions.RayError as error:
                cause = getattr(error, "cause", None) or error
                outcome = Outcome(problem=f"{type(cause).__name__}: {str(cause).strip().splitlines()[-1] if str(cause).strip() else ''}"
                                          f" (after {self.retries + 1} attempts)")
            failed = self._store(outcome, roles, keys, cache, refresh, execution)
            progress.finish(len(roles), unit_seconds(unit, teacher_trained="teacher" in roles), failed=failed)
            where = f" on {outcome.node} in {duration(outcome.seconds)}" if outcome.node and not failed else ""
            self.report(f"ray: {progress.line()} | {'FAILED' if failed else 'done'}: {unit.describe()}{where}")

    def _store(self, outcome: Outcome, roles: dict[str, Job], keys: dict[Job, JobKey], cache: ResultCache, refresh: bool,
               execution: Execution) -> bool:
        """Store each returned entry that is the planned job; record a Failure for each job that is not stored."""
        failed = False
        for role, job in roles.items():
            files, expected = outcome.folders.get(role), keys[job]
            if outcome.problem is not None or files is None:
                problem = outcome.problem or "the task returned no entry for it"
            elif outcome.keys.get(role) != expected.id:
                problem = (f"the worker computed another cache key for it (it differs in: {key_difference(expected, files)}); "
                           "run the driver in the workers' environment (same image, libraries, code, data and GPU count)")
            elif not transfer.store(cache, expected, files, replace=refresh):
                problem = f"its returned entry does not read back intact from {cache.folder(expected)}"
            else:
                (execution.trained if role in outcome.trained else execution.cached).append(job.describe())
                continue
            fix = outcome.fix if outcome.problem is not None and outcome.fix else FIX_LOGS
            execution.failures[expected.id] = Failure(job.describe(), problem, fix, outcome.missing)
            failed = True
        return failed
