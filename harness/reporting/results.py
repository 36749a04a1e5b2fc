"""The run's results.json: every claim with its paper value, measurement, tolerance and verdict.

Written atomically (a temporary file, then os.replace) into the run's report directory, with the
environment and the options that produced it, and read back (schema-checked) by the report builder.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import ClaimsError
from harness.files import atomic_write_text
from harness.spec.registry import Claim, Registry

SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"


@dataclass
class ClaimResult:
    """What one claim test produced: the verdict status, the measurement and the details behind it."""

    claim: Claim
    nodeid: str
    status: str  # reproduced | not reproduced | inconclusive | skipped | error
    measured: float | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    outcome: str = ""  # the pytest outcome: passed, failed, xfailed, skipped
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        claim = self.claim
        tolerance = claim.tolerance
        return {
            "id": claim.id,
            "version": claim.version,
            "family": claim.family,
            "model": claim.model,
            "task": claim.task,
            "statement": claim.statement,
            "source": claim.source,
            "metric": claim.metric,
            "metric_reason": claim.metric_reason,
            "unit": claim.unit,
            "paper_value": claim.paper_value,
            "measured": self.measured,
            "delta": None if self.measured is None or claim.paper_value is None else self.measured - claim.paper_value,
            "tolerance": None if tolerance is None else {"kind": tolerance.kind, "value": tolerance.value,
                                                          "interval": _finite(tolerance.interval(claim.paper_value))},
            "noise_band": None if claim.noise_band is None else {"kind": claim.noise_band.kind, "value": claim.noise_band.value,
                                                                 "interval": _finite(claim.noise_band.interval(claim.paper_value))},
            "tolerance_reason": claim.tolerance_reason,
            "known_discrepancy": claim.known_discrepancy,
            "out_of_scope": claim.out_of_scope,
            "notes": claim.notes,
            "params": claim.params,
            "verdict": self.status,
            "message": self.message,
            "outcome": self.outcome,
            "nodeid": self.nodeid,
            "duration_s": round(self.duration_s, 3),
            "details": self.details,
        }


def _finite(interval: tuple[float, float]) -> list[float | None]:
    """JSON has no infinity: an open side of an interval is written as null."""
    return [None if math.isinf(x) else x for x in interval]


def not_run(claim: Claim, reason: str) -> ClaimResult:
    """A registry claim that no test of this run judged (deselected, out of scope, no test): skipped, with why."""
    return ClaimResult(claim, nodeid="", status="skipped", message=reason, outcome="not run")


def build(results: list[ClaimResult], registry: Registry, environment: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """The results document: fixed keys, then every claim in registry order, then the references."""
    order = {claim.id: i for i, claim in enumerate(registry.claims)}
    claims = sorted((r.to_json() for r in results), key=lambda entry: (order.get(entry["id"], len(order)), entry["nodeid"]))
    counts: dict[str, int] = {}
    for entry in claims:
        counts[entry["verdict"]] = counts.get(entry["verdict"], 0) + 1
    return {
        "schema_version": SCHEMA_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "paper": registry.paper,
        "registry": {"path": str(registry.path), "claim_versions": {c.id: c.version for c in registry.claims}},
        "environment": environment,
        "options": options,
        "summary": dict(sorted(counts.items())),
        "claims": claims,
        "references": list(registry.references),
    }


def write(run_dir: Path, document: dict[str, Any]) -> Path:
    """Write results.json into the run directory, atomically."""
    path = Path(run_dir) / RESULTS_FILE
    atomic_write_text(path, json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    return path


def read(path: str | Path) -> dict[str, Any]:
    """Read a results.json (or the one in a run directory) and check its schema version."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClaimsError(f"no results file at {path}", "pass a run directory written by a claims run (reports/<timestamp>)") from None
    except json.JSONDecodeError as error:
        raise ClaimsError(f"{path} is not valid JSON ({error})", "rerun the claims to write it again") from None
    if not isinstance(document, dict) or document.get("schema_version") != SCHEMA_VERSION:
        found = document.get("schema_version") if isinstance(document, dict) else None
        raise ClaimsError(f"{path} has results schema version {found!r}; this harness reads version {SCHEMA_VERSION}",
                          "rerun the claims with this version of the suite to write a current results.json")
    if not isinstance(document.get("claims"), list):
        raise ClaimsError(f"{path} has no 'claims' list", "rerun the claims to write it again")
    return document


def new_run_dir(reports_root: Path) -> Path:
    """reports/<UTC timestamp>/ (a suffix if taken), and reports/latest pointed at it."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    run_dir = reports_root / stamp
    suffix = 1
    while run_dir.exists():
        suffix += 1
        run_dir = reports_root / f"{stamp}-{suffix}"
    run_dir.mkdir(parents=True)
    link = reports_root / "latest"
    temporary = reports_root / f".latest.{os.getpid()}"
    try:
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(run_dir.name)
        os.replace(temporary, link)
    except OSError:  # file systems without symlinks: the timestamped folder is still there
        temporary.unlink(missing_ok=True)
    return run_dir
