"""Before any training: every local data file the selected fine-tuning claims will read is loaded once, and checked.

A --run-slow run locates every split of every planned job (teachers included) and loads the local ones through
harness.data.loading, whose parsers check every field (GLUE, IMDb, SQuAD: docs/data.md). Serially and under Ray
this is done once collection is over; under pytest-xdist (-n N), whose controller collects no items, the
controller does it on the claims the first worker collected, before xdist hands out any item (harness.plugin). Data that can
never train or score (a null review, a misaligned SQuAD answer, a broken path) stops the run with that one line,
the same `python -m harness data` prints, before the first job trains (rather than hours later, when its job's
turn comes); an absent input is left to the claims that read it (they skip, naming it). The parsed files are
cached as Arrow, so the jobs' own loads cost nothing more. It also says, in one line, where --max-train-samples
asks for more rows than a training split has (all of them are used). The Hub's datasets are not downloaded
here: they are the reference, and arrive with the first job that reads them.
"""

from __future__ import annotations

from typing import Any

import pytest

from harness.errors import ClaimsError, MissingInput
from harness.plugin.options import accuracy_runner_of


def data_lines(runner: Any, claims: list[Any]) -> list[str]:
    """What the local data of the claims' jobs gives to say (a ClaimsError for data no run can use): rows fewer than
    --max-train-samples asks for, one line each."""
    from harness.data.loading import load, locate

    planned = runner.planned_jobs(claims)
    jobs = list(dict.fromkeys(one for job in planned for one in (job.teacher, job) if one is not None))
    asked = (runner.overrides or {}).get("max_train_samples")
    lines: list[str] = []
    seen: set[str] = set()
    for job in jobs:
        for split in job.splits:
            try:
                source = locate(job.spec, split, job.data_dir)
            except MissingInput:
                continue  # the claims that read this job skip, naming it
            if source.kind == "hub" or source.describe() in seen:
                continue
            seen.add(source.describe())
            rows = len(load(source))
            if asked and split == job.spec.train_split and asked > rows:
                lines.append(f"--max-train-samples {asked}: {job.task}'s {split} split has {rows} rows "
                             f"({source.describe()}); all {rows} are used")
    return lines


def check(config: pytest.Config, claims: list[Any]) -> None:
    """The claims' local data loaded and checked: a pytest.UsageError naming the first fault (the run stops, no report
    is written); the lines data_lines gives, on the terminal."""
    if not claims:
        return
    try:
        lines = data_lines(accuracy_runner_of(config), claims)
    except ClaimsError as error:
        raise pytest.UsageError(f"{error.what} (found before any training){'; fix: ' + error.fix if error.fix else ''}") from None
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    for line in lines:
        if reporter is not None:
            reporter.write_line(line, yellow=True)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """After -k / -m selection, before the first test: the selected fine-tuning claims' local data, loaded and checked."""
    from harness.plugin.distributed import accuracy_claims

    config = session.config
    if config.option.collectonly or not config.getoption("--run-slow") or hasattr(config, "workerinput"):
        return
    check(config, [claim for _, claim in accuracy_claims(session.items)])
