"""The pytest side of the suite: options, markers, claim parametrization, verdict recording, results.

Loaded from the root conftest.py. A test that takes a `claim` argument and carries
`@pytest.mark.claims("family", ...)` is parametrized over those rows of the registry; each
parameter gets the row's marker (size, speed, slow, paper), a skip for out-of-scope rows and a
strict xfail for the paper's known discrepancies. The `record_claim` fixture judges a measurement
and keeps the result; at the end of the session results.json goes into the report directory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from harness import registry as registry_module
from harness import results as results_module
from harness.errors import ClaimsError
from harness.registry import Claim, Registry
from harness.verdict import Status, Verdict, judge

REGISTRY_KEY = pytest.StashKey[Registry]()
RESULTS_KEY = pytest.StashKey[dict]()
RUN_DIR_KEY = pytest.StashKey[Path]()
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
    """Judge a measurement of this test's claim, keep it for the report, and return the verdict."""

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
    from harness.models import load_config

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
def data_dir(pytestconfig: pytest.Config) -> Path | None:
    """Local data root (--data-dir, else ../shared/data beside the project), or None for the Hub."""
    chosen = pytestconfig.getoption("--data-dir")
    if chosen:
        path = Path(chosen)
        if not path.is_dir():
            raise pytest.UsageError(f"--data-dir {chosen}: not a directory")
        return path
    shared = pytestconfig.rootpath.parent / "shared" / "data"
    return shared if shared.is_dir() else None


def _options(config: pytest.Config) -> dict[str, Any]:
    names = ("run_slow", "device", "bert_checkpoint", "distilbert_checkpoint", "data_dir", "report_dir", "registry",
             "markexpr", "keyword")
    return {name: getattr(config.option, name, None) for name in names}


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if RESULTS_KEY not in config.stash or hasattr(config, "workerinput"):
        return
    results = list(config.stash[RESULTS_KEY].values())
    if not results:
        return
    from harness import environment

    chosen = config.getoption("--report-dir")
    run_dir = Path(chosen) if chosen else results_module.new_run_dir(config.rootpath / "reports")
    document = results_module.build(results, config.stash[REGISTRY_KEY], environment.collect(), _options(config))
    results_module.write(run_dir, document)
    config.stash[RUN_DIR_KEY] = run_dir


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
    terminalreporter.write_line(f"report: {config.stash[RUN_DIR_KEY]}")
