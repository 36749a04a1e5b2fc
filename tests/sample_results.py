"""A results.json of the real registry for the tests that attack the readers (tests/test_escaping.py,
tests/test_fuzz.py): a few claims measured, with the details claims record, and one skipped claim of every
other family, so every part of the report is drawn from a small document.
"""

from __future__ import annotations

from typing import Any

from harness.judge.verdict import judge
from harness.reporting import results as results_module
from harness.spec import registry as registry_module


def sample_results_document() -> dict[str, Any]:
    """The document as results.json holds it (a fresh copy each call)."""
    loaded = registry_module.load()

    def measured(claim_id: str, value: float, **details: Any) -> results_module.ClaimResult:
        claim = loaded.get(claim_id)
        return results_module.ClaimResult(claim, f"claims/t.py::t[{claim_id}]", judge(claim, value), details, "passed")

    done = [measured("size.bert.parameters", 109.5, summary="109,482,240 parameters"),
            measured("glue.cola.bert", 60.3, seeds=[1, 2]), measured("retention.with_wnli", 96.4),
            measured("speed.cpu.stsb_speedup", 1.9, seconds={"bert": 30.2, "distilbert": 15.9}, speedup=1.9,
                     chunk_seconds={"bert": [15.0, 15.2], "distilbert": [8.0, 7.9]}, summary="1.9x")]
    families = {result.claim.family for result in done}
    rest = []
    for claim in loaded.claims:
        if claim.family not in families:
            families.add(claim.family)
            rest.append(results_module.not_run(claim, "not run"))
    environment = {"cpu": "x", "gpus": [{"name": "g", "memory_gib": 1}], "libraries": {"torch": "0"}, "git_commit": "abc"}
    return results_module.build(done + rest, loaded, environment, {"run_slow": False, "markexpr": "size"}).to_json()
