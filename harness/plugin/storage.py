"""Where a run's results go: the run directory, results.json, the report and the terminal summary.

The run directory (--report-dir, else reports/<UTC timestamp>/ with reports/latest pointing at it) is
made at configure time for a run that reaches claims/, so pytest's JUnit XML and pytest-benchmark's
JSON go there too, each unless the user named its own file. At the end of the session results.json
(every registry claim, the ones not run as skipped with the reason) is written from the kept
Verdicts (harness.reporting.results), then report.md, report.html and the plots from it
(harness.reporting.report), and only then does reports/latest point at the run; the terminal ends with
one line per claim and the report's path. Two runs write no report and leave reports/latest as it was, saying
so in one line: an interrupted run (Ctrl-C: its claims were not all measured, and a partial report would read
them as skipped; the same command again resumes, finished jobs read from the cache and an unfinished one from
its last checkpoint), and a run whose -k / -m selected no claim.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import warnings
from pathlib import Path
from typing import Any

import pytest

from harness.errors import did_you_mean
from harness.judge.verdict import Status, fmt_interval
from harness.paths import CLAIMS_DIR
from harness.plugin.options import REGISTRY_KEY, recorded_options
from harness.plugin.session import SESSION_KEY
from harness.reporting import results as results_module

PLANNED_DIR_KEY = pytest.StashKey[Path]()  # the run directory made at configure time
RUN_DIR_KEY = pytest.StashKey[Path]()  # where results.json was written (set at session end)
RUN_KEY = pytest.StashKey[results_module.RunResults]()  # what it holds: the terminal summary reads it
REPORT_ERROR_KEY = pytest.StashKey[str]()
NO_REPORT_KEY = pytest.StashKey[str]()  # why no report was written (interrupted, no claim selected): shown at the end
INFO_ONLY_OPTIONS = ("help", "version", "collectonly", "markers", "showfixtures", "show_fixtures_per_test")
BENCHMARK_JSON = "benchmark.json"
# pytest-benchmark (>= 5.3) writes --benchmark-json only when something was timed, and otherwise warns with
# this: no news when the plugin, not the user, asked for the file.
UNTIMED_RUN_WARNING = "Not saving anything, no benchmarks have been run"


def new_run_dir(reports_root: Path) -> Path:
    """reports/<UTC timestamp>/ (a suffix if taken); reports/latest points at it once its report is written."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_dir = reports_root / stamp
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = reports_root / f"{stamp}-{suffix}"
    run_dir.mkdir(parents=True)
    return run_dir


def point_latest(run_dir: Path) -> None:
    """reports/latest pointed at a run directory of reports/ (atomically; nothing where symlinks are not supported)."""
    reports_root = run_dir.parent
    link = reports_root / "latest"
    temporary = reports_root / f".latest.{os.getpid()}"
    try:
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(run_dir.name)
        os.replace(temporary, link)
    except OSError:  # file systems without symlinks: the timestamped folder is still there
        temporary.unlink(missing_ok=True)


def _reaches_claims(config: pytest.Config) -> bool:
    """Whether the run's paths include the project's claims/ folder (not a run of tests/ alone)."""
    claims_dir = CLAIMS_DIR
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if path == claims_dir or claims_dir in path.parents or path in claims_dir.parents:
            return True
    return False


def configure(config: pytest.Config) -> None:
    """Make the run directory now, and point JUnit XML and pytest-benchmark's JSON into it where no file was given.

    Both plugins read their option in their own pytest_configure: this runs before them (tryfirst).
    """
    if hasattr(config, "workerinput") or any(getattr(config.option, name, False) for name in INFO_ONLY_OPTIONS):
        return
    chosen = config.getoption("--report-dir")
    if not chosen and not _reaches_claims(config):
        return
    try:  # a path that cannot be a folder was refused already (options.check_paths); this is what no check foresees
        run_dir = Path(chosen).expanduser() if chosen else new_run_dir(config.rootpath / "reports")
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise pytest.UsageError(f"cannot make the run directory {error.filename or chosen} ({error.strerror}); "
                                "pass --report-dir DIR, a folder you can write to") from None
    config.stash[PLANNED_DIR_KEY] = run_dir
    if config.pluginmanager.has_plugin("junitxml") and not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(run_dir / "junit.xml")
    if hasattr(config.option, "benchmark_json") and not config.option.benchmark_json:
        from pytest_benchmark.logger import PytestBenchmarkWarning

        config.option.benchmark_json = run_dir / BENCHMARK_JSON
        # Not a `filterwarnings` ini line: pytest-benchmark warns from its pytest_sessionfinish wrapper, outside
        # the warning capture where pytest applies those lines. pytest runs pytest_configure inside its own
        # warnings context, kept until the session's cleanup, so this filter lasts exactly as long as the run.
        warnings.filterwarnings("ignore", message=UNTIMED_RUN_WARNING, category=PytestBenchmarkWarning)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if SESSION_KEY not in config.stash or hasattr(config, "workerinput"):
        return
    claims = config.stash[SESSION_KEY]
    planned = config.stash.get(PLANNED_DIR_KEY, None)
    if not claims.results and planned is None and not claims.deselected:
        return
    from harness import environment
    from harness.reporting import report

    unwritten = why_no_report(config, exitstatus)
    if unwritten:
        config.stash[NO_REPORT_KEY] = unwritten
        if planned is not None and not config.getoption("--report-dir"):
            with contextlib.suppress(OSError):  # the timestamped folder made at configure, if nothing went into it
                planned.rmdir()
        return
    results = claims.finish(config)
    run_dir = planned or new_run_dir(config.rootpath / "reports")  # --report-dir, when given, was made at configure
    run = results_module.build(results, config.stash[REGISTRY_KEY], environment.collect(), recorded_options(config))
    results_module.write(run_dir, run)
    if not config.getoption("--report-dir"):
        point_latest(run_dir)
    config.stash[RUN_DIR_KEY], config.stash[RUN_KEY] = run_dir, run
    try:
        report.render(run_dir)
    except Exception:  # a bug of ours: keep results.json, show the traceback, fail the run
        import traceback

        config.stash[REPORT_ERROR_KEY] = traceback.format_exc()
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR


