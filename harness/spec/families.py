"""The claim families: one table of what the suite knows of each kind of claim, and the one rule for a cell's metric.

Every row of claims/registry.yaml names a family; FAMILIES says, for each, everything the harness does
differently for it:
  measure     the code that measures a row ("module:attribute", resolved lazily by `resolve`); for the
              families that fine-tune it is called as measure(runner, claim) by AccuracyRunner.measure;
  cells       the code that lists the fine-tuning cells (role, task, distilled) a row reads: set only for the
              families that fine-tune (what the executors plan jobs for, what claims/test_accuracy.py runs);
  noise       how the judge gets the measurement's uncertainty: exact, seeds (the cells over seeds) or timing
              (the timed chunks);
  table_cells a row with a task is one cell of the paper's Tables 1-2 (its metric: the task's paper metric),
              unless its metric is one of comparison_metrics (the two models compared, not a cell);
  recompute   how `python -m harness check` recomputes a row: recompute(check, result, row) -> Measurement,
              what from (in words), and the relative agreement asked of it;
  paper_check a check of the paper's own arithmetic, counted apart from the claims reproduced;
  params      the keys a row's `params` may hold (Param: type, required, default); any other is an error.
Adding a family is a registry row, one entry here and its measuring module (and, unless it fine-tunes, a
claim test marked @pytest.mark.claims("<family>")). `cell_metric` is the one place a cell's metric defaults
to its task's paper metric. This module sits in the lowest layer: it names the code of higher layers by
dotted path and imports it only when asked (`resolve`); it measures, judges and checks nothing itself.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.errors import ClaimsError, did_you_mean
from harness.spec.tasks import TaskSpec, get_task, glue_task_names

# Every metric a row may name, with what it measures (units: 0-100 points for task scores).
METRICS = {
    "parameters_millions": "trainable parameters of the bare encoder, in millions",
    "percent_fewer_parameters": "100 * (1 - params(DistilBERT) / params(BERT))",
    "speedup": "time(BERT) / time(DistilBERT) for the same inputs, measured in one run",
    "matthews_correlation": "Matthews correlation x 100 (GLUE's CoLA metric)",
    "accuracy": "accuracy x 100",
    "f1": "F1 x 100: binary F1 of the positive class for MRPC/QQP; SQuAD's token-overlap F1 (official normalization) for SQuAD",
    "combined_score": "mean of accuracy and F1 x 100 (run_glue's combined score for MRPC/QQP)",
    "pearson": "Pearson correlation x 100 (GLUE's STS-B metric)",
    "spearmanr": "Spearman correlation x 100",
    "exact_match": "SQuAD exact match x 100, official answer normalization",
    "macro_score": "unweighted mean of the per-task cells of Table 1",
    "retention_percent": "100 * macro(DistilBERT) / macro(BERT)",
    "points_behind": "score(BERT) - score(DistilBERT), in points",
    "mean": "arithmetic mean of the paper's own figures",
    "ratio_percent": "100 * a / b of the paper's own figures",
    "not_measured": "no measurement here: the claim is out of scope",
}
NOISE = ("exact", "seeds", "timing")


@dataclass(frozen=True)
class Param:
    """One key of a family's params: its type (a typing form), whether a row must give it, its value when absent."""

    kind: Any
    required: bool = False
    default: Any = None


@dataclass(frozen=True)
class Family:
    """What the harness knows of one claim family (see the module docstring for each field)."""

    name: str
    description: str
    measure: str | None  # "module:attribute"; None: never measured here (out of scope)
    params: Mapping[str, Param] = field(default_factory=dict)
    cells: str | None = None  # "module:attribute" (claim) -> [(role, task, distilled)]; None: trains nothing
    noise: str = "exact"
    table_cells: bool = False
    comparison_metrics: tuple[str, ...] = ()  # metrics of rows that compare the two models rather than fill a cell
    recompute: str | None = None  # "module:attribute" (check, result, row) -> Measurement; None: nothing to recompute
    recomputed_from: str = ""
    agreement: float = 1e-6  # a recomputed value agrees within this share of it (recorded timings are rounded: speed 1e-3)
    paper_check: bool = False

    def __post_init__(self) -> None:
        if self.noise not in NOISE:
            raise ValueError(f"family {self.name!r}: noise {self.noise!r}, expected one of {', '.join(NOISE)}")

    @property
    def fine_tuned(self) -> bool:
        """Whether its rows are measured by fine-tuning (they read cells): the accuracy claims."""
        return self.cells is not None


_GLUE_TASK = Literal[tuple(glue_task_names())]
_ACCURACY = "harness.measure.accuracy"
_CHECK = "harness.reporting.check"
_FROM_PREDICTIONS = {"noise": "seeds", "recompute": f"{_CHECK}:recompute_accuracy", "recomputed_from": "the cached predictions"}

