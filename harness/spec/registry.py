"""Load and validate the claim registry (claims/registry.yaml): every claim of the paper as a row.

A row (the paper's wording and source, value, metric, tolerance and the reasons for each) is merged
from its family's `defaults`, the template it `include`s (lm-evaluation-harness style) and its own
fields; a cell of Table 1 or 2 takes its metric from its task (tasks.yaml); the families, their `params`
and which rows are cells are harness.spec.families' table, read here. The claim tests are parametrized
over the rows (harness.plugin). This module only reads and checks; judging is harness.judge.verdict's job.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn, get_args, get_origin

from harness.errors import ClaimsError, did_you_mean
from harness.files import file_sha256, read_yaml
from harness.paths import CLAIMS_DIR
from harness.spec import families, registry_document
from harness.spec.families import METRICS
from harness.spec.tasks import get_task, task_names

SCHEMA_VERSION = 1
DEFAULT_REGISTRY = CLAIMS_DIR / "registry.yaml"

MARKERS = ("size", "speed", "slow", "paper")
MODELS = ("bert", "distilbert", "both")
# How the report and the statements name each model (DistilBERT (D): the SQuAD job distilled from BERT).
MODEL_LABELS = {"bert": "BERT-base", "distilbert": "DistilBERT", "distilbert_d": "DistilBERT (D)", "both": "both models"}
TOLERANCE_KINDS = ("absolute", "relative", "at_least", "at_most")
ID_PATTERN = re.compile(r"[a-z0-9_.]+")  # a claim id: lower-case letters, digits, _ and . (glue.cola.bert)


EDGE = 1e-12  # a value exactly on a tolerance's edge is inside it


@dataclass(frozen=True)
class Tolerance:
    """How far a measurement may sit from the paper's value: |m - p| <= value, or one-sided."""

    kind: str
    value: float

    def allows(self, paper: float, measured: Any) -> Any:
        """Whether a measurement (a float, or a numpy array of them) lies within the tolerance of the paper's value."""
        low, high = self.interval(paper)
        return (measured >= low - EDGE) & (measured <= high + EDGE)

    def interval(self, paper: float) -> tuple[float, float]:
        """The accepted interval around the paper's value (inf where one-sided)."""
        if self.kind == "absolute":
            return paper - self.value, paper + self.value
        if self.kind == "relative":
            return paper - self.value * abs(paper), paper + self.value * abs(paper)
        if self.kind == "at_least":
            return paper - self.value, math.inf
        return -math.inf, paper + self.value  # at_most

    def describe(self) -> str:
        return {
            "absolute": f"±{self.value:g}",
            "relative": f"±{100 * self.value:g}%",
            "at_least": f"at least paper - {self.value:g}",
            "at_most": f"at most paper + {self.value:g}",
        }[self.kind]


@dataclass(frozen=True)
class SeedSpread:
    """A published seed-to-seed standard deviation of a cell (points), with where it was read and how many seeds it
    came from (its seeds - 1 degrees of freedom): a prior for the judge (harness.judge.noise)."""

    sigma: float
    source: str
    seeds: int = 2  # a spread of unstated provenance counts as the least informative one (1 degree of freedom)


@dataclass(frozen=True)
class Claim:
    """One row of the registry, merged from its family's defaults, its template and its own fields."""

    id: str
    version: int
    family: str
    statement: str
    source: str
    metric: str
    metric_reason: str
    marker: str
    paper_value: float | None = None
    unit: str = ""
    model: str | None = None
    task: str | None = None
    tolerance: Tolerance | None = None
    tolerance_reason: str = ""
    seed_spread: SeedSpread | None = None  # the prior seed spread of a cell (harness.judge.noise); None: no source
    paper_seeds: int = 1  # the runs the paper's figure summarises (Table 1: the median of 5)
    known_discrepancy: str | None = None
    out_of_scope: str | None = None
    notes: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Registry:
    """The parsed registry file: the claims, and reference rows that are reported but never run."""

    path: Path
    paper: dict[str, Any]
    claims: tuple[Claim, ...]
    references: tuple[dict[str, Any], ...]
    sha256: str | None = None  # the file's content digest, recorded in results.json (check finds the registry by it)

    def family(self, *families: str) -> list[Claim]:
        return [c for c in self.claims if c.family in families]

    def get(self, claim_id: str) -> Claim:
        for claim in self.claims:
            if claim.id == claim_id:
                return claim
        raise ClaimsError(f"no claim {claim_id!r} in {self.path}", did_you_mean(claim_id, [c.id for c in self.claims]))


