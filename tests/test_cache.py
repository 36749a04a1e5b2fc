"""The result cache and the protocols: keys (complete and derived), atomic entries and their digests, refusals
of bad entries, complete checkpoints; protocol errors.

Pure logic, no training (the end-to-end path is tests/test_finetune_tiny.py, tests/test_rescore.py).
"""

import json
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from harness.errors import ClaimsError
from harness.files import canonical_json, digest
from harness.measure.finetune import identity
from harness.measure.finetune import job as finetune
from harness.measure.finetune.cache import SCHEMA_VERSION, CacheWarning, JobKey, ResultCache
from harness.measure.finetune.identity import KEY_LIBRARIES, checkpoint_identity, source_fingerprint
from harness.measure.finetune.predictions import SplitPredictions
from harness.spec import protocols
from harness.spec.tasks import get_task

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

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
    lambda text: text.replace(f'"schema_version": {SCHEMA_VERSION}', '"schema_version": 99'),
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


def complete_checkpoint(folder, step):
    """A checkpoint folder as Trainer leaves it when it finished saving (trainer_state.json written last)."""
    folder.mkdir(parents=True)
    for name in ("model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth"):
        (folder / name).write_bytes(b"x")
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))


def test_checkpoints_are_found_and_forgotten(cache):
    assert cache.last_checkpoint(key()) is None
    for step in (2, 10):
        complete_checkpoint(cache.trainer_dir(key()) / f"checkpoint-{step}", step)
    assert cache.last_checkpoint(key()).name == "checkpoint-10"
    cache.store(key(), METRICS, {})
    cache.forget(key())
    assert cache.last_checkpoint(key()) is None and cache.load(key()) is None


@pytest.mark.parametrize("damage", ["no trainer_state.json", "torn trainer_state.json", "another step's state", "no optimizer", "no RNG state"])
def test_a_checkpoint_killed_while_saving_is_skipped_for_the_previous_complete_one(cache, damage):
    for step in (8, 10):
        complete_checkpoint(cache.trainer_dir(key()) / f"checkpoint-{step}", step)
    newest = cache.trainer_dir(key()) / "checkpoint-10"
    if damage == "no trainer_state.json":
        (newest / "trainer_state.json").unlink()
    elif damage == "torn trainer_state.json":
        (newest / "trainer_state.json").write_text('{"global_st')
    elif damage == "another step's state":
        (newest / "trainer_state.json").write_text('{"global_step": 8}')
    elif damage == "no optimizer":
        (newest / "optimizer.pt").unlink()
    else:
        (newest / "rng_state.pth").unlink()
    assert cache.last_checkpoint(key()).name == "checkpoint-8"
    assert not newest.exists(), "the incomplete checkpoint is removed, so that Trainer's rotation never meets it"


# ---------------------------------------------------------------- the key is complete and derived


def checkpoint_folder(root, vocabulary):
    root.mkdir()
    (root / "config.json").write_text("{}")
    (root / "model.safetensors").write_bytes(b"weights")
    (root / "vocab.txt").write_text(vocabulary)
    return root


def test_another_vocabulary_is_another_key(tmp_path):
    uncased = checkpoint_folder(tmp_path / "uncased", "[PAD]\n[UNK]\nthe\nfilm\n")
    cased = checkpoint_folder(tmp_path / "cased", "[PAD]\n[UNK]\nThe\nFilm\n")
    assert checkpoint_identity(str(uncased)) != checkpoint_identity(str(cased))
    (tmp_path / "cased" / "vocab.txt").write_text("[PAD]\n[UNK]\nthe\nfilm\n")
    assert checkpoint_identity(str(uncased)) == checkpoint_identity(str(cased)), "the same files, wherever they are"
    (uncased / "tokenizer_config.json").write_text('{"do_lower_case": false}')
    assert checkpoint_identity(str(uncased)) != checkpoint_identity(str(cased))


CODE = '''"""A module."""

def train(rate):
    """Train."""
    return rate * 2  # doubled
'''


def test_the_code_fingerprint_follows_the_code_not_its_comments_or_docstrings():
    same = [CODE.replace("# doubled", "# twice the rate"), CODE.replace('"""Train."""', '"""Train the model, at length."""'),
            CODE.replace('"""A module."""\n', "")]
    assert {source_fingerprint(text) for text in same} == {source_fingerprint(CODE)}
    assert source_fingerprint(CODE.replace("rate * 2", "rate * 3")) != source_fingerprint(CODE)
    assert source_fingerprint(CODE.replace("def train(rate)", "def train(rate, extra=0)")) != source_fingerprint(CODE)


@pytest.fixture
def fixture_job(offline):
    """A job whose key can be computed without training (a config-only checkpoint and the fixture data)."""
    return finetune.make_job(str(FIXTURES / "configs" / "tiny-bert"), "sst2", "smoke", data_dir=FIXTURES)


@pytest.fixture
def edited_source(monkeypatch):
    """edit(module, old, new): the source the key reads for `module`, edited; the fingerprints read again."""
    original = identity.module_source

    def edit(module, old, new):
        assert old in original(module), f"{old!r} is not in {module}: the edit would change nothing"
        monkeypatch.setattr(identity, "module_source",
                            lambda name: original(name).replace(old, new) if name == module else original(name))
        identity.code_identity.cache_clear()

    yield edit
    identity.code_identity.cache_clear()


