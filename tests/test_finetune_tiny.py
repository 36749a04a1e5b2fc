"""The whole fine-tuning path on tiny random models and fixture data, in seconds: job, cache, distillation, claims.

The tiny BERT and DistilBERT (fixtures/configs/tiny-*: 32 wide, a 233-token vocabulary) get seeded
random weights; the data are the fixture files (fixtures/glue, fixtures/squad) plus a few IMDb rows
written here. Every test goes through the same functions the slow claims use (harness.finetune,
harness.cache, harness.accuracy, claims/test_accuracy.py); their scores mean nothing, their plumbing
is what is checked.
"""

import contextlib
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from tiny_models import tiny_job
from transformers import AutoTokenizer

from harness.errors import ClaimsError
from harness.measure.finetune.cache import CacheWarning, JobKey, ResultCache
from harness.measure.finetune.distill import DistillationTrainer, soft_kl
from harness.measure.finetune.job import job_key, make_job
from harness.measure.finetune.predictions import metrics_of
from harness.measure.finetune.run import run_job
from harness.reporting.check import cache_keys
from harness.spec.tasks import get_task

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ACCURACY_CLAIMS = Path(__file__).resolve().parents[1] / "claims" / "test_accuracy.py"


@pytest.fixture
def cache(tmp_path) -> ResultCache:
    return ResultCache(tmp_path / "cache")


@pytest.fixture(scope="session")
def trained_cache(tiny_checkpoints, tiny_data, tmp_path_factory) -> Path:
    """A cache holding one trained tiny-bert SST-2 job (copied by each test that changes it)."""
    root = tmp_path_factory.mktemp("trained") / "cache"
    run_job(tiny_job(tiny_checkpoints, tiny_data), ResultCache(root))
    return root


@pytest.fixture
def sst2_cache(trained_cache, tmp_path) -> ResultCache:
    """A private copy of the cache with the trained SST-2 job."""
    shutil.copytree(trained_cache, tmp_path / "cache")
    return ResultCache(tmp_path / "cache")




# ---------------------------------------------------------------- the job on each kind of task


@pytest.mark.parametrize(("task", "role"), [("stsb", "distilbert"), ("mnli", "bert"), ("squad", "distilbert")])
def test_job_fine_tunes_and_scores_every_evaluation_split(tiny_checkpoints, tiny_data, cache, task, role):
    job = tiny_job(tiny_checkpoints, tiny_data, task, role)
    result = run_job(job, cache)
    spec = get_task(task)
    assert not result.cached
    assert set(result.metrics) == set(spec.eval_splits)
    for split, values in result.metrics.items():
        assert set(values) >= set(spec.paper_metrics), split
        for name, value in values.items():
            assert value is None or (-100 <= value <= 100), (name, value)
    entry = result.entry
    assert entry["optimisation_steps"] > 0 and entry["wall_time_s"]["train"] > 0
    assert entry["configuration"]["settings"]["learning_rate"] == job.settings.learning_rate
    assert entry["libraries"]["transformers"] and entry["environment"]["cpu"]
    assert entry["data_sources"][spec.train_split].startswith(("glue_tsv:", "squad_json:"))
    for split in spec.eval_splits:  # the predictions are kept, and the metrics are theirs
        predictions = result.predictions(split)
        assert len(predictions) == entry["eval_rows"][split] and (predictions.logits is not None) == (spec.kind == "classification")
        assert metrics_of(spec, predictions) == result.metrics[split]
    assert "valid" in entry["validity"] and entry["validity"]["reason"]
    assert not cache.trainer_dir(result.key).exists(), "a finished job's Trainer checkpoints are removed"
    assert (cache.model_dir(result.key) / "config.json").is_file() == (task == "squad"), "only SQuAD models are kept"


# ---------------------------------------------------------------- the cache around the job


