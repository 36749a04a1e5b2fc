"""The result cache and the protocols: keys, atomic entries, refusals of bad entries, checkpoints; protocol errors.

Pure logic, no training (the end-to-end path is tests/test_finetune_tiny.py).
"""

import json
import math

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import ClaimsError
from harness.files import canonical_json, digest
from harness.measure.cache import CacheWarning, JobKey, ResultCache, checkpoint_identity
from harness.spec import protocols
from harness.spec.tasks import get_task

METRICS = {"validation": {"accuracy": 91.5}}
LIBRARIES = {"torch": "2.13.0", "transformers": "5.24.0", "datasets": "5.2.0"}
config_values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5)
                             | st.floats(allow_nan=False, allow_infinity=False),
                             lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
                             max_leaves=10)


def key(**changes) -> JobKey:
    configuration = {"checkpoint": {"hub_name": "bert-base-uncased", "revision": "abc"}, "task": "sst2", "seed": 42,
                     "settings": {"learning_rate": 2e-5}, **changes}
    return JobKey(configuration, dict(LIBRARIES))


@pytest.fixture
def cache(tmp_path) -> ResultCache:
    return ResultCache(tmp_path / "cache")


# ---------------------------------------------------------------- keys


@given(st.dictionaries(st.text(max_size=6), config_values, max_size=6))
def test_key_ignores_the_order_of_the_configuration(configuration):
    reordered = dict(reversed(list(configuration.items())))
    assert digest(configuration) == digest(reordered)
    assert json.loads(canonical_json(configuration)) == configuration


def test_every_field_and_library_version_changes_the_key():
    base = key()
    assert key(seed=43).job_id != base.job_id
    assert key(settings={"learning_rate": 3e-5}).job_id != base.job_id
    assert key(checkpoint={"hub_name": "bert-base-uncased", "revision": "def"}).job_id != base.job_id
    other_versions = JobKey(base.configuration, {**LIBRARIES, "transformers": "4.46.0"})
    assert other_versions.job_id == base.job_id and other_versions.env_id != base.env_id