def test_a_code_change_in_a_keyed_module_changes_the_key(fixture_job, edited_source):
    before = finetune.job_key(fixture_job)
    edited_source("harness.measure.finetune.training", "save_total_limit=1", "save_total_limit=2")
    assert finetune.job_key(fixture_job).job_id != before.job_id


def test_a_comment_or_docstring_edit_or_a_metric_change_keeps_the_key(fixture_job, edited_source):
    before = finetune.job_key(fixture_job)
    edited_source("harness.measure.finetune.training", '"""One job\'s training', '"""Reworded: one job\'s training')
    assert finetune.job_key(fixture_job) == before
    edited_source("harness.data.preprocess", "import collections\n", "import collections  # a new comment\n")
    assert finetune.job_key(fixture_job) == before
    edited_source("harness.measure.metrics", "return float(accuracy_score", "return 0.99 * float(accuracy_score")
    assert finetune.job_key(fixture_job) == before, "metric code is rescored (python -m harness rescore), not retrained"


def test_library_versions_and_devices_are_in_the_key(fixture_job, monkeypatch):
    base = finetune.job_key(fixture_job)
    assert set(base.libraries) == set(KEY_LIBRARIES) >= {"torch", "transformers", "datasets", "tokenizers", "accelerate", "numpy"}
    assert JobKey(base.configuration, {**base.libraries, "numpy": "0.1"}).env_id != base.env_id
    assert base.configuration["effective_train_batch_size"] == fixture_job.settings.train_batch_size
    monkeypatch.setattr(finetune, "training_devices", lambda device: 4)  # Trainer would multiply the batch by 4 GPUs
    four = finetune.job_key(fixture_job)
    assert four.job_id != base.job_id and four.configuration["effective_train_batch_size"] == 4 * fixture_job.settings.train_batch_size


# ---------------------------------------------------------------- content digests


def stored_with_predictions(cache):
    predictions = {"validation": SplitPredictions([0, 1, 2, 3], [1, 0, 1, 1], [1, 0, 0, 1], [[0, 1], [1, 0], [1, 0], [0, 1]])}
    cache.store(key(), {"validation": {"accuracy": 75.0}}, {"device": "cpu"}, predictions, {"valid": True, "reason": "r"})
    return cache.entry_path(key())


def recomputed(entry, predictions):
    split = predictions["validation"]
    right = sum(p == r for p, r in zip(split.predicted, split.references, strict=True))
    return {"metrics": {"validation": {"accuracy": 100 * right / len(split)}}, "validity": {"valid": True, "reason": "again"}}


def test_edited_metrics_are_recomputed_from_the_intact_predictions(cache):
    path = stored_with_predictions(cache)
    path.write_text(path.read_text().replace('"accuracy": 75.0', '"accuracy": 99.0'))
    assert cache.peek(key()) is None, "an edited entry is never a silent hit"
    with pytest.warns(CacheWarning, match="edited by hand.*recomputed from its intact stored predictions"):
        entry = cache.load(key(), recomputed)
    assert entry["metrics"] == {"validation": {"accuracy": 75.0}} and entry["rescored"]
    assert cache.peek(key()) == entry, "the rewritten entry carries digests that match"


def test_the_one_read_checks_an_entry_and_recomputes_its_scores_from_its_predictions(cache):
    path = stored_with_predictions(cache)
    assert cache.read(key()).scores is None, "without recompute nothing is scored"
    found = cache.read(key(), recomputed)
    assert found.intact and found.predictions["validation"].predicted == [1, 0, 0, 1]
    assert found.scores["metrics"] == found.entry["metrics"] and found.scores["validity"]["reason"] == "again"
    assert found.scores_differ, "the stored validity's reason is not the recomputed one"
    path.write_text(path.read_text().replace('"accuracy": 75.0', '"accuracy": 99.0'))
    edited = cache.read(cache.folder(key()), recomputed)  # by folder, as the rescore command and the check read
    assert edited.problem and edited.recomputable and not edited.refused and edited.scores_differ
    assert json.loads(path.read_text())["metrics"] == {"validation": {"accuracy": 99.0}}, "reading writes nothing"
    older = key(seed=7)
    cache.store(older, METRICS, {})
    assert cache.read(older, recomputed).unscored.what.startswith("no stored predictions")
    assert cache.read(key(seed=8), recomputed).absent


@pytest.mark.parametrize("edit", ["predictions", "record", "predictions file gone"])
def test_edited_predictions_or_records_are_refused(cache, edit):
    path = stored_with_predictions(cache)
    if edit == "predictions":
        stored = cache.predictions_path(key())
        stored.write_text(stored.read_text().replace("[1,0,0,1]", "[1,0,1,1]"))
    elif edit == "record":
        path.write_text(path.read_text().replace('"device": "cpu"', '"device": "cuda"'))
    else:
        cache.predictions_path(key()).unlink()
    with pytest.warns(CacheWarning, match="cannot be used"):
        assert cache.load(key(), recomputed) is None


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
