"""Fine-tuning protocols (harness/spec/protocols.yaml): the hyperparameters of a job, as data, with their sources.

`get(name)` returns a Protocol; whether it is `faithful` (a reading of the paper's recipe whose scores
may be judged against the paper: paper, seed-study) or quick (smoke, minilm-cpu: its scores are reported
and never judged; a protocol that does not say is quick); `protocol.for_task(spec)` the Settings one job uses (the protocol's
values with the task's overrides, and the task's own max_length / doc_stride where the protocol leaves
them null: harness/spec/tasks.yaml is their one home). Every value must name where it comes from; an unknown protocol,
setting or task is a ClaimsError with "did you mean", and a value out of its range (RANGES, CHOICES) one that says
what the setting takes. `parse_override("learning_rate=3e-5")` reads a command line's --set with the same checks
(`Settings.replace` applies it). The file is harness/spec/protocols.yaml unless `use_file(path)` chose another for
this process (pytest's --protocols FILE, the finetune command's). This module only reads and checks; the job that
uses the settings is harness.measure.finetune.job.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ClaimsError, did_you_mean
from harness.files import read_yaml
from harness.spec.tasks import TaskSpec, task_names

SCHEMA_VERSION = 1
DEFAULT_PROTOCOLS = Path(__file__).resolve().parent / "protocols.yaml"


@dataclass(frozen=True)
class Settings:
    """The resolved hyperparameters of one job (one protocol on one task)."""

    learning_rate: float
    train_batch_size: int  # per device
    gradient_accumulation_steps: int  # an optimisation step sums this many batches: the effective batch multiplies by it
    eval_batch_size: int
    num_train_epochs: float
    warmup_ratio: float
    weight_decay: float
    lr_scheduler: str
    train_sampling: str
    max_length: int | None
    doc_stride: int | None
    max_train_samples: int | None
    max_eval_samples: int | None
    max_steps: int | None
    save_steps: int
    first_seed: int
    distillation_temperature: float
    distillation_alpha_ce: float
    distillation_alpha_task: float

    def replace(self, **changes: Any) -> Settings:
        """A copy with some values changed (--set, tests and benchmarks): an unknown name or a value out of its range
        is a ClaimsError naming the setting and what it takes."""
        unknown = set(changes) - set(SETTING_NAMES)
        if unknown:
            name = sorted(unknown)[0]
            raise ClaimsError(f"unknown protocol setting {name!r}; {did_you_mean(name, SETTING_NAMES)}",
                              "name a setting of harness/spec/protocols.yaml (its header says what each one does)")
        for name, value in changes.items():
            problem = value_problem(name, value)
            if problem:
                raise ClaimsError(f"setting {name}={value!r}: {problem}", f"give {name} {allowed(name)}")
        return dataclasses.replace(self, **changes)

    @property
    def optimisation_batch_size(self) -> int:
        """Rows per optimisation step on one device: the batch times the gradient accumulation steps."""
        return self.train_batch_size * self.gradient_accumulation_steps

    def seeds(self, count: int) -> list[int]:
        """The seeds of `count` runs: first_seed, first_seed + 1, ..."""
        if count < 1:
            raise ClaimsError(f"--seeds {count}: at least one seed is needed", "pass --seeds 1 or more (the paper takes the median of 5)")
        return [self.first_seed + i for i in range(count)]


SETTING_NAMES = tuple(f.name for f in dataclasses.fields(Settings))
_TYPES: dict[str, tuple[type, ...]] = {
    f.name: ((int, float) if "float" in str(f.type) else (int,) if "int" in str(f.type) else (str,))
    for f in dataclasses.fields(Settings)
}
NULLABLE = frozenset(f.name for f in dataclasses.fields(Settings) if "None" in str(f.type))
# The values each string setting takes: transformers' SchedulerType members that need no extra arguments, and
# TrainingArguments' train_sampling_strategy choices that work on one device (tests/test_finetune_cli.py checks both).
CHOICES = {
    "lr_scheduler": ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup",
                     "inverse_sqrt"),
    "train_sampling": ("random", "sequential", "group_by_length"),
}
# The range of each number: (lowest, lowest allowed itself?, highest, highest allowed itself?); None: unbounded.
RANGES: dict[str, tuple[float | None, bool, float | None, bool]] = {
    "learning_rate": (0, False, None, False), "num_train_epochs": (0, False, None, False),
    "warmup_ratio": (0, True, 1, False),  # a fraction of the optimisation steps (transformers 5 reads 1 and above as steps)
    "weight_decay": (0, True, None, False), "distillation_temperature": (0, False, None, False),
    "distillation_alpha_ce": (0, True, None, False), "distillation_alpha_task": (0, True, None, False),
    "first_seed": (0, True, None, False),
    **{name: (1, True, None, False) for name in ("train_batch_size", "gradient_accumulation_steps", "eval_batch_size",
                                                 "max_length", "doc_stride", "max_train_samples", "max_eval_samples",
                                                 "max_steps", "save_steps")},
}


def allowed(name: str) -> str:
    """What a setting takes, in words: 'a whole number of at least 1', 'one of linear, cosine, ...'."""
    if name in CHOICES:
        text = "one of " + ", ".join(CHOICES[name])
    else:
        low, low_in, high, high_in = RANGES.get(name, (None, False, None, False))
        kind = "a whole number" if _TYPES[name] == (int,) else "a number"
        bounds = ([f"{'at least' if low_in else 'above'} {low:g}"] if low is not None else []) + \
                 ([f"{'at most' if high_in else 'below'} {high:g}"] if high is not None else [])
        text = f"{kind}{' of' if bounds and bounds[0].startswith('at') else ''} {' and '.join(bounds)}".rstrip()
    return text + (", or null" if name in NULLABLE else "")


def value_problem(name: str, value: Any) -> str | None:
    """Why `value` cannot be the setting `name`, or None: its type, its range, its choices (null where allowed)."""
    if value is None:
        return None if name in NULLABLE else "a value is required"
    if isinstance(value, bool) or not isinstance(value, _TYPES[name]):
        return f"{value!r} is not a {_TYPES[name][-1].__name__} ({allowed(name)})"
    if name in CHOICES and value not in CHOICES[name]:
        return f"{value!r} is not a choice of {name}: {did_you_mean(value, CHOICES[name])}"
    low, low_in, high, high_in = RANGES.get(name, (None, False, None, False))
    if isinstance(value, float) and not math.isfinite(value) or \
            low is not None and (value < low or value == low and not low_in) or \
            high is not None and (value > high or value == high and not high_in):
        return f"{value!r} is out of range: {name} takes {allowed(name)}"
    return None


def parse_override(text: str) -> tuple[str, Any]:
    """One --set NAME=VALUE as (name, typed value); a ClaimsError naming the setting and what it takes."""
    name, sep, raw = text.partition("=")
    name, raw = name.strip(), raw.strip()
    if not sep or not name:
        raise ClaimsError(f"--set {text!r}: expected NAME=VALUE",
                          "e.g. --set learning_rate=3e-5 --set gradient_accumulation_steps=4")
    if name not in SETTING_NAMES:
        raise ClaimsError(f"--set {text}: unknown setting {name!r}; {did_you_mean(name, SETTING_NAMES)}",
                          "name a setting of harness/spec/protocols.yaml (its header says what each one does)")
    value: Any = raw
    if raw.lower() in ("null", "none") and name in NULLABLE:
        value = None
    elif _TYPES[name] != (str,):
        try:
            value = int(raw) if _TYPES[name] == (int,) else float(raw)
        except ValueError:
            raise ClaimsError(f"--set {text}: {raw!r} is not {allowed(name)}", f"e.g. --set {name}={_example(name)}") from None
    problem = value_problem(name, value)
    if problem:
        raise ClaimsError(f"--set {text}: {problem}", f"give {name} {allowed(name)}")
    return name, value


def parse_overrides(texts: list[str] | None) -> dict[str, Any]:
    """Every --set, in order (a later one wins): {name: typed value}."""
    return dict(parse_override(text) for text in texts or ())


def _example(name: str) -> str:
    return CHOICES[name][0] if name in CHOICES else "3e-5" if _TYPES[name] != (int,) else "4"


@dataclass(frozen=True)
class Protocol:
    """One named protocol: its values, their sources, and the per-task overrides."""

    name: str
    description: str
    settings: dict[str, Any]
    sources: dict[str, str]
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    task_sources: dict[str, dict[str, str]] = field(default_factory=dict)
    faithful: bool = False  # its scores may be judged against the paper's; a quick protocol's are only reported

    def for_task(self, spec: TaskSpec) -> Settings:
        """The settings a job on the task uses: the protocol's values, the task's overrides, then the task's
        own max_length and doc_stride for what is still null."""
        values = {**self.settings, **self.tasks.get(spec.name, {})}
        values["max_length"] = values["max_length"] or spec.max_length
        values["doc_stride"] = values["doc_stride"] or spec.doc_stride
        return Settings(**values)



def _check_values(where: str, values: Any, sources: Any, complete: bool,
                  path: Path = DEFAULT_PROTOCOLS) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate one settings block and its sources; complete=True demands every setting."""
    fix = (f"correct {path} (harness/spec/protocols.yaml's header lists the settings)" if path != DEFAULT_PROTOCOLS
           else "correct harness/spec/protocols.yaml (its header lists the settings)")
    if not isinstance(values, dict) or not isinstance(sources, dict):
        raise ClaimsError(f"{where}: expected mappings 'settings' and 'sources'", fix)
    for name, value in values.items():
        if name not in SETTING_NAMES:
            raise ClaimsError(f"{where}: unknown setting {name!r}; {did_you_mean(name, SETTING_NAMES)}", fix)
        problem = value_problem(name, value)
        if problem:
            raise ClaimsError(f"{where}, setting {name!r}: {problem}", fix)
        if not isinstance(sources.get(name), str) or not sources[name].strip():
            raise ClaimsError(f"{where}, setting {name!r}: no source given", "say where the value comes from under 'sources'")
    if complete:
        missing = [name for name in SETTING_NAMES if name not in values]
        if missing:
            raise ClaimsError(f"{where}: missing settings {missing}", fix)
    return dict(values), {name: sources[name] for name in values}


