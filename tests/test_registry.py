"""The claim registry: the real file loads, rows merge defaults and templates, malformed rows fail naming row and field."""

from pathlib import Path

import pytest
import yaml

from harness.errors import ClaimsError
from harness.spec import families, registry

# ---------------------------------------------------------------- the real registry


def test_real_registry_loads_with_every_family():
    loaded = registry.load()
    assert {claim.family for claim in loaded.claims} == set(families.names())
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


def write_registry(tmp_path: Path, *rows: dict, schema_version: int = 1, **blocks: dict) -> Path:
    """A registry file of these rows, with optional `defaults` and `templates` blocks."""
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump({"schema_version": schema_version, **blocks, "claims": list(rows)}))
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
        ({"seed_spread": {"sigma": 1.0}}, "seed_spread.source", "missing"),
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


# ---------------------------------------------------------------- defaults and templates

def test_the_real_registry_fills_statement_templates():
    loaded = registry.load()
    assert loaded.get("glue.cola.bert").statement == "BERT-base scores 56.3 on the GLUE CoLA dev set (median of 5 seeds)."
    assert loaded.get("size.bert.parameters").statement == "BERT-base has 110 million parameters."
    assert loaded.get("downstream.squad.f1.distilbert").statement == "DistilBERT reaches 85.8 F1 on SQuAD v1.1 dev."


SIZE_DEFAULTS = {"size": {"version": 1, "marker": "size", "source": "Table 3", "metric": "parameters_millions",
                          "metric_reason": "r", "tolerance": {"kind": "relative", "value": 0.01}, "tolerance_reason": "r",
                          "statement": "{model} has {paper_value:g} million parameters."}}


def test_rows_start_from_their_familys_defaults(tmp_path):
    rows = [{"id": "size.a", "family": "size", "model": "bert", "paper_value": 110},
            {"id": "size.b", "family": "size", "model": "distilbert", "paper_value": 66, "source": "Table 9"}]
    a, b = registry.load(write_registry(tmp_path, *rows, defaults=SIZE_DEFAULTS)).claims
    assert (a.source, a.tolerance, a.statement) == ("Table 3", registry.Tolerance("relative", 0.01), "BERT-base has 110 million parameters.")
    assert (b.source, b.statement) == ("Table 9", "DistilBERT has 66 million parameters.")


def test_merge_order_is_defaults_then_template_then_row(tmp_path):
    templates = {"base": {"source": "template", "unit": "M", "tolerance_reason": "base reason"},
                 "variant": {"include": "base", "unit": "%", "notes": "from the variant"}}
    row = {"id": "size.a", "family": "size", "include": "variant", "model": "bert", "paper_value": 1, "unit": "x"}
    claim = registry.load(write_registry(tmp_path, row, defaults=SIZE_DEFAULTS, templates=templates)).claims[0]
    assert (claim.source, claim.unit, claim.notes, claim.tolerance_reason) == ("template", "x", "from the variant", "base reason")
    assert claim.metric == "parameters_millions"  # from the defaults, which nothing overrides


def test_params_merge_key_by_key(tmp_path):
    templates = {"grid": {"params": {"device": "cuda", "rounds": 5}}}
    row = GOOD_ROW | {"id": "speed.x", "family": "speed", "marker": "speed", "metric": "speedup", "include": "grid",
                      "params": {"rounds": 3, "dtype": "float32"}}
    claim = registry.load(write_registry(tmp_path, row, templates=templates)).claims[0]
    assert claim.params == {"device": "cuda", "rounds": 3, "dtype": "float32"}


def test_an_unknown_template_names_the_row(tmp_path):
    row = GOOD_ROW | {"id": "size.a", "include": "glue.cloa"}
    with pytest.raises(ClaimsError, match=r"claim #2 \(id 'size.a'\), field 'include': unknown template 'glue.cloa'; "
                                          r"did you mean 'glue.cola'"):
        registry.load(write_registry(tmp_path, GOOD_ROW, row, templates={"glue.cola": {"notes": "n"}}))


@pytest.mark.parametrize(("blocks", "where"), [
    ({"defaults": {"size": {"tolerance": {"kind": "absolute", "value": "wide"}}}}, "defaults 'size', field 'tolerance.value'"),
    ({"defaults": {"sizes": {"marker": "size"}}}, "defaults 'sizes': unknown family; did you mean 'size'"),
    ({"defaults": {"size": {"id": "x"}}}, "defaults 'size' (id 'x'), field 'id': unknown field"),
    ({"templates": {"t": {"metric": "accuracyy"}}}, "template 't', field 'metric': unknown value"),
    ({"templates": {"t": {"include": "u"}}}, "template 't', field 'include': unknown template 'u'"),
    ({"templates": {"t": {"include": "u"}, "u": {"include": "t"}}}, "includes itself"),
])
def test_an_error_in_a_block_names_the_block(tmp_path, blocks, where):
    with pytest.raises(ClaimsError) as error:
        registry.load(write_registry(tmp_path, GOOD_ROW, **blocks))
    assert where in str(error.value)


# ---------------------------------------------------------------- params per family