# The type of every field a row may hold (a typing form; Tolerance: a {kind, value} mapping).
_FIELDS: dict[str, Any] = {
    "id": str, "version": int, "family": Literal[families.names()], "statement": str, "source": str,
    "metric": Literal[tuple(METRICS)], "metric_reason": str, "marker": Literal[MARKERS], "paper_value": float,
    "unit": str, "model": Literal[MODELS], "task": Literal[tuple(task_names())], "tolerance": Tolerance,
    "tolerance_reason": str, "seed_spread": SeedSpread, "paper_seeds": int, "known_discrepancy": str, "out_of_scope": str, "notes": str,
    "params": dict[str, Any],
}
_KIND = Literal[TOLERANCE_KINDS]
_REQUIRED = ("id", "version", "family", "statement", "source", "metric", "metric_reason", "marker")
_BLOCK_FIELDS = tuple(name for name in _FIELDS if name not in ("id", "family"))  # what defaults and templates may set


def _problem(value: Any, kind: Any) -> str | None:
    """Why `value` is not of `kind` (a type, Literal, list[...] or dict[..., ...]), or None when it is."""
    origin, args = get_origin(kind), get_args(kind)
    if origin is Literal:
        return None if value in args else f"unknown value {value!r}; {did_you_mean(str(value), args)}"
    if kind is Any:
        return None
    if origin in (list, dict):
        if not isinstance(value, origin):
            return f"expected {str(kind).replace('typing.', '')}, got {type(value).__name__} {value!r}"
        pairs = [(v, args[0]) for v in value] if origin is list else \
            [pair for k, v in value.items() for pair in ((k, args[0]), (v, args[1]))]
        return next((problem for v, k in pairs if (problem := _problem(v, k))), None)
    if isinstance(value, bool) and kind is not bool or not isinstance(value, (int, float) if kind is float else kind):
        return f"expected {kind.__name__}, got {type(value).__name__} {registry_document.shorten(repr(value), 60)}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"expected a finite number, got {value}"
    return None


class _Block:
    """One mapping of the file (a row, a family's defaults, a template): its fields checked, errors naming it."""

    def __init__(self, path: Path, label: str, raw: Any, allowed: tuple[str, ...]):
        self.path, self.label = path, label
        self.raw: dict[str, Any] = raw if isinstance(raw, dict) else {}
        if not isinstance(raw, dict):
            self.fail("", f"expected a mapping of fields, got {type(raw).__name__}")
        for name in self.raw:
            if name not in allowed:
                self.fail(str(name), f"unknown field; {did_you_mean(str(name), allowed)}")
        self.values = {name: self._value(name) for name in _FIELDS if self.raw.get(name) is not None}

    def fail(self, name: str, problem: str) -> NoReturn:
        ident = self.raw.get("id")
        where = f"{self.path}, {self.label}" + (f" (id {registry_document.shorten(repr(ident), 60)})" if isinstance(ident, str) else "")
        raise ClaimsError(f"{where}{f', field {name!r}' if name else ''}: {registry_document.shorten(problem, 300)}",
                          f"correct {self.label} of the registry (see its header for the schema)")

    def _value(self, name: str) -> Any:
        value, kind = self.raw[name], _FIELDS[name]
        if kind is Tolerance:
            return self._tolerance(name, value)
        if kind is SeedSpread:
            return self._seed_spread(name, value)
        if problem := _problem(value, kind):
            self.fail(name, problem)
        return float(value) if kind is float else value

    def _tolerance(self, name: str, raw: Any) -> Tolerance:
        if problem := _problem(raw, dict[str, Any]):
            self.fail(name, problem)
        if problem := _problem(raw.get("kind"), _KIND):
            self.fail(f"{name}.kind", problem)
        if _problem(value := raw.get("value"), float) or value < 0:
            self.fail(f"{name}.value", f"expected a non-negative number (finite), got {registry_document.shorten(repr(value), 60)}")
        return Tolerance(raw["kind"], float(value))

    def _seed_spread(self, name: str, raw: Any) -> SeedSpread:
        """{sigma: > 0, seeds: >= 2, source: where it was published}: a prior without its source or the number of seeds
        it came from is refused (never invent a figure)."""
        if problem := _problem(raw, dict[str, Any]):
            self.fail(name, problem)
        unknown = sorted(set(raw) - {"sigma", "seeds", "source"})
        if unknown:
            self.fail(f"{name}.{unknown[0]}", "unknown key; a seed_spread has sigma, seeds and source")
        if _problem(sigma := raw.get("sigma"), float) or sigma <= 0:
            self.fail(f"{name}.sigma", f"expected a positive number of points, got {sigma!r}")
        if not isinstance(source := raw.get("source"), str) or not source.strip():
            self.fail(f"{name}.source", "missing: say where the spread was published")
        if _problem(seeds := raw.get("seeds"), int) or seeds < 2:
            self.fail(f"{name}.seeds", f"expected the number of seeds the spread was measured from (at least 2), got {seeds!r}")
        return SeedSpread(float(sigma), " ".join(source.split()), int(seeds))