def why_no_report(config: pytest.Config, exitstatus: int) -> str | None:
    """Why this run writes no report (the one line the terminal shows), or None: it stopped on a usage error or was
    interrupted, or its -k / -m selected no claim (a report of nothing but skips would replace reports/latest)."""
    if exitstatus == pytest.ExitCode.USAGE_ERROR:  # e.g. bad data found before any training (harness.plugin.preflight)
        return "stopped before any claim was measured, by the ERROR line printed last: no report written, reports/latest left as it was"
    if exitstatus == pytest.ExitCode.INTERRUPTED:
        return ("interrupted: no report written, reports/latest left as it was (a partial report would read the claims "
                "not yet measured as skipped); run the same command again to resume: finished jobs are read from the cache, "
                "an unfinished one resumes from its last checkpoint")
    selection = [f"{flag} {value!r}" for flag, value in (("-m", config.option.markexpr), ("-k", config.option.keyword)) if value]
    if config.stash[SESSION_KEY].results or not selection:
        return None
    keyword = config.option.keyword or ""
    ids = [claim.id for claim in config.stash[REGISTRY_KEY].claims]
    hint = did_you_mean(keyword, ids).split(" known: ")[0] if keyword.replace(".", "").replace("_", "").isalnum() else ""
    return (f"no claim matched {' '.join(selection)}: nothing measured, no report written, reports/latest left as it was"
            f"{'; ' + hint.strip() if hint.startswith('did you mean') else ''} (`pytest claims --collect-only -q` lists the claims)")


def _claim_line(terminalreporter: Any, result: Any, label: str) -> None:
    """One claim: its verdict, id, paper value, measurement with its interval and seeds; the reason of a skip or error."""
    verdict = result.verdict
    measured = "" if verdict.measured is None else f" measured {verdict.measured:.4g}"
    if verdict.interval is not None:
        measured += f" {fmt_interval(verdict.interval)}"
    seeds = verdict.uncertainty.seeds if verdict.uncertainty else {}
    if seeds.get("runs"):
        measured += f" ({seeds['valid']} valid seed{'s' if seeds['valid'] != 1 else ''}" + \
                    (f", {seeds['invalid']} invalid)" if seeds["invalid"] else ")")
    paper = "" if verdict.paper_value is None else f" paper {verdict.paper_value:g}"
    line = f"{label:15} {verdict.claim_id}{paper}{measured}"
    if verdict.status in (Status.SKIPPED, Status.ERROR, Status.NOT_JUDGED):
        reason = verdict.not_judged if verdict.status is Status.NOT_JUDGED and verdict.not_judged else verdict.message
        line += f"  ({' '.join(reason.split())[:120]})"
    terminalreporter.write_line(line)
    if result.summary:  # a claim's own one-line account of what it measured
        terminalreporter.write_line(f"{'':16}{result.summary}")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if NO_REPORT_KEY in config.stash:
        terminalreporter.write_line(f"DistilBERT claims: {config.stash[NO_REPORT_KEY]}", yellow=True)
    if RUN_DIR_KEY not in config.stash:
        return
    run = config.stash[RUN_KEY]  # every claim in registry order, counted
    terminalreporter.section("DistilBERT claims")
    claims = [r for r in run.claims if results_module.kind_of(r.claim) == "claim"]
    checks = [r for r in run.claims if results_module.kind_of(r.claim) == "paper check"]
    for result in claims:
        _claim_line(terminalreporter, result, result.verdict.status.value.upper())
    tally = ", ".join(f"{n} {status}" for status, n in run.summary.items())
    terminalreporter.write_line(f"claims: {tally}")
    if checks:
        terminalreporter.write_line("checks of the paper's own arithmetic (not claims reproduced):")
        for result in checks:
            _claim_line(terminalreporter, result, "PAPER " + results_module.check_outcome(result.verdict.status).upper())
    run_dir = config.stash[RUN_DIR_KEY]
    terminalreporter.write_line(f"report: {run_dir}")
    if REPORT_ERROR_KEY in config.stash:
        terminalreporter.write_line(f"rendering the report failed (a bug of the harness; results.json is intact, rebuild "
                                    f"with `python -m harness report {run_dir}`):\n{config.stash[REPORT_ERROR_KEY]}", red=True)
    else:
        files = ", ".join(sorted(path.name for path in run_dir.iterdir() if not path.name.startswith(".")))
        terminalreporter.write_line(f"  open {run_dir / 'report.html'}; the run directory holds {files}")
