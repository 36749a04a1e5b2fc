"""The pytest side of the suite: options, markers, claim parametrization, verdict recording, results.

Loaded from the root conftest.py. A test that takes a `claim` argument and carries
`@pytest.mark.claims("family", ...)` is parametrized over those rows of the registry; each
parameter gets the row's marker (size, speed, slow, paper), a skip for out-of-scope rows and a
strict xfail for the paper's known discrepancies. The `record_claim` fixture judges a measurement
and keeps the result. The run directory (--report-dir, else reports/<UTC timestamp>/) is made at
configure time for a run that reaches claims/, so pytest's JUnit XML and pytest-benchmark's JSON go
there too; at the end of the session results.json (every registry claim, the ones not run as skipped
with the reason), report.md, report.html and the plots (harness.report) are written beside them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ClaimsError
from harness.judge.verdict import Status, Verdict, judge
from harness.paths import shared_dir
from harness.reporting import results as results_module
from harness.spec import registry as registry_module
from harness.spec.registry import Claim, Registry

REGISTRY_KEY = pytest.StashKey[Registry]()
RESULTS_KEY = pytest.StashKey[dict]()
RUN_DIR_KEY = pytest.StashKey[Path]()  # where results.json was written (set at session end)
PLANNED_DIR_KEY = pytest.StashKey[Path]()  # the run directory made at configure time
DESELECTED_KEY = pytest.StashKey[set]()  # ids of claims deselected by -m / -k
REPORT_ERROR_KEY = pytest.StashKey[str]()
INFO_ONLY_OPTIONS = ("help", "version", "collectonly", "markers", "showfixtures", "show_fixtures_per_test")
SLOW_REASON = "needs --run-slow: full fine-tuning"
MARKERS = {
    "size": "size: parameter-count claims (Table 3); offline, seconds",
    "speed": "speed: inference-time claims (Table 3) timed with pytest-benchmark; minutes on CPU",
    "slow": "slow: claims that fine-tune the pretrained checkpoints (Tables 1 and 2); skipped unless --run-slow",
    "paper": "paper: checks of the paper's own arithmetic, and out-of-scope claims listed with their reason",
    "claims": "claims(*families): parametrize the test's `claim` argument over the registry rows of these families",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("distilbert-claims", "DistilBERT paper claims (harness options)")
    group.addoption("--run-slow", action="store_true", default=False,
                    help="run the slow claims: fine-tuning both checkpoints on GLUE, IMDb and SQuAD (a GPU and "
                         "internet advised). Default: %(default)r")
    group.addoption("--device", choices=("auto", "cpu", "cuda"), default="auto",
                    help="where models run: auto (CUDA when available, else CPU), cpu, or cuda (an error if CUDA "
                         "is absent). Default: %(default)r")
    group.addoption("--bert-checkpoint", default="bert-base-uncased", metavar="NAME_OR_DIR",
                    help="the BERT-base (teacher) checkpoint: a Hub name or a local folder. Default: %(default)r")
    group.addoption("--distilbert-checkpoint", default="distilbert-base-uncased", metavar="NAME_OR_DIR",
                    help="the DistilBERT (student) checkpoint: a Hub name or a local folder. Default: %(default)r")
    group.addoption("--data-dir", default=None, metavar="DIR",
                    help="local data in the layout glue/<TASK>/*.tsv, imdb/, squad/ (see README). Default: "
                         "../shared/data beside the project when it exists, else the Hugging Face Hub")
    group.addoption("--report-dir", default=None, metavar="DIR",
                    help="where this run's report goes. Default: reports/<UTC timestamp>/, with reports/latest "
                         "pointing at the newest")
    group.addoption("--registry", default=str(registry_module.DEFAULT_REGISTRY), metavar="FILE",
                    help="the claim registry to run. Default: claims/registry.yaml")
    group.addoption("--protocol", default="paper", type=_protocol_name, metavar="NAME",
                    help="the fine-tuning protocol of the slow claims (harness/protocols.yaml: paper, seed-study, "
                         "...). Default: %(default)r")
    group.addoption("--seeds", default=1, type=_positive_int, metavar="N",
                    help="fine-tune N seeds per model and task; each claim takes the median (Table 1: 5). "
                         "Default: %(default)r")
    group.addoption("--refresh", action="store_true", default=False,
                    help="fine-tune again even where the result cache holds the job's result. Default: %(default)r")
    group.addoption("--cache-dir", default=None, metavar="DIR",
                    help="the fine-tuning result cache (and resumable checkpoints). Default: cache/ in the project")
    group.addoption("--max-train-samples", default=None, type=_positive_int, metavar="N",
                    help="fine-tune on the first N training rows only (a quick, not a faithful, run; part of the "
                         "cache key). Default: %(default)r (the protocol's)")
    group.addoption("--speed-quick", action="store_true", default=False,
                    help="the CI variant of the speed claims: 150 of the 1500 STS-B pairs (evenly spaced) on CPU, 2 "
                         "rounds per GPU cell. Default: %(default)r (the full protocol)")
    group.addoption("--speed-pairs", default=None, type=_positive_int, metavar="N",
                    help="time N of the 1500 STS-B dev pairs (evenly spaced) on CPU. Default: %(default)r (all; 150 "
                         "with --speed-quick)")
    group.addoption("--speed-threads", default=None, type=_positive_int, metavar="N",
                    help="CPU threads for the speed claims (torch.set_num_threads). Default: %(default)r (os.cpu_count())")
    group.addoption("--speed-inputs", choices=("auto", "stsb", "fixture"), default="auto",
                    help="the timed inputs: stsb (the real pairs and tokenizer; an error if unavailable), fixture "
                         "(fixtures/stsb_dev_lengths.json: the same lengths, seeded ids), or auto (stsb when "
                         "available). Default: %(default)r")
    group.addoption("--speed-weights", choices=("random", "pretrained"), default="random",
                    help="time models built from the configs with random weights, or the pretrained checkpoints "
                         "(speed does not depend on the weights). Default: %(default)r")


def _protocol_name(name: str) -> str:
    """--protocol's type: a protocol of harness/protocols.yaml, else a usage error with close names."""
    import argparse

    from harness.spec import protocols

    try:
        return protocols.get(name).name
    except ClaimsError as error:
        raise argparse.ArgumentTypeError(f"{error.what}; {error.fix}") from None