@dataclass(frozen=True)
class _Shared:
    """The registry's shared blocks: each family's defaults and the named templates rows include."""

    defaults: dict[str, _Block] = field(default_factory=dict)
    templates: dict[str, _Block] = field(default_factory=dict)

    def layers(self, block: _Block) -> list[_Block]:
        """What a block is merged from, first to last: its family's defaults, its chain of templates, itself."""
        chain, seen = [block], set()
        while (name := chain[-1].raw.get("include")) is not None:
            if not isinstance(name, str) or name not in self.templates:
                chain[-1].fail("include", f"unknown template {name!r}; {did_you_mean(str(name), self.templates)}")
            if name in seen:
                chain[-1].fail("include", f"template {name!r} includes itself")
            seen.add(name)
            chain.append(self.templates[name])
        family = self.defaults.get(block.raw.get("family"))
        return ([family] if family else []) + chain[::-1]


def _shared(path: Path, document: dict[str, Any]) -> _Shared:
    """Parse and check the `defaults` and `templates` blocks; an error names the block."""
    blocks = {key: document.get(key) or {} for key in ("defaults", "templates")}
    if not all(isinstance(block, dict) for block in blocks.values()):
        raise ClaimsError(f"{path}: 'defaults' and 'templates' must map names to fields", "see claims/registry.yaml's header")
    defaults = {family: _Block(path, f"defaults {family!r}", raw, _BLOCK_FIELDS) for family, raw in blocks["defaults"].items()}
    for family, block in defaults.items():
        if family not in families.FAMILIES:
            block.fail("", f"unknown family; {did_you_mean(str(family), families.FAMILIES)}")
    templates = {name: _Block(path, f"template {name!r}", raw, (*_BLOCK_FIELDS, "include"))
                 for name, raw in blocks["templates"].items()}
    shared = _Shared(defaults, templates)
    for template in templates.values():
        shared.layers(template)  # an unknown or circular include names the template
    return shared


def _take_task_metric(row: _Block, merged: dict[str, Any]) -> None:
    """A cell's metric is its task's paper metric (families.cell_metric); a metric the row names must be one of them."""
    family, task, metric = merged.get("family"), merged.get("task"), merged.get("metric")
    if not isinstance(task, str) or task not in task_names() or not families.is_cell(family, task, metric):
        return  # not a cell (an unknown task is named by the field check)
    spec = get_task(task)
    try:
        merged["metric"] = families.cell_metric(spec, metric)
    except ClaimsError:
        row.fail("metric", f"{metric!r} fills no cell of task {task!r}: its paper metrics are "
                           f"{', '.join(spec.paper_metrics)} (leave metric out to take {spec.paper_metric!r})")
    if metric is None:
        merged.setdefault("metric_reason", spec.paper_metric_reason or None)


def _params(claim: _Block, layers: list[_Block]) -> dict[str, Any]:
    """The merged params, checked against the family's (harness.spec.families); an error names the block that set the key."""
    family = claim.values["family"]
    schema, params = families.get(family).params, dict(claim.values.get("params", {}))
    for key, value in params.items():
        origin = next(layer for layer in reversed(layers) if key in (layer.raw.get("params") or {}))
        if key not in schema:
            known = f"{family} rows read {did_you_mean(str(key), schema)}" if schema else f"{family} rows read no params"
            origin.fail(f"params.{key}", f"unknown key; {known}")
        if problem := _problem(value, schema[key].kind):
            origin.fail(f"params.{key}", problem)
    for key, param in ((k, p) for k, p in schema.items() if k not in params):
        if param.required:
            claim.fail(f"params.{key}", "missing (required)")
        if param.default is not None:
            params[key] = copy.deepcopy(param.default)
    return params


def _statement(claim: _Block) -> str:
    """The row's statement, a template filled with {model}, {task} and {paper_value} where it has them."""
    text, values = claim.values["statement"], claim.values
    fill = {"model": MODEL_LABELS.get(values.get("model")), "paper_value": values.get("paper_value"),
            "task": get_task(values["task"]).display_name if values.get("task") else None}
    try:
        return text.format_map({k: v for k, v in fill.items() if v is not None}) if "{" in text else text
    except KeyError as error:
        claim.fail("statement", f"cannot fill {{{error.args[0]}}}: this row does not set it (a statement may use {{model}}, "
                                "{task}, {paper_value} where the row has them)")
    except (ValueError, IndexError, TypeError) as error:
        claim.fail("statement", f"cannot fill {text!r} ({error!r}): a statement may use {{model}}, {{task}}, {{paper_value}}")


