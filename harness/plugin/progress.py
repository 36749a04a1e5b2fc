"""What a pytest run shows while it measures, and where Trainer reports: live progress, the job plan, tracking.

- Live progress (--progress, default auto): the fine-tuning jobs' lines (harness.measure.finetune.progress: `job i/N`,
  Trainer's step, loss and time left, the evaluation) and the speed pass's rounds, written through pytest's terminal
  reporter with capture suspended for each write, as pytest's own live logging does: shown without -s, under -q, with
  --junitxml, and never captured into a test's report. auto is `live` (one status line rewritten in place) on a
  terminal and `lines` elsewhere (a line per event, per logged loss and at least every 30 s: for logs and CI);
  `none` writes nothing. pytest-xdist workers write none (their output is not the user's terminal; the controller
  shows each job item as it ends), nor does the Ray driver (its own line: harness.execute.progress).
- The plan, before the first claim of a serial --run-slow run (under pytest-xdist, the controller's, from the first
  worker's collection, before any job is handed out): how many fine-tuning jobs the selected claims read,
  how many are in the cache, how many cannot start (a missing input), and, on CUDA, the modelled GPU time of the
  rest (harness.execute.makespan; an estimate, said so). It also numbers the jobs (the N of `job i/N`).
- Tracking (--report-to): Trainer's integration, its logs in the run directory's tracking/ (harness.measure.
  finetune.tracking); pytest-xdist workers are told the same folder. Not under --executor ray (a usage error).
- --protocols FILE: the protocols every job of the run reads (harness.spec.protocols.use_file), checked at configure
  with --protocol.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ClaimsError
from harness.measure import live
from harness.plugin.options import accuracy_runner_of, claim_of

TRACKING_INPUT = "claims_tracking_dir"  # the controller's tracking folder, for each pytest-xdist worker
LISTENER_KEY = pytest.StashKey["TerminalListener"]()  # the session's listener, active during the claims' tests


class TerminalListener(live.Throttled):
    """Progress through pytest's terminal reporter, capture suspended while it writes (as live logging does)."""

    def __init__(self, config: pytest.Config, live_mode: bool):
        super().__init__(live_mode)
        self.reporter = config.pluginmanager.get_plugin("terminalreporter")
        self.capture = config.pluginmanager.get_plugin("capturemanager")

    def _uncaptured(self) -> Any:
        return self.capture.global_and_fixture_disabled() if self.capture is not None else contextlib.nullcontext()

    def _new_line(self) -> None:
        """Start on a line of its own: after pytest's open line of a file's results (-v, or dots; -q's bare dots too)."""
        self.reporter.ensure_newline()
        writer = getattr(self.reporter, "_tw", None)
        if writer is not None and writer.width_of_current_line and not self._open:
            self.reporter.write("\n")

    def _write_line(self, text: str) -> None:
        with self._uncaptured():
            self._new_line()
            self.reporter.write_line(text)

    def _rewrite(self, text: str) -> None:
        with self._uncaptured():
            self._new_line()
            self.reporter.rewrite(text, erase=True)
            self.reporter.flush()

    def _end_status(self) -> None:
        with self._uncaptured():
            self.reporter.write("\n")


def _run_dir(config: pytest.Config) -> Path | None:
    from harness.plugin.storage import PLANNED_DIR_KEY

    return config.stash.get(PLANNED_DIR_KEY, None)


def configure(config: pytest.Config) -> None:
    """This process's protocols file and tracking, checked (after storage.configure made the run directory); the
    listener comes at the session's start (pytest_sessionstart), once the terminal reporter exists."""
    from harness.measure.finetune import tracking
    from harness.spec import protocols

    option = config.getoption
    try:
        chosen = Path(option("--protocols")).expanduser() if option("--protocols") else None
        protocols.get(option("--protocol"), chosen)  # checked before this process reads it for every job
        protocols.use_file(chosen)
        if option("--report-to") != "none" and option("--executor") == "ray":
            raise ClaimsError("--report-to with --executor ray: the jobs train in Ray's workers, which report nowhere",
                              "drop --report-to, or run the jobs in pytest's processes (serially or with -n N)")
        folder = (config.workerinput.get(TRACKING_INPUT) if hasattr(config, "workerinput") else None) or \
            (_run_dir(config) or config.rootpath / "reports") / "tracking"
        tracking.use(tracking.Tracking(option("--report-to"), Path(folder)).check())
    except ClaimsError as error:
        raise pytest.UsageError(f"{error.what}; {error.fix}") from None