def test_second_run_reads_the_cache_and_trains_nothing(tiny_checkpoints, tiny_data, sst2_cache, no_training):
    job = tiny_job(tiny_checkpoints, tiny_data)
    first = json.loads(sst2_cache.entry_path(job_key(job)).read_text())
    again = run_job(job, sst2_cache)
    assert again.cached and again.entry == first
    assert job_key(job.with_seed(43)).job_id != again.key.job_id, "another seed is another job"


def test_refresh_trains_again(tiny_checkpoints, tiny_data, sst2_cache):
    job = tiny_job(tiny_checkpoints, tiny_data)
    before = sst2_cache.load(job_key(job))
    refreshed = run_job(job, sst2_cache, refresh=True)
    assert not refreshed.cached and refreshed.entry["created"] >= before["created"]
    assert refreshed.metrics == before["metrics"], "the same seed on the same machine gives the same result"


def test_corrupt_entry_reruns_and_is_replaced(tiny_checkpoints, tiny_data, sst2_cache):
    job = tiny_job(tiny_checkpoints, tiny_data)
    path = sst2_cache.entry_path(job_key(job))
    good = json.loads(path.read_text())
    path.write_text('{"schema_version": 1, "metrics": {"validation": {"accur')  # a half-written entry
    with pytest.warns(CacheWarning, match="cannot be used"):
        rerun = run_job(job, sst2_cache)
    assert not rerun.cached and rerun.metrics == good["metrics"]
    assert json.loads(path.read_text())["metrics"] == good["metrics"]


def test_result_of_other_library_versions_reruns(tiny_checkpoints, tiny_data, cache):
    job = tiny_job(tiny_checkpoints, tiny_data, "wnli")
    key = job_key(job)
    stale = JobKey(key.configuration, {**key.libraries, "transformers": "4.46.0"})
    cache.store(stale, {"validation": {"accuracy": 99.0}}, {})
    with pytest.warns(CacheWarning, match="other library versions"):
        result = run_job(job, cache)
    assert not result.cached and result.key.env_id != stale.env_id
    assert cache.entry_path(stale).is_file(), "the other versions' result stays for those versions"


