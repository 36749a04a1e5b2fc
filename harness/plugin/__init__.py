"""The suite's pytest plugin, loaded from the root conftest.py (`pytest_plugins = ["harness.plugin"]`).

Split by job, as pytest-benchmark splits its own plugin:
    options.py   the command-line options, markers, the registry, claim parametrization, slow skips, the fixtures
    session.py   the run's results state: record_claim keeps each claim's Verdict; the one error policy
    storage.py   the run directory, results.json, the report and the terminal summary
    distributed.py   pytest-xdist (-n N: GPU per worker, jobs as items, results to the controller) and --executor ray
    progress.py  what the run shows while it measures (--progress, the job plan) and where Trainer reports (--report-to)
    preflight.py before any training: the local data of the selected fine-tuning claims loaded and checked
This module registers the six, configures them in order, does on pytest-xdist's controller what a serial run does
after collection (the data check, the plan), and freezes the session's long-lived objects before the first test
(gc.freeze: Trainer's gc.collect() after each job then skips them).
"""

from __future__ import annotations

import gc
from typing import Any

import pytest

from harness.plugin import distributed, options, preflight, progress, session, storage

pytest_plugins = ["harness.plugin.options", "harness.plugin.session", "harness.plugin.storage", "harness.plugin.distributed",
                  "harness.plugin.progress", "harness.plugin.preflight"]


@pytest.hookimpl(tryfirst=True)  # before junitxml and pytest-benchmark read their options
def pytest_configure(config: pytest.Config) -> None:
    distributed.configure(config)  # first: a worker's GPU is pinned before anything can touch CUDA
    options.configure(config)  # a bad registry or --device is a usage error before a run directory is made
    session.configure(config)
    storage.configure(config)
    progress.configure(config)  # after storage: tracking logs go into the run directory


FIRST_COLLECTION_KEY = pytest.StashKey[bool]()  # pytest-xdist's controller: the first worker's collection was seen


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook, on its controller: absent without xdist
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """Under -n N the controller collects no items: on the first worker's collection (every worker's is the same),
    before xdist hands out any item, what a serial --run-slow run does once collection is over: the fine-tuning
    claims' data checked (a usage error stops the run) and their plan shown."""
    config = node.config
    if config.stash.get(FIRST_COLLECTION_KEY, False) or not config.getoption("--run-slow"):
        return
    config.stash[FIRST_COLLECTION_KEY] = True
    claims = distributed.collected_claims(config, ids)
    preflight.check(config, claims)
    progress.show_plan(config, claims)


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Before the first test: what the session holds for its whole length (the modules, the registry, the collected
    items, and the training libraries when it fine-tunes) is moved out of the garbage collector's reach (gc.freeze).
    Trainer calls gc.collect() at the end of every job (accelerate's free_memory), which would otherwise walk all of
    it again each time: a quarter of a second a job here, more in a larger process."""
    config = session.config
    if config.option.collectonly:
        return
    if config.getoption("--run-slow") and distributed.accuracy_claims(session.items):
        from harness.measure.finetune import distill  # noqa: F401  (torch, transformers' Trainer, datasets, accelerate)
    gc.collect()
    gc.freeze()
