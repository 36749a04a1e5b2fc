"""The run's results.json: written from the Verdicts the plugin keeps, and read back into the same types.

ClaimResult is what the plugin keeps for one claim test: the registry row (Claim), its Verdict, the
details the test recorded and the pytest outcome. `build` gathers a run's ClaimResults into a
RunResults, `write` stores it atomically as results.json, and `read` is the one place a results.json is
parsed: it checks the file and its schema version, then turns each entry back into a Claim and a
Verdict, leniently (a missing key, or a value that is not a finite number where a number belongs,
reads as absent), so the report and the plots use attributes and never check a dict. This module
neither judges (harness.judge.verdict) nor draws or writes the report (harness.reporting.report).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ClaimsError
from harness.files import atomic_write_text
from harness.judge.uncertainty import Uncertainty
from harness.judge.verdict import Interval, Status, Verdict
from harness.spec import families, tasks
from harness.spec.registry import MODEL_LABELS, TOLERANCE_KINDS, Claim, Registry, SeedSpread, Tolerance

SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"
REWRITE = "rerun the claims to write it again (results.json is written by the suite, not by hand)"


def finite_number(value: Any) -> float | None:
    """A finite number as it is, or None for a missing, non-numeric or non-finite value (the lenient reading)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return value


def _text(value: Any, default: str | None = "") -> str | None:
    return default if value is None else str(value)


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


PAPER_CHECK_OUTCOMES = {Status.REPRODUCED: "holds", Status.NOT_REPRODUCED: "does not hold"}


def kind_of(claim: Claim) -> str:
    """'paper check' for a family that checks the paper against itself (harness.spec.families), counted apart from the
    claims; else 'claim' (what is reproduced or not)."""
    return "paper check" if families.is_paper_check(claim.family) else "claim"


def check_outcome(status: Status) -> str:
    """A paper check's result in words: holds, does not hold, or its status (skipped, error)."""
    return PAPER_CHECK_OUTCOMES.get(status, status.value)


def _band_json(tolerance: Tolerance | None, interval: Interval | None) -> dict[str, Any] | None:
    """A tolerance as results.json holds it: JSON has no infinity, so an open side is null."""
    if tolerance is None:
        return None
    bounds = None if interval is None else [None if math.isinf(x) else x for x in interval]
    return {"kind": tolerance.kind, "value": tolerance.value, "interval": bounds}


def _band_of(raw: Any) -> tuple[Tolerance | None, Interval | None]:
    """The band and its interval from results.json (null sides open); None for what is missing or malformed."""
    if not isinstance(raw, dict):
        return None, None
    kind, value, bounds = raw.get("kind"), finite_number(raw.get("value")), raw.get("interval")
    band = Tolerance(kind, value) if kind in TOLERANCE_KINDS and value is not None else None
    if not isinstance(bounds, list) or len(bounds) != 2:
        return band, None
    low, high = (finite_number(x) for x in bounds)
    return band, (-math.inf if low is None else low, math.inf if high is None else high)