def _positive_int(text: str) -> int:
    import argparse

    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


@pytest.hookimpl(tryfirst=True)  # before junitxml and pytest-benchmark read their options
def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS.values():
        config.addinivalue_line("markers", line)
    try:
        config.stash[REGISTRY_KEY] = registry_module.load(config.getoption("--registry"))
    except ClaimsError as error:
        raise pytest.UsageError(f"invalid claim registry: {error}") from None
    if config.getoption("--device") == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise pytest.UsageError("--device cuda: CUDA is not available on this machine (torch.cuda.is_available() is "
                                    "False); use --device cpu or auto")
    config.stash[RESULTS_KEY] = {}
    config.stash[DESELECTED_KEY] = set()
    _plan_run_dir(config)


def _reaches_claims(config: pytest.Config) -> bool:
    """Whether the run's paths include the project's claims/ folder (not a run of tests/ alone)."""
    claims_dir = registry_module.DEFAULT_REGISTRY.parent
    for arg in config.args:
        path = (config.invocation_params.dir / arg.split("::")[0]).resolve()
        if path == claims_dir or claims_dir in path.parents or path in claims_dir.parents:
            return True
    return False


def _plan_run_dir(config: pytest.Config) -> None:
    """Make the run directory now, so JUnit XML goes there (unless --junitxml was given)."""
    if hasattr(config, "workerinput") or any(getattr(config.option, name, False) for name in INFO_ONLY_OPTIONS):
        return
    chosen = config.getoption("--report-dir")
    if not chosen and not _reaches_claims(config):
        return
    run_dir = Path(chosen) if chosen else results_module.new_run_dir(config.rootpath / "reports")
    run_dir.mkdir(parents=True, exist_ok=True)
    config.stash[PLANNED_DIR_KEY] = run_dir
    if config.pluginmanager.has_plugin("junitxml") and not getattr(config.option, "xmlpath", None):
        config.option.xmlpath = str(run_dir / "junit.xml")


class _LazyFile:
    """A file pytest-benchmark opens only when it writes, so no run leaves an empty one.

    pytest-benchmark 5.2 writes `with json as fh` (an open file expected); 5.3 calls `open(json, "wb")`
    (a path expected): this object is both.
    """

    def __init__(self, path: Path):
        self.path = path
        self._stream: Any = None

    def __enter__(self) -> Any:
        self._stream = open(self.path, "wb")  # closed by __exit__
        return self._stream

    def __exit__(self, *exc_info: object) -> None:
        self._stream.close()

    def __str__(self) -> str:
        return str(self.path)

    def __fspath__(self) -> str:  # pytest-benchmark >= 5.3 opens the path itself when it writes
        return str(self.path)


