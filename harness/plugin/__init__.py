"""The suite's pytest plugin, loaded from the root conftest.py (`pytest_plugins = ["harness.plugin"]`).

Split by job, as pytest-benchmark splits its own plugin:
    options.py   the command-line options, markers, the registry, claim parametrization, slow skips, the fixtures
    session.py   the run's results state: record_claim keeps each claim's Verdict; the one error policy
    storage.py   the run directory, results.json, the report and the terminal summary
    distributed.py   pytest-xdist (-n N: GPU per worker, jobs as items, results to the controller) and --executor ray
This module registers the four and configures them in order.
"""

from __future__ import annotations

import pytest

from harness.plugin import distributed, options, session, storage

pytest_plugins = ["harness.plugin.options", "harness.plugin.session", "harness.plugin.storage", "harness.plugin.distributed"]


@pytest.hookimpl(tryfirst=True)  # before junitxml and pytest-benchmark read their options
def pytest_configure(config: pytest.Config) -> None:
    distributed.configure(config)  # first: a worker's GPU is pinned before anything can touch CUDA
    options.configure(config)  # a bad registry or --device is a usage error before a run directory is made
    session.configure(config)
    storage.configure(config)