def test_predictions_keep_the_dataset_order_with_length_grouped_training(tiny_checkpoints, tiny_data, tmp_path):
    """transformers 5 length-groups evaluation too under group_by_length: predict_in_order must undo that."""
    from transformers import AutoModelForSequenceClassification, DataCollatorWithPadding, Trainer

    from harness.data import loading, preprocess
    from harness.measure.finetune.training import predict_in_order, training_arguments

    job = tiny_job(tiny_checkpoints, tiny_data, "sst2", overrides={"train_sampling": "group_by_length", "eval_batch_size": 2})
    tokenizer = AutoTokenizer.from_pretrained(job.checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(job.checkpoint, num_labels=2).eval()
    features = preprocess.tokenize_task(loading.load_split(get_task("sst2"), "train", tiny_data), job.spec, tokenizer,
                                       job.settings.max_length)
    trainer = Trainer(model=model, args=training_arguments(job, tmp_path), data_collator=DataCollatorWithPadding(tokenizer),
                      processing_class=tokenizer)
    predicted = predict_in_order(trainer, features)
    with torch.no_grad():
        one_by_one = [model(**tokenizer(row["sentence"], return_tensors="pt")).logits[0].numpy() for row in
                      loading.load_split(get_task("sst2"), "train", tiny_data)]
    assert trainer.args.train_sampling_strategy == "group_by_length"
    assert len(predicted) == len(one_by_one)
    for row, (batched, single) in enumerate(zip(predicted, one_by_one, strict=True)):
        assert batched == pytest.approx(single, abs=1e-4), f"row {row} is out of order"


def test_interrupted_run_resumes_from_its_last_checkpoint(tiny_checkpoints, tiny_data, cache, tmp_path):
    from transformers import TrainerCallback

    class Interrupt(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:  # smoke saves every 2 steps: checkpoint-2 is on disk
                raise KeyboardInterrupt("simulated interruption")

    job = tiny_job(tiny_checkpoints, tiny_data, "cola")
    with pytest.raises(KeyboardInterrupt):
        run_job(job, cache, callbacks=(Interrupt(),))
    assert cache.load(job_key(job)) is None, "an interrupted job leaves no result"
    assert cache.last_checkpoint(job_key(job)).name == "checkpoint-2"
    resumed = run_job(job, cache)
    uninterrupted = run_job(job, ResultCache(tmp_path / "uninterrupted"))
    assert resumed.entry["resumed_from"] == "checkpoint-2"
    assert resumed.entry["optimisation_steps"] == uninterrupted.entry["optimisation_steps"]
    assert resumed.metrics == uninterrupted.metrics
    for field in ("training_loss", "loss_curve", "validity"):  # Trainer's own loss would cover only the steps after the resume
        assert resumed.entry[field] == uninterrupted.entry[field], field
    assert resumed.predictions().logits == uninterrupted.predictions().logits


# ---------------------------------------------------------------- bad input


def test_checkpoint_folder_without_weights_is_a_clear_error(tiny_data, cache):
    job = make_job(str(FIXTURES / "configs" / "tiny-bert"), "sst2", "smoke", data_dir=tiny_data)
    with pytest.raises(ClaimsError, match="has no weights"):
        run_job(job, cache)
    assert not any(cache.root.rglob("result.json"))


def test_unknown_task_or_protocol_names_the_close_ones(tiny_checkpoints):
    with pytest.raises(ClaimsError, match="did you mean 'sst2'"):
        make_job(tiny_checkpoints["bert"], "sst3", "smoke")
    with pytest.raises(ClaimsError, match="did you mean 'smoke'"):
        make_job(tiny_checkpoints["bert"], "sst2", "smok")


# ---------------------------------------------------------------- DistilBERT (D)


def test_distillation_loss_is_run_squad_w_distillations(tiny_checkpoints, tmp_path):
    from transformers import AutoModelForQuestionAnswering, TrainingArguments

    student = AutoModelForQuestionAnswering.from_pretrained(tiny_checkpoints["distilbert"])
    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_checkpoints["bert"])
    trainer = DistillationTrainer(model=student, args=TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none"),
                                  teacher=teacher, temperature=2.0, alpha_ce=0.5, alpha_task=0.5)
    batch = {"input_ids": torch.tensor([[2, 40, 41, 3, 50, 51, 52, 3]]), "attention_mask": torch.ones(1, 8, dtype=torch.long),
             "token_type_ids": torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1]]),
             "start_positions": torch.tensor([5]), "end_positions": torch.tensor([6])}
    student.eval()
    loss = trainer.compute_loss(student, batch)
    with torch.no_grad():
        s = student(**{k: v for k, v in batch.items() if k != "token_type_ids"})
        t = teacher(**{k: v for k, v in batch.items() if "positions" not in k})

    def kl(student_logits, teacher_logits):  # the script's nn.KLDivLoss(reduction="batchmean") * T^2, by hand
        p_teacher = torch.softmax(teacher_logits / 2.0, -1)
        return (p_teacher * (p_teacher.log() - torch.log_softmax(student_logits / 2.0, -1))).sum() / 1 * 4.0

    expected = 0.5 * (kl(s.start_logits, t.start_logits) + kl(s.end_logits, t.end_logits)) / 2 + 0.5 * s.loss
    assert torch.allclose(loss, expected, atol=1e-5)
    assert soft_kl(s.start_logits, s.start_logits, 2.0).item() == pytest.approx(0.0, abs=1e-6)


