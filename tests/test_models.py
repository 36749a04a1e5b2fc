"""Architectures from configs: exact parameter counts, config sources, errors that name the fix."""

import json

import pytest

from harness.errors import ClaimsError
from harness.measure import models, size
from harness.spec.registry import Claim


@pytest.fixture(autouse=True)
def _offline(offline):
    """Every test here runs with the Hub unreachable (tests/conftest.py)."""


def test_exact_counts_of_the_papers_architectures():
    # The published figures for the bare encoders (BertModel with pooler; DistilBertModel).
    bert = models.size_summary(models.load_config("bert-base-uncased"))
    distilbert = models.size_summary(models.load_config("distilbert-base-uncased"))
    assert bert["encoder_parameters"] == 109_482_240
    assert distilbert["encoder_parameters"] == 66_362_880
    # A 2-label head adds 768 * 2 + 2 to BERT, and DistilBERT's pre_classifier (768 * 768 + 768) as well.
    assert bert["sequence_classification_2_labels_parameters"] == 109_482_240 + 1_538
    assert distilbert["sequence_classification_2_labels_parameters"] == 66_362_880 + 590_592 + 1_538
    assert bert["fp32_megabytes"] == pytest.approx(109_482_240 * 4 / 1e6, abs=0.05)


def test_offline_falls_back_to_the_project_copy():
    architecture = models.load_config("distilbert-base-uncased")
    assert architecture.config_source.startswith("project copy") and architecture.layers == 6


def test_a_local_folder_is_read(tmp_path, repo_root):
    config = json.loads((repo_root / "fixtures/configs/bert-base-uncased/config.json").read_text())
    config["num_hidden_layers"] = 2
    (tmp_path / "config.json").write_text(json.dumps(config))
    architecture = models.load_config(str(tmp_path))
    assert architecture.layers == 2 and "local folder" in architecture.config_source


def test_folder_without_config_names_the_fix(tmp_path):
    with pytest.raises(ClaimsError, match="has no config.json"):
        models.load_config(str(tmp_path))


def test_a_checkpoint_path_with_a_typo_says_it_does_not_exist(tmp_path):
    typo = str(tmp_path / "bert-bsae")
    for call in (lambda: models.load_config(typo), lambda: models.load_pretrained(typo, "sequence_classification")):
        with pytest.raises(ClaimsError, match=r"checkpoint folder '.*bert-bsae' does not exist") as error:
            call()
        assert "has no" not in str(error.value) and "check the path" in error.value.fix
    (tmp_path / "weights.bin").write_text("x")
    with pytest.raises(ClaimsError, match=r"is a file, not a folder"):
        models.load_config(str(tmp_path / "weights.bin"))


def test_unknown_checkpoint_offline_names_the_name_the_revision_and_the_fix():
    with pytest.raises(ClaimsError, match=r"model 'someone/unknown-model' at revision 'v2': offline mode .* not in the "
                                          r"Hugging Face cache") as error:
        models.load_config("someone/unknown-model@v2")
    assert "hf download someone/unknown-model --revision v2" in error.value.fix and "local folder" in error.value.fix


def test_a_mistyped_hub_name_offline_says_did_you_mean():
    with pytest.raises(ClaimsError) as error:
        models.load_pretrained("bert-base-uncase", "sequence_classification")
    assert "did you mean 'bert-base-uncased'" in error.value.fix


def test_pretrained_weights_offline_or_missing_name_the_fix(tmp_path):
    with pytest.raises(ClaimsError, match="model 'bert-base-uncased' at revision 'main': offline mode"):
        models.load_pretrained("bert-base-uncased", "sequence_classification")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ClaimsError, match="has no weights"):
        models.load_pretrained(str(tmp_path), "sequence_classification")


# --- the size claims' measurement (harness.measure.size), by the row's metric -----------------------------------------

def _size_row(metric: str, model: str) -> Claim:
    return Claim(id=f"size.{model}", version=1, family="size", statement="", source="", metric=metric, metric_reason="",
                 marker="size", model=model)


@pytest.mark.parametrize("metric, model, expected", [
    ("parameters_millions", "bert", 109.48224),
    ("parameters_millions", "distilbert", 66.36288),
    ("percent_fewer_parameters", "both", 100 * (1 - 66_362_880 / 109_482_240)),
])
def test_a_size_row_measures_what_its_metric_names(metric, model, expected):
    counted = size.sizes({role: models.load_config(f"{role}-base-uncased") for role in ("bert", "distilbert")})
    measurement = size.measure(_size_row(metric, model), counted)
    assert measurement.value == pytest.approx(expected) and measurement.details["bert"]["encoder_parameters"] == 109_482_240
    assert ("fewer parameters" in measurement.summary) == (metric == "percent_fewer_parameters")


def test_a_metric_that_is_not_a_size_is_an_error_naming_the_row():
    with pytest.raises(ClaimsError, match="size.bert: metric 'speedup' is not a size metric"):
        size.measure(_size_row("speedup", "bert"), {})