FAMILIES: dict[str, Family] = {family.name: family for family in (
    Family("size", "Table 3's parameter counts, exact on the architectures", "harness.measure.size:measure",
           recompute=f"{_CHECK}:recompute_size", recomputed_from="the architectures"),
    Family("speed", "Table 3's inference time: the CPU pass and the GPU grid", "harness.measure.speed.runner:SpeedRunner.measure",
           params={"device": Param(Literal["cpu", "cuda"]), "pairs": Param(int), "paper_seconds": Param(dict[str, float]),
                   "paper_hardware": Param(str), "dtype": Param(Literal["float32", "bfloat16"]),
                   "batch_sizes": Param(list[int]), "seq_lengths": Param(list[int]), "rounds": Param(int)},
           noise="timing", recompute=f"{_CHECK}:recompute_speed", recomputed_from="its recorded chunk times", agreement=1e-3),
    Family("glue", "Table 1's cells: one model on one GLUE task", f"{_ACCURACY}:measure_cell", cells=f"{_ACCURACY}:cells_of_cell",
           table_cells=True, **_FROM_PREDICTIONS),
    Family("macro", "Table 1's score: the mean of a model's GLUE cells", f"{_ACCURACY}:measure_macro",
           params={"exclude": Param(list[_GLUE_TASK], default=[])}, cells=f"{_ACCURACY}:cells_of_macro", **_FROM_PREDICTIONS),
    Family("retention", "DistilBERT's macro score as a share of BERT's", f"{_ACCURACY}:measure_retention",
           params={"exclude": Param(list[_GLUE_TASK], default=[]), "paper_own_figures_percent": Param(float)},
           cells=f"{_ACCURACY}:cells_of_retention", **_FROM_PREDICTIONS),
    Family("downstream", "Table 2's cells (IMDb, SQuAD, DistilBERT (D)) and the gaps between the models",
           f"{_ACCURACY}:measure_cell", params={"distillation": Param(bool), "metric_of_gap": Param(Literal[tuple(METRICS)])},
           cells=f"{_ACCURACY}:cells_of_cell", table_cells=True, comparison_metrics=("points_behind",), **_FROM_PREDICTIONS),
    Family("paper_arithmetic", "the paper's figures recomputed from its other figures", "harness.measure.arithmetic:recompute",
           params={"operation": Param(Literal["mean", "ratio_percent"], required=True), "operands": Param(list[str]),
                   "table1_row": Param(Literal["bert", "distilbert"]), "values": Param(list[float]), "substitute": Param(dict[str, float])},
           recompute=f"{_CHECK}:recompute_arithmetic", recomputed_from="the registry's figures", paper_check=True),
    Family("out_of_scope", "claims this suite cannot measure, listed with their reason", None),
)}


def names() -> tuple[str, ...]:
    """Every family, in the table's order."""
    return tuple(FAMILIES)


def get(name: str) -> Family:
    """A family by name; an unknown one is a ClaimsError with the close names."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ClaimsError(f"unknown claim family {name!r}", did_you_mean(str(name), FAMILIES)) from None


def fine_tuned() -> tuple[str, ...]:
    """The families measured by fine-tuning (the accuracy claims: Tables 1 and 2)."""
    return tuple(name for name, family in FAMILIES.items() if family.fine_tuned)


def is_paper_check(name: str) -> bool:
    """Whether a family's rows check the paper against itself (False for a name the table lacks: read leniently)."""
    family = FAMILIES.get(name) if isinstance(name, str) else None
    return family is not None and family.paper_check


def is_cell(family: str, task: str | None, metric: str | None) -> bool:
    """Whether a row is one cell of the paper's Tables 1-2: a table_cells family, a task, not a comparison metric."""
    found = FAMILIES.get(family) if isinstance(family, str) else None  # a malformed row is named by the field check
    return found is not None and found.table_cells and task is not None and metric not in found.comparison_metrics


def cell_metric(task: TaskSpec | str, metric: str | None = None) -> str:
    """The metric a cell of the paper's tables is read with: the one named, else its task's paper metric (the one place
    that default is written); a named metric that fills no cell of the task is a ClaimsError."""
    spec = get_task(task) if isinstance(task, str) else task
    chosen = metric or spec.paper_metric
    if chosen not in spec.paper_metrics:
        raise ClaimsError(f"{spec.name}: {chosen!r} fills no cell of the paper", f"use one of {', '.join(spec.paper_metrics)}")
    return chosen


def resolve(dotted: str) -> Callable[..., Any]:
    """The object a "module:attribute.attribute" name of the table names, imported now."""
    module_name, _, attributes = dotted.partition(":")
    found: Any = importlib.import_module(module_name)
    for attribute in attributes.split("."):
        found = getattr(found, attribute)
    return found