def pytest_collection_finish(session: pytest.Session) -> None:
    """pytest-benchmark's JSON into the run directory, when a selected test times something and no
    --benchmark-json was given (its option is read at configure time, so its session is told here)."""
    run_dir = session.config.stash.get(PLANNED_DIR_KEY, None)
    benchmarks = getattr(session.config, "_benchmarksession", None)
    if run_dir is None or benchmarks is None or benchmarks.json:
        return
    if any("benchmark" in getattr(item, "fixturenames", ()) for item in session.items):
        benchmarks.json = _LazyFile(run_dir / "benchmark.json")


def pytest_deselected(items: list[pytest.Item]) -> None:
    for item in items:
        claim = _claim_of(item)
        if claim is not None and DESELECTED_KEY in item.config.stash:
            item.config.stash[DESELECTED_KEY].add(claim.id)


def _marks(claim: Claim) -> list[pytest.MarkDecorator]:
    marks = [getattr(pytest.mark, claim.marker)]
    if claim.out_of_scope:
        marks.append(pytest.mark.skip(reason=f"out of scope: {claim.out_of_scope}"))
    if claim.known_discrepancy:
        marks.append(pytest.mark.xfail(strict=True, reason=f"known discrepancy in the paper: {claim.known_discrepancy}"))
    return marks


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "claim" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("claims")
    if marker is None or not marker.args:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: a test taking `claim` needs @pytest.mark.claims('<family>', ...)")
    registry = metafunc.config.stash[REGISTRY_KEY]
    unknown = set(marker.args) - set(registry_module.FAMILIES)
    if unknown:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: unknown claim families {sorted(unknown)}; "
                                f"known: {', '.join(registry_module.FAMILIES)}")
    claims = registry.family(*marker.args)
    metafunc.parametrize("claim", [pytest.param(c, marks=_marks(c), id=c.id) for c in claims])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason=SLOW_REASON)
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


def _claim_of(item: pytest.Item) -> Claim | None:
    callspec = getattr(item, "callspec", None)
    claim = callspec.params.get("claim") if callspec else None
    return claim if isinstance(claim, Claim) else None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    claim = _claim_of(item)
    if claim is None:
        return report
    results = item.config.stash[RESULTS_KEY]
    result = results.get(item.nodeid)
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        results[item.nodeid] = results_module.ClaimResult(claim, item.nodeid, Status.SKIPPED.value, message=reason,
                                                          outcome="skipped")
    elif report.when == "call" or report.failed:
        outcome = "xfailed" if hasattr(report, "wasxfail") else report.outcome
        if result is None:  # the test ended before it recorded a measurement: an error of the run, not a verdict
            message = str(report.longrepr).strip().splitlines()[-1] if report.longrepr else "no measurement recorded"
            result = results_module.ClaimResult(claim, item.nodeid, "error", message=message)
            results[item.nodeid] = result
        result.outcome = outcome
        result.duration_s += report.duration
    return report


@pytest.fixture
def record_claim(request: pytest.FixtureRequest, claim: Claim) -> Callable[..., Verdict]:
    """Judge a measurement of this test's claim, keep it for the report, and return the verdict.

    Keyword details are stored with the result; a `summary` string is also printed under the claim's
    line in the terminal summary (e.g. the exact parameter counts, or both times and the speedup).
    """

    def record(measured: float, **details: Any) -> Verdict:
        verdict = judge(claim, measured)
        request.config.stash[RESULTS_KEY][request.node.nodeid] = results_module.ClaimResult(
            claim, request.node.nodeid, verdict.status.value, measured=measured, message=verdict.message, details=details)
        return verdict

    return record


@pytest.fixture(scope="session")
def claims_registry(pytestconfig: pytest.Config) -> Registry:
    """The registry this run reads (--registry)."""
    return pytestconfig.stash[REGISTRY_KEY]


@pytest.fixture(scope="session")
def checkpoints(pytestconfig: pytest.Config) -> dict[str, str]:
    """The checkpoint of each of the paper's roles: {'bert': ..., 'distilbert': ...}."""
    return {"bert": pytestconfig.getoption("--bert-checkpoint"),
            "distilbert": pytestconfig.getoption("--distilbert-checkpoint")}


@pytest.fixture(scope="session")
def architectures(checkpoints: dict[str, str]) -> dict[str, Any]:
    """Each role's architecture (its config, from the checkpoint or the project's copy)."""
    from harness.measure.models import load_config

    try:
        return {role: load_config(name) for role, name in checkpoints.items()}
    except ClaimsError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def device(pytestconfig: pytest.Config) -> str:
    """The torch device the models run on: --device, with auto resolved."""
    choice = pytestconfig.getoption("--device")
    if choice != "auto":
        return choice
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture(scope="session")
def shared_root(pytestconfig: pytest.Config) -> Path | None:
    """../shared beside the run's rootdir (third-party data and tokenizer files), or None in a fresh clone."""
    return shared_dir(root=pytestconfig.rootpath)