_chosen: Path | None = None  # this process's protocols file (--protocols FILE); None: DEFAULT_PROTOCOLS


def use_file(path: str | Path | None) -> Path:
    """Make `path` (None: harness/spec/protocols.yaml) the file every protocol is read from in this process: pytest's
    --protocols FILE and the finetune command's. Checked at once (a ClaimsError naming the problem); returns it."""
    global _chosen
    chosen = Path(path).expanduser() if path else None
    load(chosen or DEFAULT_PROTOCOLS)
    _chosen = chosen
    return active_file()


def active_file() -> Path:
    """The protocols file this process reads (use_file)."""
    return _chosen or DEFAULT_PROTOCOLS


def load(path: str | Path | None = None) -> dict[str, Protocol]:
    """Read and validate a protocols file (default: active_file()): {name: Protocol}. Read once while the file is
    unchanged (every job and every accuracy measurement asks for its protocol); a file that fails to load is read
    again next time."""
    path = Path(path) if path is not None else active_file()
    try:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None  # read_yaml names the problem
    return dict(_load(path, stamp))


@functools.lru_cache(maxsize=8)
def _load(path: Path, stamp: tuple[int, int] | None) -> dict[str, Protocol]:
    own = path == DEFAULT_PROTOCOLS
    document = read_yaml(path, "protocols file", "restore harness/spec/protocols.yaml" if own else
                         "pass --protocols a YAML file laid out as harness/spec/protocols.yaml")
    if not isinstance(document, dict) or document.get("schema_version") != SCHEMA_VERSION \
            or not isinstance(document.get("protocols") or {}, dict):
        raise ClaimsError(f"{path}: expected schema_version {SCHEMA_VERSION} and a 'protocols' mapping",
                          "see harness/spec/protocols.yaml")
    known_tasks = task_names()
    protocols = {}
    for name, raw in (document.get("protocols") or {}).items():
        where = f"{path}, protocol {name!r}"
        if not isinstance(raw, dict):
            raise ClaimsError(f"{where}: expected a mapping", "see the other protocols in the file")
        settings, sources = _check_values(where, raw.get("settings"), raw.get("sources"), complete=True, path=path)
        overrides, override_sources = {}, {}
        tasks = raw.get("tasks") or {}
        if not isinstance(tasks, dict):
            raise ClaimsError(f"{where}, 'tasks': expected a mapping of task names to settings", "see the paper protocol's tasks")
        for task, block in tasks.items():
            if task not in known_tasks:
                raise ClaimsError(f"{where}: unknown task {task!r}; {did_you_mean(task, known_tasks)}", "use a task of harness/spec/tasks.yaml")
            block = block if isinstance(block, dict) else {}
            overrides[task], override_sources[task] = _check_values(f"{where}, task {task!r}", block.get("settings"),
                                                                    block.get("sources"), complete=False, path=path)
        faithful = raw.get("faithful", False)
        if not isinstance(faithful, bool):
            raise ClaimsError(f"{where}, 'faithful': {faithful!r} is not true or false",
                              "say whether the protocol's scores may be judged against the paper's (faithful: true) or not")
        protocols[name] = Protocol(name, " ".join(str(raw.get("description", "")).split()), settings, sources,
                                   overrides, override_sources, faithful)
    return protocols


def get(name: str, path: str | Path | None = None) -> Protocol:
    """The protocol called `name` (in `path`, default active_file()); a ClaimsError naming the known ones otherwise."""
    protocols = load(path)
    if name not in protocols:
        raise ClaimsError(f"unknown protocol {name!r} (in {path or active_file()})", did_you_mean(name, list(protocols)))
    return protocols[name]


def names(path: str | Path | None = None) -> list[str]:
    """Every protocol's name, in file order."""
    return list(load(path))
