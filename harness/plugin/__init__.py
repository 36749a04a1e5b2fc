"""The suite's pytest plugin, loaded from the root conftest.py (`pytest_plugins = ["harness.plugin"]`).

Split by job, as pytest-benchmark splits its own plugin:
    options.py   the command-line options, markers, the registry, claim parametrization, slow skips, the fixtures
    session.py   the run's results state: record_claim keeps each claim's Verdict; the one error policy
    storage.py   the run directory, results.json, the report and the terminal summary
This module registers the three and configures them in order.
"""

from __future__ import annotations

import pytest

from harness.plugin import options, session, storage

pytest_plugins = ["harness.plugin.options", "harness.plugin.session", "harness.plugin.storage"]


@pytest.hookimpl(tryfirst=True)  # before junitxml and pytest-benchmark read their options
def pytest_configure(config: pytest.Config) -> None:
    options.configure(config)  # a bad registry or --device is a usage error before a run directory is made
    session.configure(config)
    storage.configure(config)
