"""The plugin's options and collection: the command-line options, the markers, the registry, claim
parametrization, the slow skips, and the fixtures that read the options.

A test that takes a `claim` argument and carries `@pytest.mark.claims("family", ...)` is parametrized
over those rows of the registry; each parameter gets the row's marker (size, speed, slow, paper), a
skip for out-of-scope rows and a strict xfail for the paper's known discrepancies. What the claims
measured is harness.plugin.session's job; where it is written, harness.plugin.storage's.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ClaimsError, MissingInput
from harness.measure import device as device_module
from harness.paths import shared_dir
from harness.spec import registry as registry_module
from harness.spec import speed_options
from harness.spec.registry import Claim, Registry

REGISTRY_KEY = pytest.StashKey[Registry]()
SLOW_REASON = "needs --run-slow: full fine-tuning"
MARKERS = {
    "size": "size: parameter-count claims (Table 3); offline, seconds",
    "speed": "speed: inference-time claims (Table 3) timed with pytest-benchmark; minutes on CPU",
    "slow": "slow: claims that fine-tune the pretrained checkpoints (Tables 1 and 2); skipped unless --run-slow",
    "paper": "paper: checks of the paper's own arithmetic, and out-of-scope claims listed with their reason",
    "claims": "claims(*families): parametrize the test's `claim` argument over the registry rows of these families",
}
# The options results.json records (with pytest's -m and -k), by their dest names.
RECORDED_OPTIONS = ("run_slow", "device", "bert_checkpoint", "distilbert_checkpoint", "data_dir", "report_dir", "registry",
                    "protocol", "seeds", "refresh", "cache_dir", "max_train_samples", "markexpr", "keyword")


def _protocol_name(name: str) -> str:
    """--protocol's type: a protocol of harness/spec/protocols.yaml, else a usage error with close names."""
    from harness.spec import protocols

    try:
        return protocols.get(name).name
    except ClaimsError as error:
        raise argparse.ArgumentTypeError(f"{error.what}; {error.fix}") from None


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


