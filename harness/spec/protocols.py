"""Fine-tuning protocols (harness/spec/protocols.yaml): the hyperparameters of a job, as data, with their sources.

`get(name)` returns a Protocol; whether it is `faithful` (a reading of the paper's recipe whose scores
may be judged against the paper: paper, seed-study) or quick (smoke, minilm-cpu: its scores are reported
and never judged; a protocol that does not say is quick); `protocol.for_task(spec)` the Settings one job uses (the protocol's
values with the task's overrides, and the task's own max_length / doc_stride where the protocol leaves
them null: harness/spec/tasks.yaml is their one home). Every value must name where it comes from; an unknown protocol,
setting or task is a ClaimsError with "did you mean". This module only reads and checks; the job that
uses the settings is harness.finetune.
"""

from __future__ import annotations

import dataclasses
import functools
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
    train_batch_size: int
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
        """A copy with some values changed (tests and benchmarks; unknown names are an error)."""
        unknown = set(changes) - set(SETTING_NAMES)
        if unknown:
            raise ClaimsError(f"unknown protocol setting(s) {sorted(unknown)}", did_you_mean(sorted(unknown)[0], SETTING_NAMES))
        return dataclasses.replace(self, **changes)

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



def _check_values(where: str, values: Any, sources: Any, complete: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """Validate one settings block and its sources; complete=True demands every setting."""
    fix = "correct harness/spec/protocols.yaml (its header lists the settings)"
    if not isinstance(values, dict) or not isinstance(sources, dict):
        raise ClaimsError(f"{where}: expected mappings 'settings' and 'sources'", fix)
    for name, value in values.items():
        if name not in SETTING_NAMES:
            raise ClaimsError(f"{where}: unknown setting {name!r}; {did_you_mean(name, SETTING_NAMES)}", fix)
        if value is not None and (isinstance(value, bool) or not isinstance(value, _TYPES[name])):
            raise ClaimsError(f"{where}, setting {name!r}: {value!r} is not a {_TYPES[name][-1].__name__}", fix)
        if value is None and "None" not in str(Settings.__dataclass_fields__[name].type):
            raise ClaimsError(f"{where}, setting {name!r}: a value is required", fix)
        if not isinstance(sources.get(name), str) or not sources[name].strip():
            raise ClaimsError(f"{where}, setting {name!r}: no source given", "say where the value comes from under 'sources'")
    if complete:
        missing = [name for name in SETTING_NAMES if name not in values]
        if missing:
            raise ClaimsError(f"{where}: missing settings {missing}", fix)
    return dict(values), {name: sources[name] for name in values}


def load(path: str | Path = DEFAULT_PROTOCOLS) -> dict[str, Protocol]:
    """Read and validate the protocols file: {name: Protocol}. Read once while the file is unchanged (every job and
    every accuracy measurement asks for its protocol); a file that fails to load is read again next time."""
    path = Path(path)
    try:
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        stamp = None  # read_yaml names the problem
    return dict(_load(path, stamp))


@functools.lru_cache(maxsize=8)
def _load(path: Path, stamp: tuple[int, int] | None) -> dict[str, Protocol]:
    document = read_yaml(path, "protocols file", "restore harness/spec/protocols.yaml")
    if not isinstance(document, dict) or document.get("schema_version") != SCHEMA_VERSION:
        raise ClaimsError(f"{path}: expected schema_version {SCHEMA_VERSION} and a 'protocols' mapping",
                          "see harness/spec/protocols.yaml")
    known_tasks = task_names()
    protocols = {}
    for name, raw in (document.get("protocols") or {}).items():
        where = f"{path}, protocol {name!r}"
        if not isinstance(raw, dict):
            raise ClaimsError(f"{where}: expected a mapping", "see the other protocols in the file")
        settings, sources = _check_values(where, raw.get("settings"), raw.get("sources"), complete=True)
        overrides, override_sources = {}, {}
        for task, block in (raw.get("tasks") or {}).items():
            if task not in known_tasks:
                raise ClaimsError(f"{where}: unknown task {task!r}; {did_you_mean(task, known_tasks)}", "use a task of harness/spec/tasks.yaml")
            block = block if isinstance(block, dict) else {}
            overrides[task], override_sources[task] = _check_values(f"{where}, task {task!r}", block.get("settings"),
                                                                    block.get("sources"), complete=False)
        faithful = raw.get("faithful", False)
        if not isinstance(faithful, bool):
            raise ClaimsError(f"{where}, 'faithful': {faithful!r} is not true or false",
                              "say whether the protocol's scores may be judged against the paper's (faithful: true) or not")
        protocols[name] = Protocol(name, " ".join(str(raw.get("description", "")).split()), settings, sources,
                                   overrides, override_sources, faithful)
    return protocols


def get(name: str, path: str | Path = DEFAULT_PROTOCOLS) -> Protocol:
    """The protocol called `name`; a ClaimsError naming the known ones otherwise."""
    protocols = load(path)
    if name not in protocols:
        raise ClaimsError(f"unknown protocol {name!r} (in {path})", did_you_mean(name, list(protocols)))
    return protocols[name]


def names(path: str | Path = DEFAULT_PROTOCOLS) -> list[str]:
    """Every protocol's name, in file order."""
    return list(load(path))