def test_distilbert_d_learns_from_the_fine_tuned_bert(tiny_checkpoints, tiny_data, cache):
    job = tiny_job(tiny_checkpoints, tiny_data, "squad", "distilbert", teacher=tiny_checkpoints["bert"])
    result = run_job(job, cache)
    teacher_key = job_key(job.teacher)
    assert result.key.configuration["teacher"] == teacher_key.id, "the teacher's own key is part of the student's"
    assert cache.load(teacher_key) is not None and (cache.model_dir(teacher_key) / "model.safetensors").is_file()
    assert result.entry["teacher_model"] == str(cache.model_dir(teacher_key))
    plain = run_job(tiny_job(tiny_checkpoints, tiny_data, "squad", "distilbert"), cache)
    assert plain.key.job_id != result.key.job_id
    assert plain.entry["training_loss"] != result.entry["training_loss"], "the distillation term changes the loss"
    shutil.rmtree(cache.model_dir(teacher_key))  # a teacher whose model is gone is trained again, not trusted
    with pytest.warns(CacheWarning, match="teacher is missing"):
        assert not run_job(job.teacher, cache, need_model=True).cached
    assert (cache.model_dir(teacher_key) / "model.safetensors").is_file()


# ---------------------------------------------------------------- the claims, end to end


BASE = {"bert": {"cola": 56.0, "mnli": 84.0, "mrpc": 88.0, "qnli": 91.0, "qqp": 89.0, "rte": 69.0, "sst2": 92.0,
                 "stsb": 89.0, "wnli": 53.0, "imdb": 93.5, "squad": 81.0},
        "distilbert": {"cola": 51.0, "mnli": 82.0, "mrpc": 87.0, "qnli": 89.0, "qqp": 88.0, "rte": 60.0, "sst2": 91.0,
                       "stsb": 87.0, "wnli": 56.0, "imdb": 92.9, "squad": 77.0},
        "distilbert (D)": {"squad": 79.0}}
SEED_OFFSETS = {42: 0.0, 43: 2.0, 44: -1.0}  # the median of three seeds is the base value


@pytest.fixture
def canned_runner(monkeypatch, claims_registry):
    """An AccuracyRunner over 3 seeds whose jobs return BASE + SEED_OFFSETS instead of training."""
    from harness.measure import accuracy
    from harness.measure.finetune.job import JobResult

    def fake_run_job(job, cache=None, refresh=False, callbacks=()):
        role = "distilbert (D)" if job.teacher else ("bert" if job.checkpoint == "B" else "distilbert")
        value = BASE[role][job.task] + SEED_OFFSETS[job.seed]
        spec = job.spec
        metrics = {spec.paper_split: {name: value for name in spec.metrics}}
        return JobResult(job, JobKey({"fake": [job.checkpoint, job.task, job.seed]}, {}), {"metrics": metrics}, cached=True)

    monkeypatch.setattr(accuracy, "run_job", fake_run_job)
    return accuracy.AccuracyRunner({"bert": "B", "distilbert": "D"}, protocol="smoke", seeds=3)


def test_claims_take_medians_macro_scores_retention_and_gaps(canned_runner, claims_registry):
    measured = {claim.id: canned_runner.measure(claim).value for claim in
                claims_registry.family("glue", "macro", "retention", "downstream")}
    glue = [t for t in BASE["bert"] if t not in ("imdb", "squad")]
    assert measured["glue.rte.bert"] == 69.0 and measured["glue.cola.distilbert"] == 51.0  # medians of 3 seeds
    macro_bert, macro_distilbert = (sum(BASE[r][t] for t in glue) / 9 for r in ("bert", "distilbert"))
    assert measured["macro.bert"] == pytest.approx(macro_bert)
    assert measured["retention.with_wnli"] == pytest.approx(100 * macro_distilbert / macro_bert)
    without = [t for t in glue if t != "wnli"]
    assert measured["retention.without_wnli"] == pytest.approx(
        100 * sum(BASE["distilbert"][t] for t in without) / sum(BASE["bert"][t] for t in without))
    assert measured["downstream.imdb.gap"] == pytest.approx(93.5 - 92.9)
    assert measured["downstream.squad.gap"] == pytest.approx(81.0 - 77.0)
    assert measured["downstream.squad.em.distilbert_d"] == 79.0 and measured["downstream.squad.f1.distilbert_d"] == 79.0


