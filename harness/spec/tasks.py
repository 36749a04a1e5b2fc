"""The task specs of harness/spec/tasks.yaml as frozen dataclasses: GLUE's nine tasks, IMDb and SQuAD v1.1.

A TaskSpec says where a task's data lives (the Hub, and the classic local files), which columns are
the inputs, what the labels are, which splits are evaluated, which metrics are reported and which one
fills the paper's cell (and why: the claim registry takes a cell's metric from here), whether a run no
better than a constant predictor still counts (WNLI), and what a job of the task costs (its split sizes
and padded tokens, for the GPU-time model). Loaders (harness.data), preprocessing, metrics, validity,
the claim registry, the report and the executors' plan all read it.
This module only reads and checks the table; it loads no data.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ClaimsError, did_you_mean
from harness.files import read_yaml

TASKS_FILE = Path(__file__).resolve().parent / "tasks.yaml"
KINDS = ("classification", "regression", "extractive_qa")
LOCAL_FORMATS = ("glue_tsv", "imdb", "squad_json")


@dataclass(frozen=True)
class LocalFormat:
    """How a task's classic files look: the folder under the data root and, for GLUE TSVs, the columns."""

    format: str  # glue_tsv | imdb | squad_json
    folder: str  # CoLA, SST-2, ... for GLUE (under glue/); imdb; squad
    files: dict[str, str] = field(default_factory=dict, hash=False)  # Hub split -> file name
    columns: dict[str, str] = field(default_factory=dict, hash=False)  # Hub column -> file column
    labels: dict[str, int] = field(default_factory=dict, hash=False)  # file label value -> Hub label id
    headerless_splits: tuple[str, ...] = ()  # splits whose file has no header line (CoLA train/dev)
    headerless_fields: tuple[str, ...] = ()  # the names of those files' fields, in order


@dataclass(frozen=True)
class TaskCost:
    """What the GPU-time model (harness.execute.makespan) prices a job of the task by: the released split sizes
    (training rows; rows scored), and the tokens a row costs when random batches are padded to their longest row."""

    train_rows: int
    eval_rows: int
    padded_tokens: float


@dataclass(frozen=True)
class TaskSpec:
    """One task of the paper, as data."""

    name: str
    kind: str
    hub_path: str
    hub_config: str | None
    text_columns: tuple[str, ...]
    label_column: str | None
    label_names: tuple[str, ...]
    splits: tuple[str, ...]
    train_split: str
    eval_splits: tuple[str, ...]
    test_split: str | None
    metrics: tuple[str, ...]
    paper_metrics: tuple[str, ...]
    in_glue_macro: bool
    max_length: int
    local: LocalFormat
    version: int
    display_name: str = ""  # CoLA, SST-2, ...; the task's name when the table gives none
    paper_metric_reason: str = ""  # why paper_metric fills the cell (the registry's metric_reason for the task's rows)
    doc_stride: int | None = None
    label_range: tuple[float, float] | None = None  # regression targets (STS-B: 0 to 5)
    # Not in a job's cache key (keyed False): neither decides a trained result.
    constant_predictor_exempt: str = field(default="", metadata={"keyed": False})  # why a constant predictor still counts
    cost: TaskCost | None = field(default=None, metadata={"keyed": False})  # the GPU-time model's figures (None: overhead only)
    # The Hub dataset's revision (a branch, a tag or a commit): a job's key holds it with the commit it resolved to, in
    # its data's identity (harness.data.loading.Source.identity), so it is not keyed twice here.
    hub_revision: str = field(default="main", metadata={"keyed": False})

    @property
    def num_labels(self) -> int:
        """Output units of the model head: the number of classes, 1 for a regression (STS-B)."""
        return 1 if self.kind == "regression" else len(self.label_names)

    @property
    def paper_metric(self) -> str:
        """The metric of the paper's (first) cell for this task; SQuAD's second cell is paper_metrics[1]."""
        return self.paper_metrics[0]

    @property
    def paper_split(self) -> str:
        """The split the paper's figure is measured on: the test set where the paper says so, else the first dev set."""
        return self.test_split or self.eval_splits[0]

    def keyed(self) -> dict[str, Any]:
        """The fields that decide a trained result, as the cache key holds them (harness.measure.finetune.job_key)."""
        fields = TaskSpec.__dataclass_fields__
        return {name: value for name, value in dataclasses.asdict(self).items() if fields[name].metadata.get("keyed", True)}



def _fail(name: str, field_name: str, problem: str) -> None:
    raise ClaimsError(f"{TASKS_FILE}, task {name!r}, field {field_name!r}: {problem}",
                      "correct that task in harness/spec/tasks.yaml (its header lists the fields)")


def _parse_local(name: str, raw: Any) -> LocalFormat:
    if not isinstance(raw, dict) or raw.get("format") not in LOCAL_FORMATS:
        _fail(name, "local.format", f"expected one of {', '.join(LOCAL_FORMATS)}")
    headerless = raw.get("headerless") or {}
    return LocalFormat(
        format=raw["format"],
        folder=str(raw.get("folder", name)),
        files={str(k): str(v) for k, v in (raw.get("files") or {}).items()},
        columns={str(k): str(v) for k, v in (raw.get("columns") or {}).items()},
        labels={str(k): int(v) for k, v in (raw.get("labels") or {}).items()},
        headerless_splits=tuple(headerless.get("splits", ())),
        headerless_fields=tuple(headerless.get("fields", ())),
    )


