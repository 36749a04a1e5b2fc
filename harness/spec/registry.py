"""Load and validate the claim registry (claims/registry.yaml): every claim of the paper as a row.

A row holds the paper's wording, where it is stated, the paper's value, the metric, the tolerance
and the reasons for each. The claim tests are parametrized over the rows (see harness.plugin), so
adding a claim is adding a row. This module only reads and checks; judging is harness.verdict's job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ClaimsError, did_you_mean
from harness.paths import CLAIMS_DIR
from harness.spec.tasks import task_names

SCHEMA_VERSION = 1
DEFAULT_REGISTRY = CLAIMS_DIR / "registry.yaml"

FAMILIES = ("size", "speed", "glue", "macro", "retention", "downstream", "paper_arithmetic", "out_of_scope")
MARKERS = ("size", "speed", "slow", "paper")
MODELS = ("bert", "distilbert", "both")
# How the report and the statements name each model (DistilBERT (D): the SQuAD job distilled from BERT).
MODEL_LABELS = {"bert": "BERT-base", "distilbert": "DistilBERT", "distilbert_d": "DistilBERT (D)", "both": "both models"}
TOLERANCE_KINDS = ("absolute", "relative", "at_least", "at_most")
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
_REQUIRED = ("id", "version", "family", "statement", "source", "metric", "metric_reason", "marker")


@dataclass(frozen=True)
class Tolerance:
    """How far a measurement may sit from the paper's value: |m - p| <= value, or one-sided."""

    kind: str
    value: float

    def allows(self, paper: float, measured: float) -> bool:
        low, high = self.interval(paper)
        return low - 1e-12 <= measured <= high + 1e-12

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
class Claim:
    """One row of the registry."""

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
    noise_band: Tolerance | None = None
    tolerance_reason: str = ""
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

    def family(self, *families: str) -> list[Claim]:
        return [c for c in self.claims if c.family in families]

    def get(self, claim_id: str) -> Claim:
        for claim in self.claims:
            if claim.id == claim_id:
                return claim
        raise ClaimsError(f"no claim {claim_id!r} in {self.path}", did_you_mean(claim_id, [c.id for c in self.claims]))



class _Row:
    """Field access on one raw row, with errors that name the file, the row and the field."""

    def __init__(self, path: Path, index: int, raw: Any):
        self.path, self.index = path, index
        if not isinstance(raw, dict):
            self.fail("", f"expected a mapping of fields, got {type(raw).__name__}")
        self.raw = raw

    def fail(self, name: str, problem: str) -> None:
        ident = self.raw.get("id") if isinstance(getattr(self, "raw", None), dict) else None
        where = f"{self.path}, claim #{self.index + 1}" + (f" (id {ident!r})" if ident else "")
        field_text = f", field {name!r}" if name else ""
        raise ClaimsError(f"{where}{field_text}: {problem}", "correct that row of the registry (see its header for the schema)")

    def get(self, name: str, kind: type | tuple[type, ...], required: bool = False, default: Any = None) -> Any:
        if name not in self.raw or self.raw[name] is None:
            if required:
                self.fail(name, "missing (required)")
            return default
        value = self.raw[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            self.fail(name, f"expected {getattr(kind, '__name__', kind)}, got {type(value).__name__} {value!r}")
        return value

    def choice(self, name: str, allowed: tuple[str, ...] | dict, required: bool = True) -> str | None:
        value = self.get(name, str, required=required)
        if value is not None and value not in allowed:
            self.fail(name, f"unknown value {value!r}; {did_you_mean(value, list(allowed))}")
        return value

    def tolerance(self, name: str) -> Tolerance | None:
        raw = self.get(name, dict)
        if raw is None:
            return None
        kind = raw.get("kind")
        if kind not in TOLERANCE_KINDS:
            self.fail(f"{name}.kind", f"unknown value {kind!r}; expected one of {', '.join(TOLERANCE_KINDS)}")
        value = raw.get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            self.fail(f"{name}.value", f"expected a non-negative number, got {value!r}")
        return Tolerance(kind, float(value))


def parse_claim(path: Path, index: int, raw: Any) -> Claim:
    """Validate one raw row and build its Claim; every problem names the row and the field."""
    row = _Row(path, index, raw)
    unknown = set(row.raw) - {f.name for f in Claim.__dataclass_fields__.values()}
    if unknown:
        row.fail(sorted(unknown)[0], f"unknown field; known fields: {', '.join(Claim.__dataclass_fields__)}")
    for name in _REQUIRED:
        row.get(name, object, required=True)
    claim = Claim(
        id=row.get("id", str, required=True),
        version=row.get("version", int, required=True),
        family=row.choice("family", FAMILIES),
        statement=row.get("statement", str, required=True),
        source=row.get("source", str, required=True),
        metric=row.choice("metric", METRICS),
        metric_reason=row.get("metric_reason", str, required=True),
        marker=row.choice("marker", MARKERS),
        paper_value=row.get("paper_value", float),
        unit=row.get("unit", str, default=""),
        model=row.choice("model", MODELS, required=False),
        task=row.choice("task", tuple(task_names()), required=False),
        tolerance=row.tolerance("tolerance"),
        noise_band=row.tolerance("noise_band"),
        tolerance_reason=row.get("tolerance_reason", str, default=""),
        known_discrepancy=row.get("known_discrepancy", str),
        out_of_scope=row.get("out_of_scope", str),
        notes=row.get("notes", str, default=""),
        params=row.get("params", dict, default={}),
    )
    if claim.out_of_scope is None:
        if claim.paper_value is None:
            row.fail("paper_value", "missing: a claim in scope needs the paper's value")
        if claim.tolerance is None or not claim.tolerance_reason:
            row.fail("tolerance" if claim.tolerance is None else "tolerance_reason", "missing: a claim in scope needs a tolerance and its rationale")
    if claim.noise_band and claim.tolerance and claim.noise_band.value < claim.tolerance.value:
        row.fail("noise_band.value", "the noise band must be at least as wide as the tolerance")
    return claim


def load(path: str | Path = DEFAULT_REGISTRY) -> Registry:
    """Read and validate a registry file; raise ClaimsError naming the row and field of any problem."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClaimsError(f"claim registry not found: {path}", "pass an existing file with --registry") from None
    except yaml.YAMLError as error:
        raise ClaimsError(f"{path} is not valid YAML: {error}", "fix the YAML syntax at the line shown") from None
    if not isinstance(document, dict) or not isinstance(document.get("claims"), list):
        raise ClaimsError(f"{path}: expected a mapping with a 'claims' list", "see claims/registry.yaml for the layout")
    if document.get("schema_version") != SCHEMA_VERSION:
        raise ClaimsError(
            f"{path}: schema_version {document.get('schema_version')!r}, this harness reads {SCHEMA_VERSION}",
            "update the registry to the current schema",
        )
    claims = tuple(parse_claim(path, i, raw) for i, raw in enumerate(document["claims"]))
    seen: set[str] = set()
    for i, claim in enumerate(claims):
        if claim.id in seen:
            raise ClaimsError(f"{path}, claim #{i + 1}, field 'id': duplicate id {claim.id!r}", "give every row its own id")
        seen.add(claim.id)
    return Registry(path, document.get("paper", {}), claims, tuple(document.get("references") or ()))
