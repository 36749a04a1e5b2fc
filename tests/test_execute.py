"""The executors' pure parts, in milliseconds: the plan of units, longest-first scheduling, the progress estimate,
a cache entry's trip to the driver, the key check. The engines themselves (pytest-xdist, Ray) are tests/test_scaleout.py's.
"""

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.execute import makespan, plan, transfer
from harness.execute.progress import Progress, duration
from harness.execute.ray_executor import key_difference
from harness.measure.finetune.cache import JobKey, ResultCache
from harness.measure.finetune.job import make_job

# ---------------------------------------------------------------- the plan


def test_a_planned_teacher_is_folded_into_its_distilbert_d_job_and_units_go_longest_first():
    bert_squad, distilbert_squad = make_job("B", "squad", "paper"), make_job("D", "squad", "paper")
    distilled = make_job("D", "squad", "paper", teacher="B")
    wnli, mnli = make_job("B", "wnli", "paper"), make_job("B", "mnli", "paper")
    planned = [wnli, bert_squad, distilbert_squad, distilled, mnli, wnli]
    units = plan.units(planned)
    assert bert_squad not in units and distilled.teacher == bert_squad, "the teacher trains inside its student's unit"
    assert units == sorted(units, key=lambda job: -makespan.unit_seconds(job))
    assert units[-1] == wnli and units.count(wnli) == 1
    assert plan.jobs_of(distilled) == [bert_squad, distilled]
    assert len({plan.label(unit) for unit in units}) == len(units)


def test_the_model_prices_the_paper_protocol_as_docs_finetune_md():
    """One seed of the paper protocol, central assumptions: docs/finetune.md's model gives about 2.0 H100-hours."""
    jobs = [make_job(role, task, "paper") for role in ("B", "D") for task in makespan.TRAIN_ROWS]
    jobs.append(make_job("D", "squad", "paper", teacher="B"))
    hours = sum(makespan.job_seconds(job) for job in jobs) / 3600
    assert 1.9 < hours < 2.1, "every job priced as BERT-base; at these batch sizes most steps sit on the floor"
    assert makespan.job_seconds(make_job("B", "mnli", "paper")) > makespan.job_seconds(make_job("B", "wnli", "paper")) * 10
    quick = make_job("B", "mnli", "paper", overrides={"max_train_samples": 320})
    assert makespan.job_seconds(quick) == pytest.approx(10 * 3 * 0.025 + 2 * 85.6e6 * 80 * 19647 / 200e12 + 60)


def test_the_model_reads_its_figures_from_the_task_table_and_its_length_from_the_settings():
    mnli = make_job("B", "mnli", "paper")
    assert makespan.TRAIN_ROWS["mnli"] == mnli.spec.cost.train_rows and makespan.PADDED_TOKENS["mnli"] == mnli.spec.cost.padded_tokens
    short = make_job("B", "mnli", "paper", overrides={"max_length": 16})  # padded rows cannot be longer than max_length
    assert makespan.job_seconds(short) < makespan.job_seconds(mnli)
    assert makespan.job_seconds(mnli, padded_tokens={"mnli": 160.0}) > makespan.job_seconds(mnli), "a measured figure replaces it"
    uncosted = dataclasses.replace(mnli, spec=dataclasses.replace(mnli.spec, cost=None))
    assert makespan.job_seconds(uncosted) == makespan.GpuModel().job_overhead_s


# ---------------------------------------------------------------- longest first on several workers


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.01, 1000.0), min_size=1, max_size=40), st.integers(1, 9))
def test_longest_first_is_within_grahams_bounds(costs, workers):
    jobs = [(f"job{i:02d}", cost) for i, cost in enumerate(costs)]
    result = makespan.schedule(jobs, workers)
    assert max(max(costs), sum(costs) / workers) - 1e-6 <= result.makespan  # no schedule beats these
    assert result.makespan <= sum(costs) / workers + max(costs) * (1 - 1 / workers) + 1e-6  # Graham's list-scheduling bound
    assert sorted(name for worker in result.workers for name in worker) == sorted(name for name, _ in jobs)
    assert result.total == pytest.approx(sum(costs))