def run_claims(pytester, checkpoints, data_root, cache_dir, report_dir):
    pytester.makeini("[pytest]\n")  # the inner run's root is its own folder, whatever the paths in the options
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    test_file = pytester.makepyfile(test_accuracy=ACCURACY_CLAIMS.read_text())
    return pytester.runpytest_subprocess(
        str(test_file), "--run-slow", "--protocol", "smoke", "--bert-checkpoint", checkpoints["bert"],
        "--distilbert-checkpoint", checkpoints["distilbert"], "--data-dir", str(data_root), "--cache-dir", str(cache_dir),
        "--report-dir", str(report_dir), "-p", "no:cacheprovider", "-q")


def accuracy_results(report_dir: Path) -> dict[str, dict]:
    document = json.loads((report_dir / "results.json").read_text())
    families = ("glue", "macro", "retention", "downstream")
    return {c["id"]: c for c in document["claims"] if c["family"] in families}


def test_every_accuracy_claim_reaches_a_verdict_and_a_second_run_trains_nothing(pytester, tiny_checkpoints, tiny_data, tmp_path):
    cache_dir = tmp_path / "cache"
    first = run_claims(pytester, tiny_checkpoints, tiny_data, cache_dir, tmp_path / "run1")
    claims = accuracy_results(tmp_path / "run1")
    assert len(claims) == 32
    for claim_id, claim in claims.items():
        if claim["verdict"] == "error":  # random tiny models on 3-5 dev examples collapse: no measurement, and it says why
            assert "no better than a constant predictor" in claim["message"] or "NaN" in claim["message"], (claim_id, claim["message"])
        else:
            assert claim["verdict"] in ("reproduced", "not reproduced", "inconclusive", "not judged"), (claim_id, claim["message"])
            assert claim["measured"] is not None and claim["details"]["cache"], claim_id
    measured = {claim_id: claim for claim_id, claim in claims.items() if claim["verdict"] != "error"}
    assert "trained" in {state for claim in measured.values() for state in claim["details"]["cache"]}
    assert claims["downstream.squad.em.distilbert_d"]["details"]["role"] == "distilbert (D)"
    entries = {path: path.stat().st_mtime_ns for path in cache_dir.rglob("result.json")}
    assert len(entries) == 23  # 9 GLUE tasks x 2 models, IMDb x 2, SQuAD x 2, DistilBERT (D)

    second = run_claims(pytester, tiny_checkpoints, tiny_data, cache_dir, tmp_path / "run2")
    again = accuracy_results(tmp_path / "run2")
    for claim_id, claim in again.items():
        if claim_id in measured:
            assert set(claim["details"]["cache"]) == {"hit"}, f"{claim_id} trained again: {claim['details']['cache']}"
        assert (claim["measured"], claim["verdict"], claim["message"]) == \
            (claims[claim_id]["measured"], claims[claim_id]["verdict"], claims[claim_id]["message"]), claim_id
    assert {path: path.stat().st_mtime_ns for path in cache_dir.rglob("result.json")} == entries, "a second run rewrote an entry"
    assert second.parseoutcomes() == first.parseoutcomes()

    # python -m harness check: the run follows from the registry, the cache's predictions and the judge ...
    checked = harness_check(tmp_path / "run1", cache_dir)
    assert checked.returncode == 0 and f"{len(measured)} measurements recomputed" in checked.stdout, checked.stdout + checked.stderr
    # ... and an edited value, an edited verdict and an edited cache entry are each named
    document = json.loads((tmp_path / "run1" / "results.json").read_text())
    edited = next(c for c in document["claims"] if c["id"] in measured)
    edited["measured"] += 1.0
    size = next(c for c in document["claims"] if c["id"] == "size.bert.parameters")
    size.update(verdict="reproduced", measured=120.0)  # a size that was not measured, and a verdict that does not follow
    (tmp_path / "run1" / "results.json").write_text(json.dumps(document))
    key_id = next(iter(cache_keys(edited["details"])))  # an entry a measured claim read (check checks those)
    entry_path = cache_dir.joinpath(*key_id.split("/"), "result.json")
    entry = json.loads(entry_path.read_text())
    split = next(iter(entry["metrics"]))
    entry["metrics"][split] = {name: 99.0 for name in entry["metrics"][split]}
    entry_path.write_text(json.dumps(entry))
    # an error claim (its runs failed) must follow too: its message and summary, and the options that gave its jobs
    failed = [c for c in document["claims"] if c["verdict"] == "error" and list(cache_keys(c["details"]))]
    assert len(failed) >= 2, "the tiny models' collapsed runs: error claims that read cache entries"
    failed[0]["message"] = f"{failed[0]['id']}: reproduced, everything is fine"
    failed[1]["details"]["summary"] = "accuracy 93.00"
    (tmp_path / "run1" / "results.json").write_text(json.dumps(document))
    checked = harness_check(tmp_path / "run1", cache_dir)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"{edited['id']}: results.json says measured" in checked.stdout, checked.stdout
    assert "size.bert.parameters: results.json says measured 120.0, the architectures give" in checked.stdout
    assert "size.bert.parameters: results.json says 'reproduced', the judge gives 'not reproduced'" in checked.stdout
    assert f"cache entry {entry_path.parent}" in checked.stdout and "do not match their content digest" in checked.stdout
    assert f"{failed[0]['id']}: results.json's message says '{failed[0]['id']}: reproduced, everything is fine', the " \
           "cached predictions" in checked.stdout, checked.stdout
    assert f"{failed[1]['id']}: results.json's summary says 'accuracy 93.00', but the claim ended in an error" in checked.stdout
    document["options"]["protocol"] = "paper"  # every fine-tuning claim, an error's too, read other jobs than these give
    (tmp_path / "run1" / "results.json").write_text(json.dumps(document))
    checked = harness_check(tmp_path / "run1", cache_dir)
    assert f"{failed[1]['id']}: results.json's options (protocol 'paper'" in checked.stdout, checked.stdout
    assert "do not give 1 job(s) its claim read" in checked.stdout, checked.stdout


