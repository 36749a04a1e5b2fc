"""The plugin's options and collection: the command-line options, the markers, the registry, claim
parametrization, the slow skips, and the fixtures that read the options.

A test that takes a `claim` argument and carries `@pytest.mark.claims("family", ...)` is parametrized
over those rows of the registry; each parameter gets the row's marker (size, speed, slow, paper), a
skip for out-of-scope rows and a strict xfail for the paper's known discrepancies. What the claims
measured is harness.plugin.session's job; where it is written, harness.plugin.storage's.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import pytest

from harness import device as device_module
from harness.data.hub import expand_local, looks_like_local_path, split_revision, with_revision
from harness.errors import ClaimsError, MissingInput
from harness.measure import live
from harness.measure.finetune import tracking
from harness.paths import data_root, shared_dir
from harness.spec import families, speed_options
from harness.spec import registry as registry_module
from harness.spec.registry import Claim, Registry

REGISTRY_KEY = pytest.StashKey[Registry]()
RUNNER_KEY = pytest.StashKey[Any]()  # the session's AccuracyRunner, built at its first use
SLOW_REASON = "needs --run-slow: full fine-tuning"
MARKERS = {
    "size": "size: parameter-count claims (Table 3); offline, seconds",
    "speed": "speed: inference-time claims (Table 3) timed with pytest-benchmark; minutes on CPU",
    "slow": "slow: claims that fine-tune the pretrained checkpoints (Tables 1 and 2), and the harness's minutes-long "
            "real-model test; skipped unless --run-slow",
    "paper": "paper: checks of the paper's own arithmetic, and out-of-scope claims listed with their reason",
    "claims": "claims(*families): parametrize the test's `claim` argument over the registry rows of these families",
}
# The options results.json records (with pytest's -m and -k), by their dest names.
RECORDED_OPTIONS = ("run_slow", "device", "bert_checkpoint", "distilbert_checkpoint", "bert_revision", "distilbert_revision",
                    "data_dir", "report_dir", "registry",
                    "protocol", "protocols", "seeds", "refresh", "report_to", "cache_dir", "max_train_samples", "rerun_invalid",
                    "fail_inconclusive", "executor", "ray_address", "ray_retries", "numprocesses", "markexpr", "keyword")


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, got {text!r}")
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
    "--bert-revision": {"default": "main", "metavar": "REV",
                        "help": "the revision of a Hub --bert-checkpoint: a branch, a tag or a commit (the name@REV form "
                                "says the same). Each run records the commit it resolved to and keys its jobs by it. "
                                "Default: %(default)r"},
    "--distilbert-revision": {"default": "main", "metavar": "REV",
                              "help": "the revision of a Hub --distilbert-checkpoint (as --bert-revision). Default: %(default)r"},
    "--data-dir": {"default": None, "metavar": "DIR",
                   "help": "local data in the layout glue/<TASK>/*.tsv, imdb/, squad/ (see README). Default: "
                           "../shared/data beside the project when it exists, else the Hugging Face Hub"},
    "--report-dir": {"default": None, "metavar": "DIR",
                     "help": "where this run's report goes. Default: reports/<UTC timestamp>/, with reports/latest "
                             "pointing at the newest"},
    "--registry": {"default": str(registry_module.DEFAULT_REGISTRY), "metavar": "FILE",
                   "help": "the claim registry to run. Default: claims/registry.yaml"},
    "--protocol": {"default": "paper", "metavar": "NAME",
                   "help": "the fine-tuning protocol of the slow claims (harness/spec/protocols.yaml, or --protocols: "
                           "paper, seed-study, ...). Default: %(default)r"},
    "--protocols": {"default": None, "metavar": "FILE",
                    "help": "read the protocols from FILE, laid out as harness/spec/protocols.yaml (every value with its "
                            "source). Default: %(default)r (harness/spec/protocols.yaml)"},
    "--seeds": {"default": 1, "type": _positive_int, "metavar": "N",
                "help": "fine-tune N seeds per model and task; each claim takes the median (Table 1: 5). "
                        "Default: %(default)r"},
    "--refresh": {"action": "store_true", "default": False,
                  "help": "fine-tune again even where the result cache holds the job's result. Default: %(default)r"},
    "--cache-dir": {"default": None, "metavar": "DIR",
                    "help": "the fine-tuning result cache (and resumable checkpoints). Default: cache/ in the project"},
    "--rerun-invalid": {"default": 0, "type": _count, "metavar": "N",
                        "help": "train up to N further seeds per model and task in place of seeds whose run is invalid "
                                "(a NaN loss, no better than a constant predictor); a claim with no valid seed ends in "
                                "error. Default: %(default)r"},
    "--fail-inconclusive": {"action": "store_true", "default": False,
                            "help": "fail the run on an inconclusive verdict (otherwise an xfail), for CI that wants a "
                                    "decision. Default: %(default)r"},
    "--executor": {"choices": ("in-process", "ray"), "default": "in-process",
                   "help": "where the slow claims' fine-tuning jobs run: in-process (in this pytest process, or in each "
                           "pytest-xdist worker under -n N), or ray (every job the selected claims read, as Ray tasks, "
                           "before the claims; pip install -e '.[ray]'). Default: %(default)r"},
    "--ray-address": {"default": None, "metavar": "ADDR",
                      "help": "the Ray cluster of --executor ray: HOST:6379, auto (the cluster this node belongs to), or "
                              "ray://HOST:10001 (Ray Client: pip install 'ray[client]'); its token is used when one is "
                              "available (RAY_AUTH_TOKEN, ~/.ray/auth_token). Default: %(default)r (a local Ray started for "
                              "the run)"},
    "--ray-retries": {"default": 2, "type": _count, "metavar": "N",
                      "help": "retry a job that fails on Ray (an exception, a lost worker) N times before reporting its "
                              "error. Default: %(default)r"},
    "--max-train-samples": {"default": None, "type": _positive_int, "metavar": "N",
                            "help": "fine-tune on the first N training rows only (a quick, not a faithful, run; part "
                                    "of the cache key). Default: %(default)r (the protocol's)"},
    "--progress": {"choices": live.MODES, "default": "auto",
                   "help": "progress while the claims measure, shown without -s: each fine-tuning job (i/N, model, task, "
                           "seed), Trainer's step, loss and time left, the evaluation, the speed rounds. live: one line "
                           "rewritten in place; lines: a line per event and at least every 30 s (logs, CI); none; auto: "
                           "live on a terminal, else lines. Default: %(default)r"},
    "--report-to": {"choices": tracking.REPORT_TO, "default": "none",
                    "help": "Trainer's experiment tracking for the jobs trained in this run, logs under the report dir's "
                            "tracking/ (not part of the cache key: it changes no result). Default: %(default)r"},
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
    """Markers, the registry, the --device check and the path options: a bad registry, device or path (check_paths) is
    a usage error before anything runs."""
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
    check_paths(config)
    check_revisions(config)


def check_revisions(config: pytest.Config) -> None:
    """A revision applies to a Hub name only, and is given once: a usage error otherwise."""
    for role in ("bert", "distilbert"):
        name, revision = config.getoption(f"--{role}-checkpoint"), config.getoption(f"--{role}-revision")
        if revision == "main":
            continue
        if not revision or any(c.isspace() for c in revision):
            raise pytest.UsageError(f"--{role}-revision {revision!r}: expected a branch, a tag or a commit")
        if looks_like_local_path(name):
            raise pytest.UsageError(f"--{role}-revision {revision} names a revision of a Hub checkpoint, but --{role}-checkpoint "
                                    f"{name} is a local folder; drop --{role}-revision, or name the Hub checkpoint")
        if split_revision(name)[1] != "main":
            raise pytest.UsageError(f"--{role}-checkpoint {name} names its revision already; drop --{role}-revision {revision}")


# The options that name a folder or a file, and the fix when the path is wrong: (option, kind, fix).
PATH_OPTIONS = (
    ("--data-dir", "input folder", "pass the data root that holds glue/<TASK>/, imdb/ and squad/ (the layout of ../shared/data)"),
    ("--cache-dir", "output folder", "pass a folder for the fine-tuning result cache (made when absent)"),
    ("--report-dir", "output folder", "pass a folder for this run's report (made when absent)"),
    ("--bert-checkpoint", "checkpoint", "pass a folder saved by save_pretrained(), or a Hub name such as bert-base-uncased"),
    ("--distilbert-checkpoint", "checkpoint", "pass a folder saved by save_pretrained(), or a Hub name such as "
                                              "distilbert-base-uncased"),
)


def path_problem(path: Path, kind: str) -> str | None:
    """Why `path` cannot serve as an input folder, an output folder (made when absent) or a checkpoint, or None."""
    if path.exists():
        if not path.is_dir():
            return "is a file, not a folder"
        return "is a folder this user cannot write to" if kind == "output folder" and not os.access(path, os.W_OK) else None
    if kind != "output folder":
        return "does not exist"
    parent = next(folder for folder in path.absolute().parents if folder.exists())
    if not parent.is_dir():
        return f"cannot be made: {parent} is a file"
    return None if os.access(parent, os.W_OK | os.X_OK) else f"cannot be made: no permission to write in {parent}"


def check_paths(config: pytest.Config) -> None:
    """A path option naming a file for a folder, a missing input, a folder that cannot be made, or a data root one level
    too deep: one usage error."""
    for flag, kind, fix in PATH_OPTIONS:
        value = config.getoption(flag)
        if not value or kind == "checkpoint" and not looks_like_local_path(value):  # a Hub name
            continue
        problem = path_problem(Path(value).expanduser(), kind)
        if problem:
            raise pytest.UsageError(f"{flag} {value} {problem}; {fix}")
    data_dir = config.getoption("--data-dir")
    if data_dir:  # ROOT/glue given for ROOT: every task would be looked for one level too deep
        from harness.data.loading import data_root_problem

        problem = data_root_problem(Path(data_dir).expanduser())
        if problem:
            raise pytest.UsageError(f"--data-dir {data_dir} {problem}")


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
    unknown = set(marker.args) - set(families.names())
    if unknown:
        raise pytest.UsageError(f"{metafunc.definition.nodeid}: unknown claim families {sorted(unknown)}; "
                                f"known: {', '.join(families.names())}")
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


def checkpoints_of(config: pytest.Config) -> dict[str, str]:
    """The checkpoint of each of the paper's roles: {'bert': ..., 'distilbert': ...} (a local folder's ~ expanded; a Hub
    name at a revision other than main as name@revision, harness.data.hub.with_revision)."""
    return {role: with_revision(expand_local(config.getoption(f"--{role}-checkpoint")), config.getoption(f"--{role}-revision"))
            for role in ("bert", "distilbert")}


def data_dir_of(config: pytest.Config) -> Path | None:
    """Local data root (--data-dir, else ../shared/data beside the project), or None for the Hub."""
    return data_root(config.getoption("--data-dir"), config.rootpath)  # --data-dir was checked at configure (check_paths)


def accuracy_runner_of(config: pytest.Config) -> Any:
    """The session's AccuracyRunner, built once from the run's options (kept in config.stash): the one the accuracy
    claims use and the executors plan for, so a job asked twice in a process is run (or read back) once."""
    if RUNNER_KEY not in config.stash:
        from harness.measure.accuracy import AccuracyRunner
        from harness.measure.finetune.cache import ResultCache

        config.stash[RUNNER_KEY] = AccuracyRunner.from_options(
            vars(config.option), config.rootpath, ResultCache(config.getoption("--cache-dir")), refresh=config.getoption("--refresh"))
    return config.stash[RUNNER_KEY]


@pytest.fixture(scope="session")
def checkpoints(pytestconfig: pytest.Config) -> dict[str, str]:
    """The checkpoint of each of the paper's roles (checkpoints_of)."""
    return checkpoints_of(pytestconfig)


@pytest.fixture(scope="session")
def accuracy_runner(pytestconfig: pytest.Config) -> Any:
    """The session's fine-tuning jobs (accuracy_runner_of): each model, task and seed run (or read from the cache) once."""
    return accuracy_runner_of(pytestconfig)


@pytest.fixture(scope="session")
def architectures(checkpoints: dict[str, str]) -> dict[str, Any]:
    """Each role's architecture (its config, from the checkpoint or the project's copy); a ClaimsError follows
    the claims' error policy (harness.plugin.session)."""
    from harness.measure.models import load_config

    return {role: load_config(name) for role, name in checkpoints.items()}


@pytest.fixture(scope="session")
def device(pytestconfig: pytest.Config) -> str:
    """The torch device the models run on: --device, with auto resolved (harness.device)."""
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
    """Local data root (data_dir_of)."""
    return data_dir_of(pytestconfig)
