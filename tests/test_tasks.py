"""Unit tests of the task specs (harness/spec/tasks.yaml via harness.spec.tasks): names, fields, registry agreement."""

from __future__ import annotations

import pytest

from harness.errors import ClaimsError
from harness.spec import registry
from harness.spec.tasks import TaskSpec, get_task, glue_task_names, parse_task, task_names

GLUE = ["cola", "mnli", "mrpc", "qnli", "qqp", "rte", "sst2", "stsb", "wnli"]


# ------------------------------------------------------------------------------------------- names
def test_the_eleven_tasks_of_the_paper():
    assert task_names() == [*GLUE, "imdb", "squad"]
    assert glue_task_names() == GLUE


@pytest.mark.parametrize("name", ["cola", "COLA", "sst-2", "STS-B", " mnli "])
def test_get_task_accepts_glue_spellings(name):
    assert get_task(name).name == name.strip().lower().replace("-", "")


def test_unknown_task_says_did_you_mean_and_lists_known_names():
    with pytest.raises(ClaimsError) as error:
        get_task("colaa")
    message = str(error.value)
    assert "unknown task 'colaa'" in message
    assert "did you mean 'cola'?" in message
    assert "known: cola, imdb, mnli, mrpc, qnli, qqp, rte, squad, sst2, stsb, wnli" in message


def test_task_specs_are_frozen():
    spec = get_task("cola")
    with pytest.raises(AttributeError):
        spec.max_length = 512  # type: ignore[misc]


# ------------------------------------------------------------------------------------------ fields
@pytest.mark.parametrize("name, hub_config, columns, num_labels, paper_metric", [
    ("cola", "cola", ("sentence",), 2, "matthews_correlation"),
    ("mnli", "mnli", ("premise", "hypothesis"), 3, "accuracy"),
    ("mrpc", "mrpc", ("sentence1", "sentence2"), 2, "f1"),
    ("qnli", "qnli", ("question", "sentence"), 2, "accuracy"),
    ("qqp", "qqp", ("question1", "question2"), 2, "combined_score"),
    ("rte", "rte", ("sentence1", "sentence2"), 2, "accuracy"),
    ("sst2", "sst2", ("sentence",), 2, "accuracy"),
    ("stsb", "stsb", ("sentence1", "sentence2"), 1, "pearson"),
    ("wnli", "wnli", ("sentence1", "sentence2"), 2, "accuracy"),
])
def test_glue_specs_match_run_glue(name, hub_config, columns, num_labels, paper_metric):
    spec = get_task(name)
    assert (spec.hub_path, spec.hub_config) == ("nyu-mll/glue", hub_config)
    assert spec.text_columns == columns
    assert spec.num_labels == num_labels
    assert spec.paper_metric == paper_metric
    assert spec.max_length == 128
    assert spec.in_glue_macro
    assert spec.label_column == "label"


def test_label_ids_are_the_hubs():
    assert get_task("mnli").label_names == ("entailment", "neutral", "contradiction")
    assert get_task("rte").label_names[0] == get_task("qnli").label_names[0] == "entailment"
    assert get_task("mrpc").label_names[1] == "equivalent"
    assert get_task("qqp").label_names[1] == "duplicate"
    assert get_task("wnli").label_names == ("not_entailment", "entailment")
    assert get_task("stsb").kind == "regression" and get_task("stsb").label_names == ()


def test_mnli_is_evaluated_on_matched_and_mismatched():
    spec = get_task("mnli")
    assert spec.eval_splits == ("validation_matched", "validation_mismatched")
    assert spec.paper_split == "validation_matched"


def test_downstream_tasks():
    imdb, squad = get_task("imdb"), get_task("squad")
    assert (imdb.hub_path, imdb.test_split, imdb.paper_split, imdb.max_length) == ("stanfordnlp/imdb", "test", "test", 512)
    assert (squad.hub_path, squad.kind, squad.max_length, squad.doc_stride) == ("rajpurkar/squad", "extractive_qa", 384, 128)
    assert squad.paper_metrics == ("exact_match", "f1")
    assert not imdb.in_glue_macro and not squad.in_glue_macro


@pytest.mark.parametrize("name", task_names())
def test_every_spec_is_consistent(name):
    spec = get_task(name)
    assert set(spec.paper_metrics) <= set(spec.metrics)
    assert {spec.train_split, *spec.eval_splits} <= set(spec.splits)
    assert spec.local.format in ("glue_tsv", "imdb", "squad_json")
    if spec.local.format == "glue_tsv":
        assert set(spec.local.files) == set(spec.splits)
        assert set(spec.local.columns) == {*spec.text_columns, "label"}