def harness_check(run_dir: Path, cache_dir: Path) -> subprocess.CompletedProcess:
    """`python -m harness check RUN_DIR --cache-dir DIR`, run in this process (its output and exit status)."""
    from harness.cli import main

    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        status = main(["check", str(run_dir), "--cache-dir", str(cache_dir)])
    return subprocess.CompletedProcess(["python", "-m", "harness", "check"], status, output.getvalue(), "")


def test_the_executors_plan_the_replacement_seeds_of_invalid_runs(tiny_checkpoints, tiny_data, cache, claims_registry):
    """--rerun-invalid under an executor: the next seed is planned from what the cache holds, until enough are
    valid or the replacements run out (a learning rate of 1e6 makes every run's loss NaN: every seed invalid)."""
    from harness.measure.accuracy import AccuracyRunner

    runner = AccuracyRunner(tiny_checkpoints, protocol="smoke", seeds=1, data_dir=tiny_data, cache=cache,
                            overrides={"learning_rate": 1e6}, rerun_invalid=2)
    claim = [claims_registry.get("glue.sst2.bert")]
    assert runner.replacement_jobs(claim) == [], "the requested seed is the planned job, not a replacement"
    planned = [run_job(job, cache) for job in runner.planned_jobs(claim)]
    assert [result.job.seed for result in planned] == [42] and not planned[0].validity.valid
    seeds = []
    while replacements := runner.replacement_jobs(claim):
        seeds += [job.seed for job in replacements]
        for job in replacements:
            run_job(job, cache)
    assert seeds == [43, 44], "each round plans the next seed, none past --rerun-invalid"