@dataclass(frozen=True)
class ClaimResult:
    """What one claim test produced: the claim, its verdict, the details behind it and the pytest outcome."""

    claim: Claim
    nodeid: str
    verdict: Verdict
    details: dict[str, Any] = field(default_factory=dict)
    outcome: str = ""  # the pytest outcome: passed, failed, xfailed, skipped, or "not run"
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """The claim's entry of results.json (its keys in this order)."""
        claim, verdict = self.claim, self.verdict
        uncertainty = verdict.uncertainty
        seeds = uncertainty.seeds if uncertainty and uncertainty.seeds else None
        return {
            "id": claim.id, "version": claim.version, "kind": kind_of(claim), "family": claim.family, "model": claim.model,
            "task": claim.task, "statement": claim.statement, "source": claim.source, "metric": claim.metric,
            "metric_reason": claim.metric_reason, "unit": claim.unit, "paper_value": verdict.paper_value,
            "measured": verdict.measured, "delta": verdict.delta,
            "interval": None if verdict.interval is None else list(verdict.interval),
            "seeds": None if seeds is None else {"valid": seeds.get("valid"), "invalid": seeds.get("invalid")},
            "tolerance": _band_json(claim.tolerance, verdict.tolerance_interval),
            "tolerance_reason": claim.tolerance_reason,
            "seed_spread": None if claim.seed_spread is None else {"sigma": claim.seed_spread.sigma,
                                                                   "seeds": claim.seed_spread.seeds,
                                                                   "source": claim.seed_spread.source},
            "paper_seeds": claim.paper_seeds, "known_discrepancy": claim.known_discrepancy,
            "out_of_scope": claim.out_of_scope, "notes": claim.notes, "params": claim.params,
            "verdict": verdict.status.value, "message": verdict.message, "not_judged": verdict.not_judged,
            "uncertainty": None if uncertainty is None else uncertainty.to_json(),
            "outcome": self.outcome, "nodeid": self.nodeid, "duration_s": round(self.duration_s, 3), "details": self.details,
        }

    @classmethod
    def from_json(cls, raw: Any, where: str) -> ClaimResult:
        """An entry of results.json, read leniently: only a string id and a known verdict are required."""
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not isinstance(raw.get("verdict"), str):
            raise ClaimsError(f"{where} lacks a string 'id' or 'verdict'", REWRITE)
        if raw["verdict"] not in {status.value for status in Status}:
            raise ClaimsError(f"{where} has the unknown verdict {raw['verdict']!r}; known: "
                              f"{', '.join(status.value for status in Status)}", REWRITE)
        tolerance, tolerance_interval = _band_of(raw.get("tolerance"))
        spread = _mapping(raw.get("seed_spread"))
        seeds = spread.get("seeds")
        seed_spread = SeedSpread(spread["sigma"], _text(spread.get("source")),
                                 seeds if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds >= 2 else 2) \
            if finite_number(spread.get("sigma")) is not None else None
        paper_seeds = raw.get("paper_seeds")
        text = {name: _text(raw.get(name)) for name in ("family", "statement", "source", "metric", "metric_reason", "unit",
                                                          "tolerance_reason", "notes")}
        optional = {name: _text(raw.get(name), None) for name in ("model", "task", "known_discrepancy", "out_of_scope")}
        version = raw.get("version")
        claim = Claim(id=raw["id"], version=version if isinstance(version, int) else 0, **text, **optional,
                      marker="",  # results.json does not record the pytest marker
                      paper_value=finite_number(raw.get("paper_value")), tolerance=tolerance, seed_spread=seed_spread,
                      paper_seeds=paper_seeds if isinstance(paper_seeds, int) and not isinstance(paper_seeds, bool) else 1,
                      params=_mapping(raw.get("params")))
        verdict = Verdict(claim.id, Status(raw["verdict"]), claim.paper_value, finite_number(raw.get("measured")),
                          tolerance_interval, _text(raw.get("message")), Uncertainty.from_json(raw.get("uncertainty")),
                          _text(raw.get("not_judged"), None))
        return cls(claim, _text(raw.get("nodeid")), verdict, _mapping(raw.get("details")), _text(raw.get("outcome")),
                   finite_number(raw.get("duration_s")) or 0.0)

    @property
    def summary(self) -> str | None:
        """The claim's own one-line account of what it measured (its details' `summary`), if it left one."""
        summary = self.details.get("summary")
        return summary if isinstance(summary, str) and summary else None

    @property
    def seconds(self) -> dict[str, float]:
        """Each model's measured seconds (a speed claim's details' `seconds`); {} where none."""
        return {str(model): value for model, value in _mapping(self.details.get("seconds")).items()
                if finite_number(value) is not None}

    @property
    def variant(self) -> str:
        """The model column of Tables 1-3: bert, distilbert, distilbert_d (the id's last part), else the row's model."""
        last = self.claim.id.rsplit(".", 1)[-1]
        return last if last in MODEL_LABELS else self.claim.model or "both"

    @property
    def task_name(self) -> str:
        """The task's display name (harness/spec/tasks.yaml: CoLA, SST-2, ...), or the task as written."""
        spec = tasks.load_tasks().get(self.claim.task or "")
        return spec.display_name if spec else str(self.claim.task)


def not_run(claim: Claim, reason: str) -> ClaimResult:
    """A registry claim that no test of this run judged (deselected, out of scope, no test): skipped, with why."""
    return ClaimResult(claim, nodeid="", verdict=Verdict.skipped(claim, reason), outcome="not run")


@dataclass(frozen=True)
class Reference:
    """A row reported by others and never run here (ELMo's figures, a published reproduction)."""

    id: str | None
    source: str | None
    model: str | None
    note: str | None
    values: dict[str, float | None]

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Reference:
        return cls(*(_text(raw.get(key), None) for key in ("id", "source", "model", "note")),
                   {str(key): finite_number(value) for key, value in _mapping(raw.get("values")).items()})

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "model": self.model, "note": self.note, "values": self.values}