def parse_claim(path: Path, index: int, raw: Any, shared: _Shared | None = None) -> Claim:
    """Validate one raw row merged with its defaults and template, and build its Claim; errors name the row."""
    row = _Block(path, f"claim #{index + 1}", raw, (*_FIELDS, "include"))
    layers = (shared or _Shared()).layers(row)
    # A later layer replaces a field whole; params merge key by key.
    merged = {name: value for layer in layers for name, value in layer.raw.items() if name != "include"}
    merged["params"] = {key: value for layer in layers for key, value in (layer.raw.get("params") or {}).items()}
    _take_task_metric(row, merged)
    claim_block = _Block(path, row.label, merged, tuple(_FIELDS))
    for name in _REQUIRED:
        if name not in claim_block.values:
            claim_block.fail(name, "missing (required)")
    if not ID_PATTERN.fullmatch(claim_block.values["id"]):
        row.fail("id", f"{registry_document.shorten(repr(claim_block.values['id']), 60)} has characters outside [a-z0-9_.] "
                       "(ids name pytest's test ids and the report's anchors)")
    if claim_block.values.get("out_of_scope") is None and claim_block.values.get("paper_value") is None:
        row.fail("paper_value", "missing: a claim in scope needs the paper's value")  # before the statement that may use it
    claim = Claim(**claim_block.values | {"statement": _statement(claim_block), "params": _params(claim_block, layers)})
    if claim.out_of_scope is None:
        if claim.tolerance is None or not claim.tolerance_reason:
            row.fail("tolerance" if claim.tolerance is None else "tolerance_reason", "missing: a claim in scope needs a tolerance and its rationale")
    if claim.paper_seeds < 1:
        row.fail("paper_seeds", f"expected at least 1 run, got {claim.paper_seeds}")
    return claim


def _expand_spread_sources(path: Path, document: dict[str, Any]) -> None:
    """A seed_spread whose `source` names a reference of the registry (`references`) and adds a `note` reads as that
    reference's note and source followed by the note: one published reproduction is written once, however many cells
    take their spread from it."""
    references = {ref.get("id"): ref for ref in document.get("references") or () if isinstance(ref, dict)}
    blocks = [*(document.get("templates") or {}).values(), *document["claims"]]
    for block in blocks:
        spread = block.get("seed_spread") if isinstance(block, dict) else None
        if not isinstance(spread, dict) or "note" not in spread:
            continue
        reference = references.get(spread.get("source"))
        if reference is None:
            raise ClaimsError(f"{path}, seed_spread with source {registry_document.shorten(repr(spread.get('source')), 60)}: "
                              "a `note` needs `source` to name a reference of the registry",
                              f"name one of {', '.join(map(str, references)) or 'no references'} or write the source out")
        text = " ".join(str(reference.get("note", "")).split())
        spread["source"] = f"{text.rstrip('.')} ({reference.get('source')}, {reference['id']}): {spread.pop('note')}"


def load(path: str | Path = DEFAULT_REGISTRY) -> Registry:
    """Read and validate a registry file; raise ClaimsError naming the row (or block) and field of any problem."""
    path = Path(path)
    document = read_yaml(path, "claim registry", "pass an existing registry file with --registry")
    registry_document.bound_aliases(path)
    if not isinstance(document, dict) or not isinstance(document.get("claims"), list):
        raise ClaimsError(f"{path}: expected a mapping with a 'claims' list", "see claims/registry.yaml for the layout")
    if document.get("schema_version") != SCHEMA_VERSION:
        raise ClaimsError(f"{path}: schema_version {document.get('schema_version')!r}, this harness reads {SCHEMA_VERSION}",
                          "update the registry to the current schema")
    registry_document.check(path, document)
    _expand_spread_sources(path, document)
    shared = _shared(path, document)
    claims = tuple(parse_claim(path, i, raw, shared) for i, raw in enumerate(document["claims"]))
    registry_document.check(path, document, "claims")  # what the rows' fields did not name (params)
    ids = [claim.id for claim in claims]
    for i, claim_id in enumerate(ids):
        if claim_id in ids[:i]:
            raise ClaimsError(f"{path}, claim #{i + 1}, field 'id': duplicate id {claim_id!r}", "give every row its own id")
    return Registry(path, document.get("paper", {}), claims, tuple(document.get("references") or ()), file_sha256(path))