def pytest_sessionstart(session: pytest.Session) -> None:
    """The listener of this process's progress (the terminal reporter exists by now; xdist workers get none)."""
    config = session.config
    mode = config.getoption("--progress")
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if mode != "none" and reporter is not None and not hasattr(config, "workerinput"):
        tty = reporter.isatty() if callable(reporter.isatty) else reporter.isatty  # a method since pytest 9, a bool before
        config.stash[LISTENER_KEY] = TerminalListener(config, mode == "live" or mode == "auto" and bool(tty))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> None:
    """End an open status line before the terminal reporter writes the test's result after it."""
    listener = item.config.stash.get(LISTENER_KEY, None)
    if listener is not None:
        listener.end_status()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """A claim's test (its fixtures' setup included: the speed pass runs there) shows its progress; the harness's own
    tests, which train tiny jobs by the dozen, do not."""
    listener = item.config.stash.get(LISTENER_KEY, None)
    if listener is None or claim_of(item) is None:
        return (yield)
    with live.listening(listener):
        return (yield)


def pytest_unconfigure(config: pytest.Config) -> None:
    from harness.measure.finetune import tracking
    from harness.spec import protocols

    tracking.use(tracking.Tracking())
    protocols.use_file(None)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: each worker's tracking logs go to the controller's run directory."""
    from harness.measure.finetune import tracking

    folder = tracking.current().folder
    if folder is not None:
        node.workerinput[TRACKING_INPUT] = str(folder)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def plan_text(runner: Any, claims: list[Any]) -> str:
    """The plan's line for an AccuracyRunner's jobs for these claims (and numbers the jobs: progress.plan)."""
    from harness.execute.makespan import job_seconds
    from harness.measure.accuracy import missing_inputs
    from harness.measure.finetune import progress
    from harness.measure.finetune.job import job_key

    planned = runner.planned_jobs(claims)
    jobs = list(dict.fromkeys(one for job in planned for one in (job.teacher, job) if one is not None))
    cached, to_train, missing = [], [], []
    for job in jobs:
        try:
            key = job_key(job)
            if not runner.refresh and runner.cache.peek(key) is not None:
                cached.append(job)
                continue
            (missing if missing_inputs(job) else to_train).append(job)  # weights or data this machine lacks
        except ClaimsError:  # a missing input or bad data: the claims that read the job say which
            missing.append(job)
    progress.plan(len(cached) + len(to_train))
    text = (f"fine-tuning: {_count(len(jobs), 'job')} for {_count(len(claims), 'claim')} ({_count(runner.seeds, 'seed')}, "
            f"protocol {runner.protocol}): {len(to_train)} to train, {len(cached)} read from the cache {runner.cache.root}")
    if missing:
        text += f", {len(missing)} cannot start (a missing input: their claims say what and skip)"
    if not to_train:
        return text
    if runner.device == "cuda":
        seconds = sum(map(job_seconds, to_train))  # each teacher is a job of its own in the list
        return text + (f"; about {live.duration(seconds)} of GPU time, modelled for one H100 (harness/execute/makespan.py, "
                       "docs/finetune.md: an estimate, not a measurement)")
    return text + ("; no time estimate on a CPU (the cost model is a GPU's): each job shows Trainer's time left as it "
                   "trains")


def show_plan(config: pytest.Config, claims: list[Any]) -> None:
    """The plan of the selected fine-tuning claims' jobs, on the terminal (nothing when the run fine-tunes nothing)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if claims and reporter is not None:
        reporter.write_line(plan_text(accuracy_runner_of(config), claims))


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Before the first test of a serial --run-slow run: the plan of its fine-tuning jobs."""
    from harness.plugin.distributed import accuracy_claims, workers

    config = session.config
    if (config.option.collectonly or not config.getoption("--run-slow") or hasattr(config, "workerinput")
            or workers(config) or config.getoption("--executor") != "in-process"):
        return
    show_plan(config, [claim for _, claim in accuracy_claims(session.items)])
