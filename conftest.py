"""Root conftest: loads the suite's pytest plugin (options, markers, claim parametrization, results)."""

pytest_plugins = ["harness.plugin"]