@pytest.mark.parametrize(("family_fields", "params", "field", "problem"), [
    ({}, {"measure": "encoder_parameters"}, "params.measure", "unknown key; size rows read no params"),
    ({"family": "speed", "marker": "speed", "metric": "speedup"}, {"pair": 10}, "params.pair", "did you mean 'pairs'"),
    ({"family": "speed", "marker": "speed", "metric": "speedup"}, {"pairs": "many"}, "params.pairs", "expected int"),
    ({"family": "speed", "marker": "speed", "metric": "speedup"}, {"device": "gpu"}, "params.device", "unknown value 'gpu'"),
    ({"family": "speed", "marker": "speed", "metric": "speedup"}, {"batch_sizes": [1, "8"]}, "params.batch_sizes", "expected int"),
    ({"family": "macro", "marker": "slow", "metric": "macro_score"}, {"exclude": ["wnlii"]}, "params.exclude", "did you mean 'wnli'"),
    ({"family": "paper_arithmetic", "marker": "paper", "metric": "mean"}, {"values": [1, 2]}, "params.operation", "missing"),
])
def test_params_are_checked_against_the_familys_schema(tmp_path, family_fields, params, field, problem):
    row = GOOD_ROW | family_fields | {"id": "x.y", "params": params}
    with pytest.raises(ClaimsError) as error:
        registry.load(write_registry(tmp_path, GOOD_ROW, row))
    assert f"claim #2 (id 'x.y'), field '{field}'" in str(error.value) and problem in str(error.value)


def test_a_bad_param_from_a_template_names_the_template(tmp_path):
    row = GOOD_ROW | {"id": "size.a", "include": "t"}
    with pytest.raises(ClaimsError, match=r"template 't', field 'params.seeds_in_paper': unknown key"):
        registry.load(write_registry(tmp_path, row, templates={"t": {"params": {"seeds_in_paper": 5}}}))


def test_exclude_defaults_to_none_and_the_real_rows_read_only_known_params():
    loaded = registry.load()
    assert loaded.get("macro.bert").params == {"exclude": []}
    assert loaded.get("retention.without_wnli").params["exclude"] == ["wnli"]
    for claim in loaded.claims:
        assert set(claim.params) <= set(families.get(claim.family).params), claim.id


# ---------------------------------------------------------------- a cell's metric comes from its task

GLUE_ROW = {"id": "glue.cola.bert", "version": 1, "family": "glue", "statement": "s", "source": "Table 1", "task": "cola",
            "model": "bert", "marker": "slow", "paper_value": 56.3, "tolerance": {"kind": "absolute", "value": 3},
            "tolerance_reason": "r"}


def test_a_cell_without_a_metric_takes_its_tasks_paper_metric_and_reason(tmp_path):
    claim = registry.load(write_registry(tmp_path, GLUE_ROW)).claims[0]
    assert claim.metric == "matthews_correlation"
    assert claim.metric_reason == "GLUE's metric for CoLA; the paper names none."


@pytest.mark.parametrize(("row", "metric"), [
    (GLUE_ROW | {"metric": "matthews_correlation", "metric_reason": "own"}, "matthews_correlation"),
    (GLUE_ROW | {"task": "squad", "metric": "f1", "metric_reason": "own", "family": "downstream"}, "f1"),
    (GLUE_ROW | {"metric": "points_behind", "metric_reason": "own", "family": "downstream"}, "points_behind"),
])
def test_a_cell_may_name_one_of_its_tasks_paper_metrics(tmp_path, row, metric):
    assert registry.load(write_registry(tmp_path, row)).claims[0].metric == metric


@pytest.mark.parametrize("row", [
    GLUE_ROW | {"metric": "accuracy", "metric_reason": "r"},
    GLUE_ROW | {"metric": "points_behind", "metric_reason": "r"},
    GLUE_ROW | {"task": "squad", "metric": "accuracy", "metric_reason": "r", "family": "downstream"},
])
def test_a_metric_outside_the_tasks_paper_metrics_is_refused(tmp_path, row):
    with pytest.raises(ClaimsError, match=r"claim #1 \(id 'glue.cola.bert'\), field 'metric': .* fills no cell of task"):
        registry.load(write_registry(tmp_path, row))


def test_a_statement_template_with_an_unknown_name_names_the_row(tmp_path):
    with pytest.raises(ClaimsError, match=r"claim #1 \(id 'glue.cola.bert'\), field 'statement': cannot fill"):
        registry.load(write_registry(tmp_path, GLUE_ROW | {"statement": "{modle} scores"}))


# ---------------------------------------------------------------- seed spreads that name a reference

REPRODUCTION = {"id": "reference.study", "source": "paper.md", "note": "Five-seed study (batch 16)."}
SPREAD_ROW = {**GOOD_ROW, "seed_spread": {"sigma": 1.0, "seeds": 5, "source": "reference.study", "note": "RTE sigma 1.0."}}


def test_a_seed_spread_names_its_reference_once(tmp_path):
    claim = registry.load(write_registry(tmp_path, SPREAD_ROW, references=[REPRODUCTION])).claims[0]
    assert claim.seed_spread.source == "Five-seed study (batch 16) (paper.md, reference.study): RTE sigma 1.0."
    assert claim.seed_spread.seeds == 5


def test_a_seed_spread_note_needs_a_reference(tmp_path):
    with pytest.raises(ClaimsError, match="a `note` needs `source` to name a reference"):
        registry.load(write_registry(tmp_path, SPREAD_ROW, references=[]))