def test_a_local_checkpoint_is_keyed_by_its_weights_not_its_path(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text("{}")
        (tmp_path / name / "model.safetensors").write_bytes(b"weights")
    same = [checkpoint_identity(str(tmp_path / name)) for name in ("a", "b")]
    assert same[0] == same[1]
    (tmp_path / "b" / "model.safetensors").write_bytes(b"other weights")
    assert checkpoint_identity(str(tmp_path / "b")) != same[0]


# ---------------------------------------------------------------- entries


def test_a_stored_entry_is_read_back_with_its_provenance(cache):
    stored = cache.store(key(), METRICS, {"device": "cpu", "wall_time_s": {"total": 1.5}})
    loaded = cache.load(key())
    assert loaded == stored
    assert loaded["metrics"] == METRICS and loaded["libraries"] == LIBRARIES and loaded["device"] == "cpu"
    assert not list(cache.folder(key()).glob(".*.tmp")), "the atomic write left a temporary file"


def test_a_missing_entry_is_a_miss(cache):
    assert cache.load(key()) is None


@pytest.mark.parametrize("corruption", [
    lambda text: text[: len(text) // 2],  # a half-written file
    lambda text: "not json",
    lambda text: text.replace('"schema_version": 1', '"schema_version": 99'),
    lambda text: text.replace("91.5", "NaN"),
    lambda text: text.replace('"seed": 42', '"seed": 7'),  # an entry that is not this job's
])
def test_an_unusable_entry_is_refused_with_a_warning(cache, corruption):
    cache.store(key(), METRICS, {})
    path = cache.entry_path(key())
    path.write_text(corruption(path.read_text()))
    with pytest.warns(CacheWarning, match="cannot be used"):
        assert cache.load(key()) is None


def test_a_result_of_other_library_versions_is_not_used(cache):
    old = JobKey(key().configuration, {**LIBRARIES, "torch": "1.13.0"})
    cache.store(old, METRICS, {})
    with pytest.warns(CacheWarning, match="other library versions"):
        assert cache.load(key()) is None


def test_non_finite_metrics_are_never_stored(cache):
    with pytest.raises(ValueError):
        cache.store(key(), {"validation": {"pearson": math.nan}}, {})
    assert cache.load(key()) is None


def test_undefined_metrics_are_stored_as_null(cache):
    stored = cache.store(key(), {"validation": {"pearson": None, "spearmanr": 10.0}}, {})
    assert stored["metrics"]["validation"]["pearson"] is None


def test_checkpoints_are_found_and_forgotten(cache):
    assert cache.last_checkpoint(key()) is None
    for step in (2, 10):
        (cache.trainer_dir(key()) / f"checkpoint-{step}").mkdir(parents=True)
    assert cache.last_checkpoint(key()).name == "checkpoint-10"
    cache.store(key(), METRICS, {})
    cache.forget(key())
    assert cache.last_checkpoint(key()) is None and cache.load(key()) is None


# ---------------------------------------------------------------- protocols


def test_paper_protocol_values_and_their_sources():
    paper = protocols.get("paper")
    glue, squad, imdb = paper.for_task(get_task("sst2")), paper.for_task(get_task("squad")), paper.for_task(get_task("imdb"))
    assert (glue.train_batch_size, glue.learning_rate, glue.num_train_epochs, glue.max_length) == (32, 2e-5, 3, 128)
    assert glue.warmup_ratio > 0
    assert imdb.max_length == 512
    assert (squad.train_batch_size, squad.learning_rate, squad.num_train_epochs, squad.max_length, squad.doc_stride) == \
        (12, 3e-5, 2, 384, 128)
    for name in protocols.names():
        for task in ("sst2", "imdb", "squad"):
            protocol = protocols.get(name)
            sources = {**protocol.sources, **protocol.task_sources.get(task, {})}
            assert set(sources) == set(protocols.SETTING_NAMES), f"{name}/{task}: every value needs its source"


def test_seed_study_is_trainer_defaults():
    from transformers import TrainingArguments

    defaults, study = TrainingArguments(output_dir="unused"), protocols.get("seed-study").for_task(get_task("cola"))
    assert (study.learning_rate, study.train_batch_size, study.num_train_epochs) == \
        (defaults.learning_rate, defaults.per_device_train_batch_size, defaults.num_train_epochs)


def test_unknown_protocol_names_the_close_ones():
    with pytest.raises(ClaimsError, match="did you mean 'paper'"):
        protocols.get("papr")


@pytest.mark.parametrize(("block", "message"), [
    ({"learnig_rate": 1e-5}, "did you mean 'learning_rate'"),
    ({"learning_rate": "fast"}, "is not a float"),
    ({"train_batch_size": 2.5}, "is not a int"),
])
def test_bad_protocol_values_are_refused(tmp_path, block, message):
    document = yaml.safe_load(protocols.DEFAULT_PROTOCOLS.read_text())
    settings = document["protocols"]["smoke"]
    settings["settings"].update(block)
    settings["sources"].update({name: "test" for name in block})
    path = tmp_path / "protocols.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ClaimsError, match=message):
        protocols.load(path)


def test_a_value_without_a_source_is_refused(tmp_path):
    document = yaml.safe_load(protocols.DEFAULT_PROTOCOLS.read_text())
    del document["protocols"]["paper"]["sources"]["learning_rate"]
    path = tmp_path / "protocols.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ClaimsError, match="learning_rate.*no source"):
        protocols.load(path)


def test_seeds_follow_the_first_seed():
    settings = protocols.get("paper").for_task(get_task("rte"))
    assert settings.seeds(5) == [42, 43, 44, 45, 46]
    with pytest.raises(ClaimsError):
        settings.seeds(0)
