"""The suite's pytest plugin, loaded from the root conftest.py (`pytest_plugins = ["harness.plugin"]`).

Split by job, as pytest-benchmark splits its own plugin:
    options.py   the command-line options, markers, the registry, claim parametrization, slow skips, the fixtures
    session.py   the run's results state: record_claim keeps each claim's Verdict; the one error policy
    storage.py   the run directory, results.json, the report and the terminal summary
    distributed.py   pytest-xdist (-n N: GPU per worker, jobs as items, results to the controller) and --executor ray
    progress.py  what the run shows while it measures (--progress, the job plan) and where Trainer reports (--report-to)
    preflight.py before any training: the local data of the selected fine-tuning claims loaded and checked
This module registers the six and configures them in order.
"""

from __future__ import annotations

import pytest

from harness.plugin import distributed, options, progress, session, storage

pytest_plugins = ["harness.plugin.options", "harness.plugin.session", "harness.plugin.storage", "harness.plugin.distributed",
                  "harness.plugin.progress", "harness.plugin.preflight"]


@pytest.hookimpl(tryfirst=True)  # before junitxml and pytest-benchmark read their options
def pytest_configure(config: pytest.Config) -> None:
    distributed.configure(config)  # first: a worker's GPU is pinned before anything can touch CUDA
    options.configure(config)  # a bad registry or --device is a usage error before a run directory is made
    session.configure(config)
    storage.configure(config)
    progress.configure(config)  # after storage: tracking logs go into the run directory