@pytest.fixture(scope="session")
def data_dir(pytestconfig: pytest.Config) -> Path | None:
    """Local data root (--data-dir, else ../shared/data beside the project), or None for the Hub."""
    chosen = pytestconfig.getoption("--data-dir")
    if chosen:
        path = Path(chosen)
        if not path.is_dir():
            raise pytest.UsageError(f"--data-dir {chosen}: not a directory")
        return path
    return shared_dir("data", root=pytestconfig.rootpath)


def _options(config: pytest.Config) -> dict[str, Any]:
    names = ("run_slow", "device", "bert_checkpoint", "distilbert_checkpoint", "data_dir", "report_dir", "registry",
             "protocol", "seeds", "refresh", "cache_dir", "max_train_samples", "markexpr", "keyword")
    return {name: getattr(config.option, name, None) for name in names}


def _not_run_reason(config: pytest.Config, claim: Claim) -> str:
    """Why no test of this run judged a registry claim."""
    if claim.out_of_scope:
        return f"out of scope: {claim.out_of_scope}"
    reasons = [SLOW_REASON] if claim.marker == "slow" and not config.getoption("--run-slow") else []
    if claim.id in config.stash[DESELECTED_KEY]:
        chosen = [f"{flag} {value!r}" for flag, value in (("-m", config.option.markexpr), ("-k", config.option.keyword)) if value]
        reasons.append(f"not selected in this run ({' '.join(chosen) or 'deselected'})")
    else:
        reasons.append("no test of this run collected it")
    return "; ".join(reasons)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if RESULTS_KEY not in config.stash or hasattr(config, "workerinput"):
        return
    results = config.stash[RESULTS_KEY]
    planned = config.stash.get(PLANNED_DIR_KEY, None)
    if not results and planned is None:
        return
    judged = {result.claim.id for result in results.values()}
    for claim in config.stash[REGISTRY_KEY].claims:
        if claim.id not in judged:
            results[f"not run: {claim.id}"] = results_module.not_run(claim, _not_run_reason(config, claim))
    from harness import environment
    from harness.reporting import report

    chosen = config.getoption("--report-dir")
    run_dir = planned or (Path(chosen) if chosen else results_module.new_run_dir(config.rootpath / "reports"))
    document = results_module.build(list(results.values()), config.stash[REGISTRY_KEY], environment.collect(), _options(config))
    results_module.write(run_dir, document)
    config.stash[RUN_DIR_KEY] = run_dir
    try:
        report.render(run_dir, document)
    except Exception:  # a bug of ours: keep results.json, show the traceback, fail the run
        import traceback

        config.stash[REPORT_ERROR_KEY] = traceback.format_exc()
        session.exitstatus = pytest.ExitCode.INTERNAL_ERROR


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if RUN_DIR_KEY not in config.stash:
        return
    order = {claim.id: i for i, claim in enumerate(config.stash[REGISTRY_KEY].claims)}
    results = sorted(config.stash[RESULTS_KEY].values(), key=lambda r: (order.get(r.claim.id, len(order)), r.nodeid))
    terminalreporter.section("DistilBERT claims")
    for result in results:
        measured = "" if result.measured is None else f" measured {result.measured:.4g}"
        paper = "" if result.claim.paper_value is None else f" paper {result.claim.paper_value:g}"
        line = f"{result.status.upper():15} {result.claim.id}{paper}{measured}"
        if result.status in (Status.SKIPPED.value, "error"):
            line += f"  ({result.message[:120]})"
        terminalreporter.write_line(line)
        if result.details.get("summary"):  # a claim's own one-line account of what it measured
            terminalreporter.write_line(f"{'':16}{result.details['summary']}")
    run_dir = config.stash[RUN_DIR_KEY]
    terminalreporter.write_line(f"report: {run_dir}")
    if REPORT_ERROR_KEY in config.stash:
        terminalreporter.write_line(f"rendering the report failed (a bug of the harness; results.json is intact, rebuild "
                                    f"with `python -m harness report {run_dir}`):\n{config.stash[REPORT_ERROR_KEY]}", red=True)
    else:
        files = ", ".join(sorted(path.name for path in run_dir.iterdir() if not path.name.startswith(".")))
        terminalreporter.write_line(f"  open {run_dir / 'report.html'}; the run directory holds {files}")
