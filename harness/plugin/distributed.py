"""Parallel and distributed runs of the slow claims: pytest-xdist on one machine, Ray across machines.

pytest-xdist (`pytest --run-slow -n N`, its default `--dist load`):
  - Worker k trains on GPU k mod count: the controller hands each worker its device (pytest_configure_node)
    and the worker sets CUDA_VISIBLE_DEVICES in its configure, before anything touches CUDA. Without GPUs
    each worker gets cores // N torch threads (N workers of all the cores each would oversubscribe them),
    unless OMP_NUM_THREADS is set.
  - The jobs the selected claims read become test items of their own (JobItem: harness.execute.plan's
    units, longest first), put ahead of every other item, so xdist hands the jobs to workers as they free
    and the claims, last, read the results back. Each job trains once across workers (the cache's lock);
    a claim that needs a job still training on another worker waits for it, then reads it.
  - Each worker's claim results ride on its test reports (ClaimResult's JSON); the controller rebuilds
    them, and the claims deselected on the workers, so it writes the one results.json and report.
  - With more than one worker the speed claims skip, naming the command that times them alone. --refresh
    is refused under -n (a claim could read an entry before another worker has refreshed it).
Ray (`--executor ray [--ray-address ADDR]`): after collection, before the first test, the jobs of the
selected claims (the same -k / -m selection) run on Ray (harness.execute.ray_executor) and reach the
cache; the claims then read them back through the session's one AccuracyRunner (refresh off once the
executor has refreshed: results.json still records --refresh as given). A claim that reads a job that
failed on Ray fails with that job's error (skips, for a missing input) rather than train it here. The
driver pins itself to one GPU, as each task sees one, so that its cache keys (which count the GPUs
Trainer would use) are the workers'. A job item follows the claims' error policy (harness.plugin.session).
This module wires the engines into pytest; it trains and judges nothing itself (harness.measure, harness.judge).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.device import gpu_count
from harness.errors import ClaimsError
from harness.judge.verdict import Verdict
from harness.plugin.options import REGISTRY_KEY, accuracy_runner_of, claim_of
from harness.plugin.session import SESSION_KEY, error_policy
from harness.reporting.results import ClaimResult
from harness.spec import families
from harness.spec.registry import Claim

if TYPE_CHECKING:  # the measuring modules import torch: loaded only when a run fine-tunes, not for every pytest start
    from harness.measure.finetune.cache import ResultCache
    from harness.measure.finetune.job import Job

GPU_INPUT, THREADS_INPUT, DESELECTED_OUTPUT = "claims_gpu", "claims_threads", "claims_deselected"
RESULT_ATTRIBUTE = "claims_result"  # the worker's ClaimResult JSON on a claim test's report
BLOCKED_KEY = pytest.StashKey[dict[str, ClaimsError]]()  # claim node id -> the error of a job that failed on Ray
LOCAL_ENV_KEY = pytest.StashKey[dict[str, Any]]()  # CUDA_VISIBLE_DEVICES before the driver pinned itself
NODE_CLAIM = re.compile(r"\[([^\[\]]+)\]$")  # a claim test's node id ends in [claim id]
SPEED_REASON = ("not timed under pytest-xdist ({workers} workers share this machine's CPU and GPU with it): time the speed "
                "claims alone, `pytest claims -m speed`")


def workers(config: pytest.Config) -> int:
    """How many pytest-xdist workers this run has (0: none, the tests run in this process)."""
    if hasattr(config, "workerinput"):
        return int(config.workerinput["workercount"])
    return int(getattr(config.option, "numprocesses", None) or 0) if getattr(config.option, "dist", "no") != "no" else 0


def visible_gpus(config: pytest.Config) -> list[str]:
    """The GPUs this process may use (CUDA_VISIBLE_DEVICES, else every GPU NVML counts); none under --device cpu."""
    if config.getoption("--device") == "cpu":
        return []
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [name.strip() for name in listed.split(",") if name.strip()]
    return [str(index) for index in range(gpu_count())]  # NVML: CUDA is not initialised here


def configure(config: pytest.Config) -> None:
    """Check the executor options; pin an xdist worker (or a Ray driver) to its GPU or its threads. Runs before any
    other configure of the plugin, so before anything can touch CUDA."""
    if hasattr(config, "workerinput"):
        gpu, threads = config.workerinput.get(GPU_INPUT), config.workerinput.get(THREADS_INPUT)
        if gpu is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = gpu
        elif threads:
            import torch

            torch.set_num_threads(threads)
        return
    option, count = config.getoption, workers(config)
    if option("--ray-address") and option("--executor") != "ray":
        raise pytest.UsageError("--ray-address is the cluster of --executor ray; add --executor ray")
    if option("--executor") == "ray":
        if count:
            raise pytest.UsageError(f"--executor ray trains the jobs on Ray, -n {count} on pytest-xdist workers: use one")
        try:
            import ray  # noqa: F401
        except ImportError:
            raise pytest.UsageError("--executor ray needs Ray: pip install -e '.[ray]'") from None
        gpus = visible_gpus(config)
        config.stash[LOCAL_ENV_KEY] = {"CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES")}
        if len(gpus) > 1:
            os.environ["CUDA_VISIBLE_DEVICES"] = gpus[0]
    if count and option("--refresh"):
        raise pytest.UsageError(f"--refresh with -n {count}: a claim on one worker could read an entry before another "
                                "worker refreshed it; run with a new --cache-dir instead (or --refresh without -n)")
    if count:
        config.pluginmanager.register(ControllerResults(config), "claims-xdist-controller")


def accuracy_claims(items: list[pytest.Item]) -> list[tuple[pytest.Item, Claim]]:
    """The selected claim tests of the families that fine-tune (harness.spec.families) that will run (not skipped by a
    mark): what the jobs are planned for."""
    found = []
    for item in items:
        claim = claim_of(item)
        if claim is not None and item.get_closest_marker("skip") is None and families.get(claim.family).fine_tuned:
            found.append((item, claim))
    return found


def collected_claims(config: pytest.Config, ids: list[str]) -> list[Claim]:
    """The fine-tuning claims among a worker's collected node ids (their `[claim id]`), as the controller, which
    collects no items, learns them (pytest_xdist_node_collection_finished): the worker applied -k / -m already."""
    collected = {found.group(1) for found in map(NODE_CLAIM.search, ids) if found}
    return [claim for claim in config.stash[REGISTRY_KEY].claims
            if claim.id in collected and families.get(claim.family).fine_tuned]


# ------------------------------------------------------------------ pytest-xdist


class JobItem(pytest.Item):
    """One unit of fine-tuning work as a test item: run (or read back) the job, its teacher first when it has one."""

    def __init__(self, *, job: Job, cache: ResultCache, **kwargs: Any):
        super().__init__(**kwargs)
        self.job, self.cache = job, cache
        self.add_marker(pytest.mark.slow)

    def runtest(self) -> None:
        from harness.measure.finetune.run import run_job

        with error_policy(self.job.describe(), "fine-tune"):  # the claims' policy: a missing input skips
            result = run_job(self.job, self.cache)
        self.user_properties.append(("cache", "hit" if result.cached else "trained"))

    def reportinfo(self) -> tuple[Path, None, str]:
        return self.path, None, f"fine-tune {self.job.describe()}"


@pytest.hookimpl(trylast=True)  # after -k / -m deselection
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):
        return
    if workers(config) > 1:
        skip_speed = pytest.mark.skip(reason=SPEED_REASON.format(workers=workers(config)))
        for item in items:
            claim = claim_of(item)
            if claim is not None and claim.marker == "speed":
                item.add_marker(skip_speed)
    claims = accuracy_claims(items) if config.getoption("--run-slow") else []
    if not claims:
        return
    from harness.execute.plan import label, units

    runner = accuracy_runner_of(config)
    parent, seen = claims[0][0].parent, set()
    job_items = []
    for unit in units(runner.planned_jobs([claim for _, claim in claims])):
        name = label(unit)
        while name in seen:
            name += "+"
        seen.add(name)
        job_items.append(JobItem.from_parent(parent, name=f"job[{name}]", job=unit, cache=runner.cache))
    items[:0] = job_items


@pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: the session's wrapper has kept the claim's result by now
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if hasattr(item.config, "workerinput") and claim_of(item) is not None:
        result = item.config.stash[SESSION_KEY].results.get(report.nodeid)
        if result is not None:
            setattr(report, RESULT_ATTRIBUTE, json.dumps(result.to_json(), default=str))
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A worker sends the claims its -m / -k deselected to the controller (xdist sends workeroutput after this)."""
    config = session.config
    if hasattr(config, "workerinput") and SESSION_KEY in config.stash:
        config.workeroutput[DESELECTED_OUTPUT] = sorted(config.stash[SESSION_KEY].deselected)