# --------------------------------------------------------------------------- agreement with claims
def test_paper_metric_equals_the_registry_rows_metric():
    rows = [c for c in registry.load().claims if c.task and c.family in ("glue", "downstream") and c.metric != "points_behind"]
    assert rows, "the registry has task rows"
    for claim in rows:
        assert claim.metric in get_task(claim.task).paper_metrics, claim.id
    glue_rows = [c for c in rows if c.family == "glue"]
    assert {c.task for c in glue_rows} == set(GLUE)
    for claim in glue_rows:
        assert claim.metric == get_task(claim.task).paper_metric, claim.id


def test_registry_rejects_a_task_that_is_not_in_the_table(tmp_path):
    raw = {"id": "glue.colaa.bert", "version": 1, "family": "glue", "statement": "s", "source": "Table 1",
           "metric": "accuracy", "metric_reason": "r", "marker": "slow", "task": "colaa", "paper_value": 1.0,
           "tolerance": {"kind": "absolute", "value": 1}, "tolerance_reason": "r"}
    with pytest.raises(ClaimsError, match=r"field 'task'.*did you mean 'cola'"):
        registry.parse_claim(tmp_path / "r.yaml", 0, raw)


# --------------------------------------------------------------------------------- a bad table
def _raw(**changes):
    raw = {"kind": "classification", "hub_path": "x/y", "text_columns": ["a"], "label_column": "label",
           "label_names": ["no", "yes"], "splits": ["train", "validation"], "train_split": "train",
           "eval_splits": ["validation"], "metrics": ["accuracy"], "paper_metrics": ["accuracy"],
           "in_glue_macro": False, "max_length": 64, "version": 1, "local": {"format": "imdb"}}
    raw.update(changes)
    return raw


def test_a_good_raw_spec_parses():
    assert isinstance(parse_task("toy", _raw()), TaskSpec)


def test_the_paper_metric_reason_is_optional():
    assert parse_task("toy", _raw()).paper_metric_reason == ""
    assert parse_task("toy", _raw(paper_metric_reason="why")).paper_metric_reason == "why"
    assert all(get_task(name).paper_metric_reason for name in [*GLUE, "imdb"])


@pytest.mark.parametrize("changes, field", [
    ({"kind": "ranking"}, "kind"),
    ({"text_columns": ["a", "b", "c"]}, "text_columns"),
    ({"eval_splits": ["dev"]}, "splits"),
    ({"paper_metrics": ["f1"]}, "paper_metrics"),
    ({"label_names": ["only"]}, "label_names"),
    ({"max_lenght": 64}, "max_lenght"),
    ({"local": {"format": "xml"}}, "local.format"),
])
def test_a_bad_raw_spec_names_the_task_and_field(changes, field):
    with pytest.raises(ClaimsError, match=rf"task 'toy', field '{field}'"):
        parse_task("toy", _raw(**changes))


def test_only_wnli_is_exempt_from_the_constant_predictor_rule():
    assert [name for name in task_names() if get_task(name).constant_predictor_exempt] == ["wnli"]
    assert "40/71" in get_task("wnli").constant_predictor_exempt


def test_every_task_has_cost_figures_and_neither_they_nor_the_exemption_are_in_the_cache_key():
    for name in task_names():
        cost = get_task(name).cost
        assert cost is not None and cost.train_rows > 0 and cost.eval_rows > 0 and 0 < cost.padded_tokens <= get_task(name).max_length
    keyed = get_task("wnli").keyed()
    assert "cost" not in keyed and "constant_predictor_exempt" not in keyed and keyed["max_length"] == 128
    assert parse_task("toy", _raw()).cost is None


@pytest.mark.parametrize("cost", [{"train_rows": 10}, {"train_rows": 10, "eval_rows": 2, "padded_tokens": "many"}, [1, 2, 3]])
def test_bad_cost_figures_are_named(cost):
    with pytest.raises(ClaimsError, match=r"task 'toy', field 'cost'"):
        parse_task("toy", _raw(cost=cost))


def test_a_missing_field_is_named():
    raw = _raw()
    del raw["hub_path"]
    with pytest.raises(ClaimsError, match=r"field 'hub_path': missing"):
        parse_task("toy", raw)