def test_one_worker_takes_the_sum_and_ties_are_stable():
    assert makespan.schedule([("a", 2.0), ("b", 3.0)], 1).makespan == 5.0
    two = makespan.schedule([("a", 1.0), ("b", 1.0), ("c", 1.0), ("d", 1.0)], 2)
    assert two.workers == (("a", "c"), ("b", "d")) and two.efficiency == 1.0
    with pytest.raises(ValueError, match="at least 1"):
        makespan.schedule([("a", 1.0)], 0)


# ---------------------------------------------------------------- progress


def test_time_left_follows_the_observed_pace_of_the_modelled_cost():
    progress = Progress(total=4, total_cost=100.0, cached=2, started=0.0)
    progress.running = 4
    assert progress.time_left(now=10.0) is None and "no job finished yet" in progress.line(now=10.0)
    progress.finish(1, 25.0)
    assert progress.time_left(now=50.0) == pytest.approx(150.0)  # a quarter of the cost in 50 s: 150 s more
    progress.finish(2, 50.0, failed=True)
    line = progress.line(now=75.0)
    assert line.startswith("5/6 jobs done (2 read from the cache), 2 failed, 2 queued or running") and "25 s left" in line
    assert [duration(s) for s in (45, 720, 12240)] == ["45 s", "12 min", "3.4 h"]


# ---------------------------------------------------------------- an entry's trip to the driver


@pytest.fixture
def worker_entry(tmp_path):
    """An entry in a worker's cache: result.json, a kept model, Trainer checkpoints and the lock beside it."""
    cache, key = ResultCache(tmp_path / "worker"), JobKey({"task": "squad", "seed": 42})
    cache.store(key, {"validation": {"exact_match": 12.5}}, {"job": "a test entry"})
    (cache.model_dir(key)).mkdir()
    (cache.model_dir(key) / "config.json").write_text("{}")
    (cache.trainer_dir(key) / "checkpoint-2").mkdir(parents=True)
    (cache.trainer_dir(key) / "checkpoint-2" / "model.safetensors").write_bytes(b"weights")
    with cache.lock(key):
        pass
    return cache, key


def test_an_entry_travels_without_its_checkpoints_and_reads_back_intact(worker_entry, tmp_path):
    cache, key = worker_entry
    files = transfer.pack(cache.folder(key))
    assert set(files) == {"result.json", "model/config.json"}, "checkpoints and the lock stay on the worker"
    driver = ResultCache(tmp_path / "driver")
    assert transfer.store(driver, key, files)
    assert driver.peek(key) == cache.peek(key) and (driver.model_dir(key) / "config.json").read_text() == "{}"
    assert not driver.trainer_dir(key).exists()


def test_an_edited_entry_is_refused_on_arrival(worker_entry, tmp_path):
    cache, key = worker_entry
    files = transfer.pack(cache.folder(key))
    entry = json.loads(files["result.json"])
    entry["job"] = "edited on the way"
    files["result.json"] = json.dumps(entry).encode()
    assert not transfer.store(ResultCache(tmp_path / "driver"), key, files)


def test_a_key_mismatch_names_the_fields_that_differ():
    ours = JobKey({"device": "cuda", "devices": 1, "seed": 42}, {"torch": "2.13.0"})
    theirs = {"result.json": json.dumps({"configuration": {"device": "cuda", "devices": 8, "seed": 42},
                                         "libraries": {"torch": "2.12.0"}}).encode()}
    assert key_difference(ours, theirs) == "devices, libraries"
    assert key_difference(ours, {}) == "its entry has no readable result.json"


# ---------------------------------------------------------------- options that cannot work together


@pytest.mark.parametrize(("args", "message"), [
    (["--executor", "ray", "-n", "2", "--dist", "load"], "--executor ray trains the jobs on Ray, -n 2 on pytest-xdist"),
    (["--ray-address", "auto"], "add --executor ray"),
    (["-n", "2", "--dist", "load", "--refresh"], "run with a new --cache-dir"),
])
def test_options_that_cannot_work_together_are_usage_errors(pytester, args, message):
    from harness.plugin import distributed

    config = pytester.parseconfig("-p", "harness.plugin", *args)
    with pytest.raises(pytest.UsageError, match=message):
        distributed.configure(config)