class ControllerResults:
    """The controller's side (registered only there, as its hooks are xdist's): each worker's GPU or threads, then every
    worker's claim results and deselected claims, into this process's ClaimsSession."""

    def __init__(self, config: pytest.Config):
        self.config = config

    def pytest_configure_node(self, node: Any) -> None:
        """Give worker k its GPU (k mod count) or its share of the CPU threads."""
        index = int(re.sub(r"\D", "", node.workerinput["workerid"]) or 0)
        gpus = visible_gpus(self.config)
        if gpus:
            node.workerinput[GPU_INPUT] = gpus[index % len(gpus)]
        elif "OMP_NUM_THREADS" not in os.environ:  # else the workers inherit the user's choice
            node.workerinput[THREADS_INPUT] = max(1, (os.cpu_count() or 1) // max(workers(self.config), 1))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        session, registry = self.config.stash[SESSION_KEY], self.config.stash[REGISTRY_KEY]
        raw = getattr(report, RESULT_ATTRIBUTE, None)
        if raw is not None:
            result = ClaimResult.from_json(json.loads(raw), f"the result of {report.nodeid}")
            session.results[report.nodeid] = dataclasses.replace(result, claim=registry.get(result.claim.id))
            return
        found = NODE_CLAIM.search(report.nodeid)
        claim = next((c for c in registry.claims if found and c.id == found.group(1)), None)
        if claim is not None and report.failed and report.nodeid not in session.results:  # e.g. its worker crashed
            message = str(report.longrepr).strip().splitlines()[-1] if report.longrepr else "the worker sent no result"
            session.results[report.nodeid] = ClaimResult(claim, report.nodeid, Verdict.error(claim, message), outcome="failed")

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        self.config.stash[SESSION_KEY].deselected.update(getattr(node, "workeroutput", {}).get(DESELECTED_OUTPUT, ()))


# ------------------------------------------------------------------ Ray


def _write_line(config: pytest.Config) -> Any:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return reporter.write_line if reporter is not None else (lambda line: print(line, file=sys.stderr))


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Under --executor ray: train every job the selected claims read on Ray, then let the tests run."""
    config = session.config
    if config.getoption("--executor") != "ray" or config.option.collectonly or not config.getoption("--run-slow"):
        return
    claims = accuracy_claims(session.items)
    if not claims:
        return
    from harness.execute.ray_executor import RayExecutor
    from harness.measure.finetune.job import job_key

    runner = accuracy_runner_of(config)
    executor = RayExecutor(config.getoption("--ray-address"), config.getoption("--ray-retries"), config.getoption("--device"),
                           report=_write_line(config), local_environment=config.stash.get(LOCAL_ENV_KEY, None))
    selected = [claim for _, claim in claims]
    try:
        execution = executor.run(runner.planned_jobs(selected), runner.cache, runner.refresh)
        for _ in range(runner.rerun_invalid):  # --rerun-invalid: the replacement seeds on Ray too, round after round
            replacements = runner.replacement_jobs(selected)
            if not replacements:
                break
            execution.merge(executor.run(replacements, runner.cache))
    except ClaimsError as error:
        raise pytest.UsageError(f"{error.what}; {error.fix}") from None
    runner.refresh = False  # the executor refreshed every planned job (--refresh): the session's claims read them back
    blocked = config.stash.setdefault(BLOCKED_KEY, {})
    for item, claim in claims:
        for job in runner.planned_jobs([claim]):
            try:
                failure = next((execution.failures[key.id] for key in map(job_key, filter(None, (job.teacher, job)))
                                if key.id in execution.failures), None)
            except ClaimsError:  # a missing input: the claim says so itself
                continue
            if failure is not None:
                blocked[item.nodeid] = failure.error()
                break


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A claim that reads a job that failed on Ray fails with the job's error (inside the session's error policy)."""
    error = item.config.stash.get(BLOCKED_KEY, {}).get(item.nodeid)
    if error is not None:
        raise error
