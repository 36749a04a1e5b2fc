"""What a run shows while it measures, and where Trainer reports: live progress, the job plan, --report-to.

The listeners' throttling (a terminal's line rewritten in place, a log's lines), a tiny job's progress (its number,
Trainer's step, loss and time left, the evaluation, the line when it is read back), the speed pass's rounds, and
an inner pytest run without -s, under -q and --junitxml, that prints the plan and the jobs' progress, writes
TensorBoard event files with the training loss into its report dir (tests/test_finetune_cli.py's inner run checks
that --progress none prints none of it).
"""

import importlib.util
import io
import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from tiny_models import tiny_job

from harness.measure import live
from harness.measure.finetune import progress, tracking
from harness.measure.finetune.cache import ResultCache
from harness.measure.finetune.run import run_job

REPO_ROOT = Path(__file__).resolve().parents[1]


class Recorder:
    """A listener that keeps what it is told."""

    def __init__(self):
        self.lines, self.statuses = [], []

    def line(self, text: str) -> None:
        self.lines.append(text)

    def status(self, text: str, milestone: bool = False) -> None:
        self.statuses.append((text, milestone))


# ---------------------------------------------------------------- listeners


def test_a_log_gets_events_milestones_and_a_status_now_and_then():
    stream = io.StringIO()
    listener = live.StreamListener("lines", stream)
    listener.status("step 1")  # the first status is shown
    listener.status("step 2")  # too soon: not shown
    listener.status("step 3, loss 0.7", milestone=True)
    listener.line("job done")
    assert stream.getvalue().splitlines() == ["step 1", "step 3, loss 0.7", "job done"]


def test_a_terminal_gets_one_status_line_rewritten_in_place():
    stream = io.StringIO()
    listener = live.StreamListener("live", stream)
    listener.status("step 1", milestone=True)
    listener.status("step 2", milestone=True)
    listener.line("job done")
    assert stream.getvalue() == "\r\x1b[Kstep 1\r\x1b[Kstep 2\njob done\n"
    assert live.stream_listener("none") is None
    assert not live.StreamListener("auto", io.StringIO()).live  # auto: live only on a terminal


def test_nobody_listening_costs_nothing():
    assert not live.active()
    live.line("nowhere")
    live.status("nowhere")
    assert progress.callbacks(object(), "key") == []  # no callback when nobody listens


# ---------------------------------------------------------------- a job's progress


def test_a_job_shows_its_number_steps_loss_time_left_and_evaluation(tiny_checkpoints, tiny_data, tmp_path):
    recorder, cache = Recorder(), ResultCache(tmp_path / "cache")
    job = tiny_job(tiny_checkpoints, tiny_data, "mnli")
    progress.plan(3)
    with live.listening(recorder):
        result = run_job(job, cache)
        run_job(job, cache)
    steps = result.entry["optimisation_steps"]
    assert recorder.lines[0] == f"[job 1/3] tiny-bert mnli seed 42: training on cpu (protocol smoke, {steps} steps)"
    assert recorder.lines[1].startswith("[job 1/3] tiny-bert mnli seed 42: done, trained in ")
    assert f"validation_matched accuracy {result.value():.2f}" in recorder.lines[1]
    assert recorder.lines[2].startswith("[job 1/3] tiny-bert mnli seed 42: read from the cache (validation_matched accuracy")
    statuses = [text for text, _ in recorder.statuses]
    assert any(f"step {steps}/{steps} (100%), loss " in text for text in statuses)
    assert any("steps/s, about " in text and " left" in text for text in statuses)
    assert any(text.endswith("evaluating validation_matched: batch 1/1") for text in statuses)  # 3 fixture rows
    milestones = [text for text, milestone in recorder.statuses if milestone]
    assert any(", loss " in text for text in milestones)  # every logged loss is kept in a log
    assert [text.split(": ")[1].split(" (")[0] for text in milestones if "evaluated" in text] == \
        ["evaluated validation_matched", "evaluated validation_mismatched"]


def test_the_speed_pass_shows_its_rounds():
    import torch
    from transformers import AutoConfig, AutoModel

    from harness.measure.speed.timing import time_interleaved

    torch.manual_seed(0)
    models = {role: AutoModel.from_config(AutoConfig.from_pretrained(REPO_ROOT / "fixtures" / "configs" / name))
              for role, name in (("bert", "tiny-bert"), ("distilbert", "tiny-distilbert"))}
    encodings = [{"input_ids": torch.tensor([[2, 5, 6, 3]]), "attention_mask": torch.ones(1, 4, dtype=torch.long)}] * 4
    recorder = Recorder()
    with live.listening(recorder):
        timing = time_interleaved(models, encodings, chunk_size=2, warmup=1, threads=1)
    rounds = len(timing.durations)
    assert [text.split(", about")[0] for text, _ in recorder.statuses] == \
        [f"speed: round {i}/{rounds} ({role}, chunk {chunk + 1}/2)" for i, (role, chunk) in enumerate(timing.order, 1)]
    assert all(" left" in text for text, _ in recorder.statuses[1:])
    assert [milestone for _, milestone in recorder.statuses] == [True] + [False] * (rounds - 2) + [True]