@dataclass(frozen=True)
class RunResults:
    """A whole results.json: its fixed keys (these fields, in this order), every claim in registry order, the references."""

    created: str | None
    paper: dict[str, Any]
    registry: dict[str, Any]
    environment: dict[str, Any]
    options: dict[str, Any]
    summary: dict[str, int]
    claims: tuple[ClaimResult, ...]
    references: tuple[Reference, ...]

    def family(self, *families: str) -> list[ClaimResult]:
        return [result for result in self.claims if result.claim.family in families]

    def reference(self, reference_id: str) -> dict[str, float | None]:
        """The values of one reference row (ELMo's), or {} when absent."""
        return next((r.values for r in self.references if r.id == reference_id), {})

    @property
    def paper_checks(self) -> dict[str, int]:
        """The checks of the paper's own arithmetic, by outcome (holds, does not hold, skipped, ...): not claims."""
        counts: dict[str, int] = {}
        for result in self.claims:
            if kind_of(result.claim) == "paper check":
                outcome = check_outcome(result.verdict.status)
                counts[outcome] = counts.get(outcome, 0) + 1
        return dict(sorted(counts.items()))

    @property
    def revisions(self) -> dict[str, dict[str, Any]]:
        """The commit each Hub checkpoint and dataset of the run resolved to, its revision and where it was read (or why
        the commit is unknown): the `revisions` the claims' details carry (harness.measure.finetune.identity.revisions)."""
        found: dict[str, dict[str, Any]] = {"checkpoints": {}, "datasets": {}}

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                for key, item in value.items():
                    if key == "revisions" and isinstance(item, dict):
                        for kind, known in found.items():
                            known.update(item.get(kind) or {})
                    else:
                        walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        for result in self.claims:
            walk(result.details)
        return found

    def to_json(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "created": self.created, "paper": self.paper, "registry": self.registry,
                "environment": self.environment, "options": self.options, "summary": self.summary,
                "paper_checks": self.paper_checks, "revisions": self.revisions,
                "claims": [result.to_json() for result in self.claims],
                "references": [reference.to_json() for reference in self.references]}


def verdict_counts(claims: list[ClaimResult] | tuple[ClaimResult, ...]) -> dict[str, int]:
    """results.json's `summary`: a count per verdict of the claims, the paper checks apart (RunResults.paper_checks)."""
    counts: dict[str, int] = {}
    for result in claims:
        if kind_of(result.claim) != "paper check":
            counts[result.verdict.status.value] = counts.get(result.verdict.status.value, 0) + 1
    return dict(sorted(counts.items()))


def build(results: list[ClaimResult], registry: Registry, environment: dict[str, Any], options: dict[str, Any]) -> RunResults:
    """The results of a run: every claim in registry order (then node id), a count per verdict of the claims (the
    paper checks are counted apart: RunResults.paper_checks), the references."""
    order = {claim.id: i for i, claim in enumerate(registry.claims)}
    claims = sorted(results, key=lambda result: (order.get(result.claim.id, len(order)), result.nodeid))
    return RunResults(_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), registry.paper,
                      {"path": str(registry.path), "sha256": registry.sha256,
                       "claim_versions": {c.id: c.version for c in registry.claims}},
                      environment, options, verdict_counts(claims), tuple(claims),
                      tuple(Reference.from_json(reference) for reference in registry.references))


def write(run_dir: Path, run: RunResults) -> Path:
    """Write results.json into the run directory, atomically."""
    path = Path(run_dir) / RESULTS_FILE
    atomic_write_text(path, json.dumps(run.to_json(), indent=2, sort_keys=False, default=str) + "\n")
    return path


def read(path: str | Path) -> RunResults:
    """Read a results.json (or the one in a run directory): its schema version checked, each claim a ClaimResult."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        raise ClaimsError(f"no results file at {path}", "pass a run directory written by a claims run (reports/<timestamp>)")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ClaimsError(f"{path} is not valid JSON ({error})", "rerun the claims to write it again") from None
    except UnicodeDecodeError as error:
        raise ClaimsError(f"{path} is not UTF-8 text (byte {error.start}): not a results.json", REWRITE) from None
    except RecursionError:
        raise ClaimsError(f"{path} nests its JSON too deeply to be a results.json", REWRITE) from None
    except OSError as error:
        raise ClaimsError(f"{path} cannot be read ({error.strerror})", "check the file's permissions") from None
    found = document.get("schema_version") if isinstance(document, dict) else None
    if found != SCHEMA_VERSION:
        raise ClaimsError(f"{path} has results schema version {found!r}; this harness reads version {SCHEMA_VERSION}",
                          "rerun the claims with this version of the suite to write a current results.json")
    if not isinstance(document.get("claims"), list):
        raise ClaimsError(f"{path} has no 'claims' list", "rerun the claims to write it again")
    for key, kind in (("paper", dict), ("registry", dict), ("environment", dict), ("options", dict), ("summary", dict),
                      ("references", list)):
        if not isinstance(document.get(key, kind()), kind):
            raise ClaimsError(f"{path}: '{key}' is not a {kind.__name__}", REWRITE)
    return RunResults(
        _text(document.get("created"), None), document.get("paper", {}), document.get("registry", {}),
        document.get("environment", {}), document.get("options", {}), document.get("summary", {}),
        tuple(ClaimResult.from_json(raw, f"{path}: claims[{index}]") for index, raw in enumerate(document["claims"])),
        tuple(Reference.from_json(raw) for raw in document.get("references", []) if isinstance(raw, dict)))
