"""What differs between runs' settings: environment, options, registry row versions, and what their claims recorded.

Each run's results.json is flattened into named settings (`environment.libraries.torch`, `options.protocol`,
`registry row version.glue.cola.bert`, and from each measured claim's details every checkpoint, revision, content
digest and thread count it recorded: `speed.cpu.stsb_speedup: threads`), so whatever a run records, today or in a
later version of the suite (checkpoint and dataset revisions), is compared without a list to keep up to date; a value
a run lacks reads "not recorded". The environment's date and the report folder are left out: they differ between any
two runs. A claim's own settings are compared between the runs that measured it. This module only reads.
"""

from __future__ import annotations

import re
from typing import Any

from harness.reporting.results import RunResults

IGNORED_OPTIONS = ("report_dir",)  # differs between any two runs and says nothing of them
RECORDED_KEYS = re.compile(r"revision|sha256|digest|commit|checkpoint$|^threads$")  # what a claim's details say of its inputs


def settings_of(results: RunResults) -> dict[str, str]:
    """A run's environment, options, registry row versions and what its claims recorded of their inputs, flattened."""
    found: dict[str, str] = {}

    def flatten(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                flatten(f"{prefix}.{key}", inner)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for index, inner in enumerate(value):
                flatten(f"{prefix}[{index}]", inner)
        else:
            found[prefix] = "not recorded" if value is None else str(value)

    for key, value in results.environment.items():
        if key != "date":
            flatten(f"environment.{key}", value)
    for key, value in results.options.items():
        if key not in IGNORED_OPTIONS:
            flatten(f"options.{key}", value)
    versions = (results.registry or {}).get("claim_versions")
    for claim_id, version in (versions if isinstance(versions, dict) else {}).items():
        found[f"registry row version.{claim_id}"] = str(version)
    for result in results.claims:
        for path, value in _inputs(result.details):
            found[f"{result.claim.id}: {path}"] = str(value)
    return found


def _inputs(details: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(path, value) of what a claim's details record of its inputs: checkpoints, revisions, content digests, threads."""
    if isinstance(details, list):
        return [item for i, value in enumerate(details) for item in _inputs(value, f"{prefix}[{i}]")]
    if not isinstance(details, dict):
        return []
    out = []
    for key, value in details.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, (dict, list)):
            out += _inputs(value, path)
        elif RECORDED_KEYS.search(str(key)):
            out.append((path, value))
    return out


def setting_differences(runs: list[RunResults]) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], int]:
    """The settings whose value differs between the runs ("not recorded" where a run lacks one), and how many agree."""
    each = [settings_of(run) for run in runs]
    names = list(dict.fromkeys(name for found in each for name in found))
    differ = []
    for name in names:
        values = tuple(found.get(name, "not recorded") for found in each)
        claim_id = name.split(": ", 1)[0] if ": " in name else None
        if claim_id is not None:  # what a claim recorded: compared between the runs that measured it
            values = tuple(value if _measured(run, claim_id) else "not measured" for run, value in zip(runs, values, strict=True))
        if len({value for value in values if value != "not measured"}) > 1:
            differ.append((name, values))
    return tuple(differ), len(names) - len(differ)


def _measured(results: RunResults, claim_id: str) -> bool:
    return any(r.claim.id == claim_id and r.verdict.measured is not None for r in results.claims)