def test_the_plan_counts_jobs_teachers_included_and_models_the_gpu_time(tiny_checkpoints, tiny_data, tmp_path, claims_registry):
    from harness.execute.makespan import job_seconds
    from harness.measure.accuracy import AccuracyRunner
    from harness.plugin.progress import plan_text

    claims = [claims_registry.get("glue.rte.bert"), claims_registry.get("downstream.squad.em.distilbert_d")]
    cache = ResultCache(tmp_path / "cache")
    run_job(tiny_job(tiny_checkpoints, tiny_data, "rte"), cache)  # one of them already in the cache
    on_cpu = AccuracyRunner(tiny_checkpoints, protocol="smoke", seeds=2, data_dir=tiny_data, cache=cache)
    assert plan_text(on_cpu, claims) == (  # rte x 2 seeds, and DistilBERT (D) with its BERT teacher x 2 seeds
        f"fine-tuning: 6 jobs for 2 claims (2 seeds, protocol smoke): 5 to train, 1 read from the cache {cache.root}; "
        "no time estimate on a CPU (the cost model is a GPU's): each job shows Trainer's time left as it trains")
    on_gpu = AccuracyRunner(tiny_checkpoints, protocol="smoke", seeds=2, device="cuda", data_dir=tiny_data,
                            cache=ResultCache(tmp_path / "empty"))
    modelled = sum(job_seconds(job) for planned in on_gpu.planned_jobs(claims) for job in (planned.teacher, planned) if job)
    assert plan_text(on_gpu, claims).endswith(f"6 to train, 0 read from the cache {tmp_path / 'empty'}; about "
                                              f"{live.duration(modelled)} of GPU time, modelled for one H100 "
                                              "(harness/execute/makespan.py, docs/finetune.md: an estimate, not a measurement)")


# ---------------------------------------------------------------- tracking


def test_tensorboard_event_files_hold_the_training_loss(tiny_checkpoints, tiny_data, tmp_path):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed (pip install -e '.[tracking]')")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tracking.use(tracking.Tracking("tensorboard", tmp_path / "tracking"))
    try:
        result = run_job(tiny_job(tiny_checkpoints, tiny_data, "rte"), ResultCache(tmp_path / "cache"))
    finally:
        tracking.use(tracking.Tracking())
    folders = [path.parent for path in (tmp_path / "tracking").rglob("events.out.tfevents.*")]
    assert len(folders) == 1 and folders[0].name.startswith("tiny-bert-rte-seed42-")
    events = EventAccumulator(str(folders[0]))
    events.Reload()
    losses = [event.value for event in events.Scalars("train/loss")]
    assert losses and losses[-1] == pytest.approx(result.entry["loss_curve"][-1][1], rel=1e-5)


def test_tracking_needs_its_package_and_a_known_name(monkeypatch):
    from harness.errors import ClaimsError

    with pytest.raises(ClaimsError, match="--report-to 'tensorbord' is not one of none, tensorboard, wandb, mlflow"):
        tracking.Tracking("tensorbord")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ClaimsError, match="the wandb package is not installed"):
        tracking.Tracking("wandb").check()


# ---------------------------------------------------------------- a pytest run


def run_claims(pytester, checkpoints, data_root, tmp_path, *options):
    pytester.makeini("[pytest]\n")
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    test_file = pytester.makepyfile(test_accuracy=(REPO_ROOT / "claims" / "test_accuracy.py").read_text())
    return pytester.runpytest_subprocess(
        str(test_file), "--run-slow", "--protocol", "smoke", "-k", "glue.rte", "--device", "cpu",
        "--bert-checkpoint", checkpoints["bert"],
        "--distilbert-checkpoint", checkpoints["distilbert"], "--data-dir", str(data_root),
        "--cache-dir", str(tmp_path / "cache"), "-p", "no:cacheprovider", "-q", *options)


def test_a_serial_run_shows_its_plan_and_progress_without_s(pytester, tiny_checkpoints, tiny_data, tmp_path):
    report = tmp_path / "report"
    tensorboard = importlib.util.find_spec("tensorboard") is not None  # the `test` extra has it; else that part is left out
    result = run_claims(pytester, tiny_checkpoints, tiny_data, tmp_path, "--report-dir", str(report),
                        "--junitxml", str(tmp_path / "junit.xml"), "--report-to", "tensorboard" if tensorboard else "none")
    assert result.ret in (0, 1), result.stdout.str()
    result.stdout.fnmatch_lines([
        "fine-tuning: 2 jobs for 2 claims (1 seed, protocol smoke): 2 to train, 0 read from the cache *; "
        "no time estimate on a CPU*",
        "[[]job 1/2[]] tiny-* rte seed 42: training on cpu (protocol smoke, 2 steps)",
        "[[]job 1/2[]] tiny-* rte seed 42: step */*, loss *",
        "[[]job 1/2[]] tiny-* rte seed 42: evaluated validation *",
        "[[]job 1/2[]] tiny-* rte seed 42: done, trained in *: validation accuracy *",
        "[[]job 2/2[]] tiny-* rte seed 42: training on cpu (protocol smoke, 2 steps)",
    ])
    assert len(ElementTree.parse(tmp_path / "junit.xml").getroot().findall(".//testcase")) == 2  # --junitxml still works
    if tensorboard:
        events = sorted(path.parent.name for path in (report / "tracking").rglob("events.out.tfevents.*"))
        assert [name.split("-seed42-")[0] for name in events] == ["tiny-bert-rte", "tiny-distilbert-rte"]
        assert json.loads((report / "results.json").read_text())["options"]["report_to"] == "tensorboard"
    # --progress none: tests/test_finetune_cli.py::test_protocols_file_serves_the_claims (one inner run fewer)


def test_report_to_is_refused_under_ray(pytester):
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]')")
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    result = pytester.runpytest("--executor", "ray", "--report-to", "tensorboard", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--report-to with --executor ray: the jobs train in Ray's workers*"])
