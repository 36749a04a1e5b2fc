"""`python -m harness finetune`, --set, --protocols and gradient accumulation as a setting.

The command runs the claims' own job (same Job, cache and key) and leaves run_glue's files; it is run end to end on
the tiny random BERT (tests/tiny_models.py) over real SST-2 rows from ../shared (skipped with the reason where that
is absent) and over the fixture rows. A --set value is part of the key, a bad one is one line naming the setting and
what it takes; --protocols FILE serves the command and the claims alike.
"""

import contextlib
import io
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.errors import ClaimsError
from harness.measure.finetune.job import job_key, make_job
from harness.spec import protocols
from harness.spec.tasks import get_task

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
QUICK = ["--protocol", "smoke", "--device", "cpu", "--progress", "none"]


def finetune(*args: str) -> subprocess.CompletedProcess:
    """`python -m harness finetune ARGS`, run in this process (its stdout, stderr and exit status)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["finetune", *args])
    return subprocess.CompletedProcess(["python", "-m", "harness", "finetune", *args], status, out.getvalue(), err.getvalue())


# ---------------------------------------------------------------- settings: --set, ranges, gradient accumulation


@pytest.mark.parametrize(("text", "message"), [
    ("lr=3e-5", r"--set lr=3e-5: unknown setting 'lr'; known: .*learning_rate"),
    ("learnig_rate=3e-5", r"did you mean 'learning_rate'"),
    ("learning_rate", r"expected NAME=VALUE"),
    ("learning_rate=fast", r"'fast' is not a number above 0"),
    ("learning_rate=-1", r"out of range: learning_rate takes a number above 0"),
    ("train_batch_size=2.5", r"'2.5' is not a whole number of at least 1"),
    ("gradient_accumulation_steps=0", r"gradient_accumulation_steps takes a whole number of at least 1"),
    ("warmup_ratio=1", r"warmup_ratio takes a number of at least 0 and below 1"),
    ("lr_scheduler=cosin", r"did you mean 'cosine'"),
    ("first_seed=null", r"'null' is not a whole number of at least 0"),
])
def test_a_bad_setting_is_one_line_naming_it_and_what_it_takes(text, message):
    with pytest.raises(ClaimsError, match=message) as raised:
        protocols.parse_override(text)
    assert "\n" not in raised.value.what


def test_settings_are_typed_and_a_later_set_wins():
    assert protocols.parse_overrides(["learning_rate=3e-5", "max_train_samples=null", "lr_scheduler=cosine",
                                      "gradient_accumulation_steps=2", "gradient_accumulation_steps=4"]) == \
        {"learning_rate": 3e-5, "max_train_samples": None, "lr_scheduler": "cosine", "gradient_accumulation_steps": 4}


def test_the_string_settings_choices_are_transformers_own():
    from transformers import TrainingArguments
    from transformers.trainer_utils import SchedulerType

    assert set(protocols.CHOICES["lr_scheduler"]) <= {member.value for member in SchedulerType}
    sampling = TrainingArguments.__dataclass_fields__["train_sampling_strategy"].metadata["choices"]
    assert set(protocols.CHOICES["train_sampling"]) <= set(sampling)


def test_gradient_accumulation_is_a_setting_the_key_and_trainer_read(tiny_checkpoints, tiny_data, tmp_path):
    from harness.measure.finetune.training import training_arguments

    plain = make_job(tiny_checkpoints["bert"], "sst2", "smoke", data_dir=tiny_data)
    accumulated = make_job(tiny_checkpoints["bert"], "sst2", "smoke", data_dir=tiny_data,
                           overrides={"gradient_accumulation_steps": 4, "train_batch_size": 1})
    assert plain.settings.gradient_accumulation_steps == 1  # every protocol says so, with its source
    assert job_key(plain).configuration["effective_train_batch_size"] == 4
    assert job_key(accumulated).configuration["effective_train_batch_size"] == 4  # 1 row x 4 steps: the same batch ...
    assert job_key(accumulated).id != job_key(plain).id  # ... but another job
    assert training_arguments(accumulated, tmp_path).gradient_accumulation_steps == 4


def test_accumulated_batches_are_averaged_not_summed(tiny_checkpoints, tiny_data, tmp_path):
    """4 batches of 1 make one step of 4 rows: the loss (and the gradient) an average, as with one batch of 4. Trainer
    alone would sum them for a head that ignores num_items_in_batch (measured: 2.772 against 0.693 on SST-2 rows)."""
    from harness.measure.finetune.cache import ResultCache
    from harness.measure.finetune.run import run_job

    losses = {}
    for batch, steps in ((4, 1), (1, 4)):
        job = make_job(tiny_checkpoints["bert"], "sst2", "smoke", data_dir=tiny_data,
                       overrides={"train_batch_size": batch, "gradient_accumulation_steps": steps})
        result = run_job(job, ResultCache(tmp_path / "cache"))
        losses[batch, steps] = (result.entry["optimisation_steps"], result.entry["training_loss"])
    assert losses[1, 4][0] == losses[4, 1][0]  # the same optimisation steps
    assert losses[1, 4][1] == pytest.approx(losses[4, 1][1], rel=0.1)  # an average: near ln 2, not 4 x ln 2


# ---------------------------------------------------------------- the command end to end


def test_the_command_writes_run_glue_outputs_and_a_second_run_trains_nothing(tiny_checkpoints, tiny_data, tmp_path):
    common = ["--checkpoint", tiny_checkpoints["bert"], "--task", "mrpc", "--data-dir", str(tiny_data),
              "--cache-dir", str(tmp_path / "cache"), *QUICK]
    first = finetune(*common, "--output-dir", str(tmp_path / "out"))
    assert first.returncode in (0, 1), first.stderr  # 1: a tiny random model may be no better than a constant
    assert "trained" in first.stdout and "wrote" in first.stdout
    out = tmp_path / "out"
    train, evaluation, merged = (json.loads((out / f"{name}_results.json").read_text()) for name in ("train", "eval", "all"))
    assert {"epoch", "train_loss", "train_runtime", "train_samples", "train_samples_per_second"} <= set(train)
    assert {"eval_accuracy", "eval_f1", "eval_samples", "eval_runtime", "epoch"} <= set(evaluation)
    assert merged == {**evaluation, **train}
    job = json.loads((out / "job.json").read_text())
    assert evaluation["eval_accuracy"] == pytest.approx(job["metrics_points"]["validation"]["accuracy"] / 100)  # run_glue's scale
    lines = [json.loads(line) for line in (out / "eval_predictions_validation.jsonl").read_text().splitlines()]
    assert len(lines) == evaluation["eval_samples"]
    assert {"idx", "sentence1", "sentence2", "label", "prediction", "label_id", "prediction_id", "logits"} <= set(lines[0])
    assert lines[0]["sentence1"].strip() and lines[0]["label"] in get_task("mrpc").label_names

    again = finetune(*common, "--output-dir", str(tmp_path / "again"))
    assert "read from the cache" in again.stdout
    assert json.loads((tmp_path / "again" / "all_results.json").read_text()) == merged

    changed = finetune(*common, "--output-dir", str(tmp_path / "changed"), "--set", "learning_rate=3e-5")
    assert "trained" in changed.stdout and "read from the cache" not in changed.stdout  # an override is another key
    assert json.loads((tmp_path / "changed" / "job.json").read_text())["overrides"] == {"learning_rate": 3e-5}


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "lr=3e-5"], "error: --set lr=3e-5: unknown setting 'lr'; known: "),
    (["--set", "train_batch_size=0"], "error: --set train_batch_size=0: 0 is out of range"),
    (["--protocol", "papr"], "error: unknown protocol 'papr'"),
    (["--task", "sst3"], "error: unknown task 'sst3'"),
])
def test_a_mistake_is_one_line_and_exit_status_2(tiny_checkpoints, tmp_path, args, message):
    result = finetune("--checkpoint", tiny_checkpoints["bert"], "--task", "sst2", "--cache-dir", str(tmp_path / "cache"),
                      *QUICK, *args)  # the last --protocol or --task wins
    assert result.returncode == 2 and result.stderr.startswith(message), result.stderr
    assert len(result.stderr.splitlines()) == 2  # the problem, then the fix


def test_the_command_on_real_sst2_rows(tiny_checkpoints, tmp_path):
    if not (SHARED_DATA / "glue" / "SST-2" / "dev.tsv").is_file():
        pytest.skip(f"real SST-2 is not at {SHARED_DATA / 'glue' / 'SST-2'} (../shared beside the project)")
    result = finetune("--checkpoint", tiny_checkpoints["distilbert"], "--task", "sst2", "--data-dir", str(SHARED_DATA),
                      "--cache-dir", str(tmp_path / "cache"), "--output-dir", str(tmp_path / "out"), *QUICK,
                      "--set", "max_train_samples=64", "--set", "max_eval_samples=40", "--seed", "7")
    assert result.returncode in (0, 1), result.stderr
    lines = [json.loads(line) for line in (tmp_path / "out" / "eval_predictions_validation.jsonl").read_text().splitlines()]
    dev = (SHARED_DATA / "glue" / "SST-2" / "dev.tsv").read_text(encoding="utf-8").splitlines()[1:41]
    assert [line["sentence"] for line in lines] == [row.split("\t")[0] for row in dev]  # the real text, in order
    assert [line["label_id"] for line in lines] == [int(row.split("\t")[1]) for row in dev]
    job = json.loads((tmp_path / "out" / "job.json").read_text())
    assert job["seed"] == 7 and job["settings"]["max_train_samples"] == 64


# ---------------------------------------------------------------- --protocols FILE


@pytest.fixture
def own_protocols(tmp_path) -> Path:
    """A protocols file with one protocol of its own: smoke at another learning rate."""
    document = yaml.safe_load(protocols.DEFAULT_PROTOCOLS.read_text(encoding="utf-8"))
    mine = document["protocols"]["smoke"]
    mine["settings"]["learning_rate"] = 5e-4
    mine["sources"]["learning_rate"] = "a test's own value"
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"schema_version": 1, "protocols": {"mine": mine}}), encoding="utf-8")
    return path


def test_protocols_file_serves_the_command(tiny_checkpoints, tiny_data, tmp_path, own_protocols):
    result = finetune("--checkpoint", tiny_checkpoints["bert"], "--task", "rte", "--protocols", str(own_protocols),
                      "--protocol", "mine", "--data-dir", str(tiny_data), "--cache-dir", str(tmp_path / "cache"),
                      "--output-dir", str(tmp_path / "out"), "--device", "cpu", "--progress", "none")
    assert result.returncode in (0, 1), result.stderr
    assert json.loads((tmp_path / "out" / "job.json").read_text())["settings"]["learning_rate"] == 5e-4
    assert protocols.active_file() == protocols.DEFAULT_PROTOCOLS  # the command leaves the process as it found it
    bad = finetune("--checkpoint", tiny_checkpoints["bert"], "--task", "rte", "--protocols", str(own_protocols), *QUICK)
    assert bad.returncode == 2 and "unknown protocol 'smoke'" in bad.stderr and str(own_protocols) in bad.stderr


def test_protocols_file_serves_the_claims(pytester, tiny_checkpoints, tiny_data, tmp_path, own_protocols):
    pytester.makeini("[pytest]\n")
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    test_file = pytester.makepyfile(test_accuracy=(REPO_ROOT / "claims" / "test_accuracy.py").read_text())
    options = [str(test_file), "--run-slow", "-k", "glue.rte.bert", "--device", "cpu",
               "--bert-checkpoint", tiny_checkpoints["bert"],
               "--data-dir", str(tiny_data), "--cache-dir", str(tmp_path / "cache"), "--report-dir", str(tmp_path / "report"),
               "-p", "no:cacheprovider", "--protocols", str(own_protocols)]
    result = pytester.runpytest_subprocess(*options, "--protocol", "mine", "--progress", "none")
    assert result.ret in (0, 1), result.stdout.str()
    result.stdout.fnmatch_lines(["fine-tuning: 1 job for 1 claim (1 seed, protocol mine): 1 to train, 0 read from the cache *"])
    assert "[job " not in result.stdout.str()  # --progress none: the plan, and no progress
    document = json.loads((tmp_path / "report" / "results.json").read_text())
    claim = next(c for c in document["claims"] if c["id"] == "glue.rte.bert")
    assert claim["verdict"] in ("not judged", "error"), claim  # "mine" is a quick protocol (smoke's copy)
    assert (document["options"]["protocol"], document["options"]["protocols"]) == ("mine", str(own_protocols))
    [entry] = (tmp_path / "cache").glob("*/*/result.json")  # the one job, trained with the file's learning rate
    assert json.loads(entry.read_text())["configuration"]["settings"]["learning_rate"] == 5e-4
    wrong = pytester.runpytest(*options, "--protocol", "paper")  # in this process: refused before anything runs
    assert wrong.ret == pytest.ExitCode.USAGE_ERROR
    wrong.stderr.fnmatch_lines(["*unknown protocol 'paper'*mine.yaml*known: mine*"])
    assert protocols.active_file() == protocols.DEFAULT_PROTOCOLS