def _parse_cost(name: str, raw: Any) -> TaskCost:
    fields = tuple(TaskCost.__dataclass_fields__)
    if not isinstance(raw, dict) or set(raw) != set(fields) or not all(
            isinstance(raw[f], (int, float)) and not isinstance(raw[f], bool) and raw[f] >= 0 for f in fields):
        _fail(name, "cost", f"expected the numbers {', '.join(fields)}")
    return TaskCost(int(raw["train_rows"]), int(raw["eval_rows"]), float(raw["padded_tokens"]))


def _revision(name: str, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip() or any(c.isspace() for c in raw):
        _fail(name, "hub_revision", f"expected a branch, a tag or a commit of the Hub dataset, got {raw!r}")
    return raw


def parse_task(name: str, raw: Any) -> TaskSpec:
    """Build and check one TaskSpec from its raw YAML mapping."""
    if not isinstance(raw, dict):
        _fail(name, "", "expected a mapping of fields")
    known = {f for f in TaskSpec.__dataclass_fields__} - {"name"}
    for key in raw:
        if key not in known:
            _fail(name, key, f"unknown field; {did_you_mean(key, sorted(known))}")
    try:
        spec = TaskSpec(
            name=name,
            kind=raw["kind"],
            hub_path=raw["hub_path"],
            hub_config=raw.get("hub_config"),
            hub_revision=_revision(name, raw.get("hub_revision", "main")),
            text_columns=tuple(raw["text_columns"]),
            label_column=raw.get("label_column"),
            label_names=tuple(raw.get("label_names") or ()),
            splits=tuple(raw["splits"]),
            train_split=raw["train_split"],
            eval_splits=tuple(raw["eval_splits"]),
            test_split=raw.get("test_split"),
            metrics=tuple(raw["metrics"]),
            paper_metrics=tuple(raw["paper_metrics"]),
            in_glue_macro=bool(raw["in_glue_macro"]),
            max_length=int(raw["max_length"]),
            local=_parse_local(name, raw.get("local")),
            version=int(raw["version"]),
            display_name=str(raw.get("display_name") or name),
            paper_metric_reason=str(raw.get("paper_metric_reason") or ""),
            doc_stride=raw.get("doc_stride"),
            label_range=tuple(raw["label_range"]) if raw.get("label_range") else None,
            constant_predictor_exempt=" ".join(str(raw.get("constant_predictor_exempt") or "").split()),
            cost=_parse_cost(name, raw["cost"]) if raw.get("cost") is not None else None,
        )
    except KeyError as missing:
        _fail(name, str(missing.args[0]), "missing (required)")
    if spec.kind not in KINDS:
        _fail(name, "kind", f"expected one of {', '.join(KINDS)}, got {spec.kind!r}")
    if len(spec.text_columns) not in (1, 2):
        _fail(name, "text_columns", "expected one column or a pair")
    for split in (spec.train_split, *spec.eval_splits, *([spec.test_split] if spec.test_split else [])):
        if split not in spec.splits:
            _fail(name, "splits", f"{split!r} is used but not listed among the splits")
    if not set(spec.paper_metrics) <= set(spec.metrics):
        _fail(name, "paper_metrics", "every paper metric must be among the task's metrics")
    if spec.kind == "classification" and len(spec.label_names) < 2:
        _fail(name, "label_names", "a classification task needs at least two label names")
    if spec.local.labels and sorted(set(spec.local.labels.values())) != list(range(len(spec.label_names))):
        _fail(name, "local.labels", "the file label values must map onto exactly the ids 0..num_labels-1")
    if spec.kind == "extractive_qa" and not spec.doc_stride:
        _fail(name, "doc_stride", "an extractive QA task needs a doc_stride")
    return spec


@functools.lru_cache(maxsize=4)
def load_tasks(path: Path = TASKS_FILE) -> dict[str, TaskSpec]:
    """Every task of the table, by name."""
    document = read_yaml(path, "task table", "restore harness/spec/tasks.yaml")
    if not isinstance(document, dict) or not isinstance(document.get("tasks"), dict):
        raise ClaimsError(f"{path}: expected a mapping with a 'tasks' mapping", "see harness/spec/tasks.yaml for the layout")
    return {name: parse_task(name, raw) for name, raw in document["tasks"].items()}


def task_names() -> list[str]:
    """The known task names, in the table's order (GLUE's nine alphabetically, then imdb, squad)."""
    return list(load_tasks())


def glue_task_names() -> list[str]:
    """The nine tasks of Table 1, in its order, counted in its macro score (the one GLUE task list)."""
    return [name for name, spec in load_tasks().items() if spec.in_glue_macro]


def get_task(name: str) -> TaskSpec:
    """The spec of one task; an unknown name fails with close matches and the known names."""
    tasks = load_tasks()
    key = name.strip().lower().replace("-", "") if isinstance(name, str) else name
    if key not in tasks:
        raise ClaimsError(f"unknown task {name!r}", did_you_mean(str(name), list(tasks)))
    return tasks[key]
