"""The claim registry: the real file loads, and every malformed row fails naming the row and field."""

from pathlib import Path

import pytest
import yaml

from harness.errors import ClaimsError
from harness.spec import registry

# ---------------------------------------------------------------- the real registry


def test_real_registry_loads_with_every_family():
    loaded = registry.load()
    families = {claim.family for claim in loaded.claims}
    assert families == set(registry.FAMILIES)
    assert len({claim.id for claim in loaded.claims}) == len(loaded.claims)


def test_every_glue_task_has_a_row_for_each_model():
    loaded = registry.load()
    cells = {(c.task, c.model) for c in loaded.family("glue")}
    tasks = ("cola", "mnli", "mrpc", "qnli", "qqp", "rte", "sst2", "stsb", "wnli")
    assert cells == {(task, model) for task in tasks for model in ("bert", "distilbert")}


def test_table1_values_are_the_papers():
    loaded = registry.load()
    assert loaded.get("glue.mnli.bert").paper_value == 86.7
    assert loaded.get("glue.wnli.distilbert").paper_value == 56.3
    assert loaded.get("macro.bert").paper_value == 79.5
    elmo = next(ref for ref in loaded.references if ref["id"] == "reference.elmo.table1")
    assert elmo["values"]["score"] == 68.7


def test_in_scope_claims_carry_tolerance_and_reasons():
    for claim in registry.load().claims:
        assert claim.metric_reason, claim.id
        if claim.out_of_scope is None:
            assert claim.tolerance is not None and claim.tolerance_reason, claim.id
        else:
            assert claim.family == "out_of_scope", claim.id


def test_unknown_claim_id_suggests_the_nearest():
    with pytest.raises(ClaimsError, match="did you mean 'glue.cola.bert'"):
        registry.load().get("glue.cola.bret")


# ---------------------------------------------------------------- malformed rows

GOOD_ROW = {
    "id": "size.test", "version": 1, "family": "size", "statement": "s", "source": "Table 3",
    "metric": "parameters_millions", "metric_reason": "r", "marker": "size", "paper_value": 1.0,
    "tolerance": {"kind": "absolute", "value": 0.5}, "tolerance_reason": "r",
}


def write_registry(tmp_path: Path, *rows: dict, schema_version: int = 1) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump({"schema_version": schema_version, "claims": list(rows)}))
    return path


def test_a_good_row_loads(tmp_path):
    assert registry.load(write_registry(tmp_path, GOOD_ROW)).claims[0].tolerance.value == 0.5


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        ({"statement": None}, "statement", "missing"),
        ({"metric": "accuracyy"}, "metric", "did you mean 'accuracy'"),
        ({"family": "sizes"}, "family", "unknown value"),
        ({"tolerance": {"kind": "absolute", "value": "half"}}, "tolerance.value", "expected a non-negative number"),
        ({"tolerance": {"kind": "roughly", "value": 1}}, "tolerance.kind", "unknown value"),
        ({"version": "one"}, "version", "expected int"),
        ({"paper_value": None}, "paper_value", "needs the paper's value"),
        ({"tolerance_reason": None}, "tolerance_reason", "needs a tolerance and its rationale"),
        ({"noise_band": {"kind": "absolute", "value": 0.1}}, "noise_band.value", "at least as wide"),
        ({"colour": "red"}, "colour", "unknown field"),
    ],
)
def test_malformed_row_names_row_and_field(tmp_path, change, field, problem):
    row = {**GOOD_ROW, **change}
    row = {k: v for k, v in row.items() if v is not None}
    with pytest.raises(ClaimsError) as error:
        registry.load(write_registry(tmp_path, GOOD_ROW | {"id": "ok.first"}, row))
    text = str(error.value)
    assert "claim #2" in text and f"field '{field}'" in text and problem in text


def test_duplicate_ids_fail(tmp_path):
    with pytest.raises(ClaimsError, match="duplicate id 'size.test'"):
        registry.load(write_registry(tmp_path, GOOD_ROW, GOOD_ROW))


def test_wrong_schema_version_fails(tmp_path):
    with pytest.raises(ClaimsError, match="schema_version 2"):
        registry.load(write_registry(tmp_path, GOOD_ROW, schema_version=2))


def test_invalid_yaml_and_missing_file_fail(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("claims: [unclosed")
    with pytest.raises(ClaimsError, match="not valid YAML"):
        registry.load(bad)
    with pytest.raises(ClaimsError, match="not found"):
        registry.load(tmp_path / "absent.yaml")