# Every option of the suite: its flag, then what argparse takes (each help line ends with the default).
OPTIONS: dict[str, dict[str, Any]] = {
    "--run-slow": {"action": "store_true", "default": False,
                   "help": "run the slow claims: fine-tuning both checkpoints on GLUE, IMDb and SQuAD (a GPU and "
                           "internet advised). Default: %(default)r"},
    "--device": {"choices": device_module.CHOICES, "default": "auto",
                 "help": "where models run: auto (CUDA when available, else CPU), cpu, or cuda (an error if CUDA "
                         "is absent). Default: %(default)r"},
    "--bert-checkpoint": {"default": "bert-base-uncased", "metavar": "NAME_OR_DIR",
                          "help": "the BERT-base (teacher) checkpoint: a Hub name or a local folder. Default: %(default)r"},
    "--distilbert-checkpoint": {"default": "distilbert-base-uncased", "metavar": "NAME_OR_DIR",
                                "help": "the DistilBERT (student) checkpoint: a Hub name or a local folder. "
                                        "Default: %(default)r"},
    "--data-dir": {"default": None, "metavar": "DIR",
                   "help": "local data in the layout glue/<TASK>/*.tsv, imdb/, squad/ (see README). Default: "
                           "../shared/data beside the project when it exists, else the Hugging Face Hub"},
    "--report-dir": {"default": None, "metavar": "DIR",
                     "help": "where this run's report goes. Default: reports/<UTC timestamp>/, with reports/latest "
                             "pointing at the newest"},
    "--registry": {"default": str(registry_module.DEFAULT_REGISTRY), "metavar": "FILE",
                   "help": "the claim registry to run. Default: claims/registry.yaml"},
    "--protocol": {"default": "paper", "type": _protocol_name, "metavar": "NAME",
                   "help": "the fine-tuning protocol of the slow claims (harness/spec/protocols.yaml: paper, "
                           "seed-study, ...). Default: %(default)r"},
    "--seeds": {"default": 1, "type": _positive_int, "metavar": "N",
                "help": "fine-tune N seeds per model and task; each claim takes the median (Table 1: 5). "
                        "Default: %(default)r"},
    "--refresh": {"action": "store_true", "default": False,
                  "help": "fine-tune again even where the result cache holds the job's result. Default: %(default)r"},
    "--cache-dir": {"default": None, "metavar": "DIR",
                    "help": "the fine-tuning result cache (and resumable checkpoints). Default: cache/ in the project"},
    "--max-train-samples": {"default": None, "type": _positive_int, "metavar": "N",
                            "help": "fine-tune on the first N training rows only (a quick, not a faithful, run; part "
                                    "of the cache key). Default: %(default)r (the protocol's)"},
    "--speed-pass": {"choices": speed_options.PASSES, "default": "auto",
                     "help": f"the CPU speed claim's pass over STS-B dev: full (all {speed_options.STSB_DEV_PAIRS} pairs, "
                             f"Table 3's protocol), quick ({speed_options.QUICK_PAIRS} pairs evenly spaced; "
                             f"{speed_options.QUICK_GRID_ROUNDS} rounds per GPU cell), or auto: full when the run asks for "
                             "the speed claims (-m speed, claims/test_speed.py), quick inside a run of the whole suite "
                             "(plain `pytest`). Default: %(default)r"},
    "--speed-pairs": {"default": None, "type": _positive_int, "metavar": "N",
                      "help": f"time N of the {speed_options.STSB_DEV_PAIRS} STS-B dev pairs (evenly spaced) on CPU. "
                              f"Default: %(default)r (the pass's: all, or {speed_options.QUICK_PAIRS} in a quick pass)"},
    "--speed-threads": {"default": None, "type": _positive_int, "metavar": "N",
                        "help": "CPU threads for the speed claims (torch.set_num_threads). Default: %(default)r "
                                "(os.cpu_count())"},
    "--speed-inputs": {"choices": speed_options.INPUT_SOURCES, "default": "auto",
                       "help": "the timed inputs: stsb (the real pairs and tokenizer; an error if unavailable), "
                               "fixture (fixtures/stsb_dev_lengths.json: the same lengths, seeded ids), or auto "
                               "(stsb when available). Default: %(default)r"},
    "--speed-weights": {"choices": speed_options.WEIGHTS, "default": "random",
                        "help": "time models built from the configs with random weights, or the pretrained "
                                "checkpoints (speed does not depend on the weights). Default: %(default)r"},
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("distilbert-claims", "DistilBERT paper claims (harness options)")
    for flag, settings in OPTIONS.items():
        group.addoption(flag, **settings)


def configure(config: pytest.Config) -> None:
    """Markers, the registry and the --device check: a bad registry or device is a usage error before anything runs."""
    for line in MARKERS.values():
        config.addinivalue_line("markers", line)
    try:
        config.stash[REGISTRY_KEY] = registry_module.load(config.getoption("--registry"))
    except ClaimsError as error:
        raise pytest.UsageError(f"invalid claim registry: {error}") from None
    choice = config.getoption("--device")
    if choice != "auto":  # auto always resolves; resolving it here would import torch for every run
        try:
            device_module.resolve(choice)
        except MissingInput as error:
            raise pytest.UsageError(f"{error.what}; {error.fix}") from None


def recorded_options(config: pytest.Config) -> dict[str, Any]:
    """The run's options as results.json records them."""
    return {name: getattr(config.option, name, None) for name in RECORDED_OPTIONS}


def claim_of(item: pytest.Item) -> Claim | None:
    """The registry claim a collected test judges, or None for a test that is not a claim."""
    callspec = getattr(item, "callspec", None)
    claim = callspec.params.get("claim") if callspec else None
    return claim if isinstance(claim, Claim) else None


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
    """Each role's architecture (its config, from the checkpoint or the project's copy); a ClaimsError follows
    the claims' error policy (harness.plugin.session)."""
    from harness.measure.models import load_config

    return {role: load_config(name) for role, name in checkpoints.items()}


@pytest.fixture(scope="session")
def device(pytestconfig: pytest.Config) -> str:
    """The torch device the models run on: --device, with auto resolved (harness.measure.device)."""
    return device_module.resolve(pytestconfig.getoption("--device"))


def speed_asked_for(config: pytest.Config) -> bool:
    """Whether the run asks for the speed claims themselves: a -m expression naming speed, or claims/test_speed.py."""
    return "speed" in (config.option.markexpr or "") or any("test_speed" in arg for arg in config.args)


@pytest.fixture(scope="session")
def speed_settings(pytestconfig: pytest.Config) -> speed_options.SpeedOptions:
    """The speed claims' options, --speed-pass resolved."""
    option = pytestconfig.getoption
    return speed_options.SpeedOptions(
        quick=speed_options.quick_pass(option("--speed-pass"), speed_asked_for(pytestconfig)), pairs=option("--speed-pairs"),
        threads=option("--speed-threads"), inputs=option("--speed-inputs"), weights=option("--speed-weights"))


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
