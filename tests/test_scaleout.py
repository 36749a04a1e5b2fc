"""The full reproduction's scale-out paths with the real engines: pytest-xdist (-n 2) and a local Ray cluster.

One grid of jobs: the tiny BERT and DistilBERT (fixtures/configs/tiny-*) on the RTE, MRPC, WNLI and STS-B fixtures,
and DistilBERT (D) with its BERT teacher on the SQuAD fixture (10 jobs), for the claims that read them. It runs
serially in an inner pytest, then with -n 2, then with --executor ray on one local Ray cluster for the module
(started here, joined by the inner runs with --ray-address). Every inner run has one torch thread per process
(OMP_NUM_THREADS=1; a CPU's thread count changes the last bits of a trained model), and a conftest that logs each
call of the real fine_tune with its xdist worker and CUDA_VISIBLE_DEVICES: a job trained twice, or trained by the
Ray driver, shows in that log, and so does the GPU each worker was pinned to (the -n 2 run is given the GPU list
"3,5", which no machine here has, so the jobs still train on the CPU). Also: a Ray worker killed with SIGKILL in
the middle of a job, and workers that do not share the driver's disk.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from tiny_models import tiny_job

from harness.measure.finetune.cache import ResultCache, is_complete_checkpoint
from harness.measure.finetune.job import job_key, make_job

CLAIMS = Path(__file__).resolve().parents[1] / "claims"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SELECTION = "glue.rte or glue.mrpc or glue.wnli or glue.stsb or distilbert_d"  # -k: 10 claims, 10 jobs
INNER_CONFTEST = '''
import os

from harness.measure.finetune import training

pytest_plugins = ["harness.plugin"]
_fine_tune = training.fine_tune


def _logged(job, key, *args, **kwargs):  # the real fine_tune, and one line per job it trains
    entry = _fine_tune(job, key, *args, **kwargs)
    with open(os.environ["TRAINING_LOG"], "a", encoding="utf-8") as log:  # the job, the xdist worker, its GPUs
        log.write(f"{key.id} {os.environ.get('PYTEST_XDIST_WORKER', '-')} {os.environ.get('CUDA_VISIBLE_DEVICES', '-')}\\n")
    return entry


training.fine_tune = _logged
'''


def run_inner(folder: Path, checkpoints, data_root, *args: str, files=("test_accuracy.py",), **env: str) -> subprocess.CompletedProcess:
    """pytest in `folder` on copies of the claims' test files, the smoke protocol on the tiny checkpoints."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pytest.ini").write_text("[pytest]\n")
    (folder / "conftest.py").write_text(INNER_CONFTEST)
    for name in files:
        shutil.copy(CLAIMS / name, folder / name)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRAINING_LOG": str(folder / "trained.log"), **env}
    command = [sys.executable, "-m", "pytest", *files, "--run-slow", "--protocol", "smoke", "--bert-checkpoint",
               checkpoints["bert"], "--distilbert-checkpoint", checkpoints["distilbert"], "--data-dir", str(data_root),
               "--cache-dir", str(folder / "cache"), "--report-dir", str(folder / "run"), "-p", "no:cacheprovider", "-q", *args]
    return subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=600)


def trained(folder: Path, column: int = 0) -> list[str]:
    """A column of the training log: the key of each job trained (0), its xdist worker (1), its CUDA_VISIBLE_DEVICES (2)."""
    log = folder / "trained.log"
    return [line.split()[column] for line in log.read_text().splitlines()] if log.is_file() else []


def claims_of(folder: Path) -> dict[str, dict]:
    return {claim["id"]: claim for claim in json.loads((folder / "run" / "results.json").read_text())["claims"]}


def entries(cache_root: Path) -> dict[str, dict]:
    """{key id: (metrics, training loss)} of every entry in a cache."""
    found = {}
    for path in sorted(cache_root.glob("*/*/result.json")):
        entry = json.loads(path.read_text())
        found[entry["key"]] = (entry["metrics"], entry["training_loss"])
    return found


def verdicts(claims: dict[str, dict]) -> dict[str, tuple]:
    return {claim_id: (c["verdict"], c["measured"], c["message"]) for claim_id, c in claims.items() if c["outcome"] != "not run"}


@pytest.fixture(scope="module")
def serial(tiny_checkpoints, tiny_data, tmp_path_factory):
    """The grid run serially: one pytest process, no xdist, no Ray."""
    folder = tmp_path_factory.mktemp("serial")
    run = run_inner(folder, tiny_checkpoints, tiny_data, "-k", SELECTION)
    assert run.returncode in (0, 1), run.stdout[-3000:] + run.stderr[-3000:]
    assert len(trained(folder)) == 10 and len(entries(folder / "cache")) == 10, run.stdout[-3000:]
    return folder


# ---------------------------------------------------------------- pytest-xdist


def test_xdist_trains_each_job_once_and_the_controller_reports_the_serial_verdicts(serial, tiny_checkpoints, tiny_data,
                                                                                 tmp_path):
    run = run_inner(tmp_path, tiny_checkpoints, tiny_data, "-n", "2", "-k", SELECTION + " or speed",
                    files=("test_accuracy.py", "test_speed.py"), CUDA_VISIBLE_DEVICES="3,5")  # no such GPUs: CPU here
    assert run.returncode in (0, 1), run.stdout[-3000:] + run.stderr[-3000:]
    plan = "fine-tuning: 10 jobs for 10 claims (1 seed, protocol smoke): 10 to train, 0 read from the cache"
    assert plan in run.stdout, run.stdout[-3000:]  # the controller's plan, from the first worker's collection
    log = trained(tmp_path)
    assert sorted(log) == sorted(set(log)) == sorted(trained(serial)), "each job trained once, across both workers"
    pinned = set(zip(trained(tmp_path, 1), trained(tmp_path, 2), strict=True))
    assert pinned <= {("gw0", "3"), ("gw1", "5")} and len(pinned) == 2, f"worker k on GPU k mod count: {pinned}"
    assert entries(tmp_path / "cache") == entries(serial / "cache"), "the same metrics and training loss as the serial run"
    claims = claims_of(tmp_path)
    parallel = {claim_id: value for claim_id, value in verdicts(claims).items() if not claim_id.startswith("speed.")}
    assert parallel == verdicts(claims_of(serial)) and len(parallel) == 10, "one results.json, the serial run's verdicts"
    for claim_id in ("speed.cpu.stsb_speedup", "speed.gpu.float32"):
        assert claims[claim_id]["verdict"] == "skipped" and "pytest claims -m speed" in claims[claim_id]["message"]
    assert "not selected in this run" in claims["glue.cola.bert"]["message"], "deselected on the workers, said by the controller"


# ---------------------------------------------------------------- Ray


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray cluster (2 CPUs) for the module: its address, for inner runs and for this process's executor."""
    ray = pytest.importorskip("ray", reason="Ray is the `ray` extra: pip install -e '.[test,ray]'")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def test_ray_trains_every_job_on_the_cluster_and_the_claims_read_them_back(serial, tiny_checkpoints, tiny_data,
                                                                           ray_cluster, tmp_path):
    rte = next(path.parent for path in sorted((serial / "cache").glob("*/*/result.json"))
               if json.loads(path.read_text())["configuration"]["task"]["name"] == "rte")
    shutil.copytree(rte, tmp_path / "cache" / rte.relative_to(serial / "cache"))  # already in the driver's cache
    run = run_inner(tmp_path, tiny_checkpoints, tiny_data, "--executor", "ray", "--ray-address", ray_cluster, "-k", SELECTION)
    assert run.returncode in (0, 1), run.stdout[-3000:] + run.stderr[-3000:]
    progress = "\n".join(line for line in run.stdout.splitlines() if line.startswith("ray:"))
    assert "ray: 9 jobs to run on 0 GPUs, 2 CPUs (1 already in the cache)" in progress, run.stdout[-3000:]
    assert "ray: 10/10 jobs done (1 read from the cache), 0 queued or running" in progress, progress
    assert trained(tmp_path) == [], "the driver trained nothing: the claims read every result back"
    assert entries(tmp_path / "cache") == entries(serial / "cache"), "the same metrics and training loss as the serial run"
    assert verdicts(claims_of(tmp_path)) == verdicts(claims_of(serial))


def test_results_reach_a_driver_whose_disk_the_workers_do_not_share(serial, tiny_checkpoints, tiny_data, ray_cluster,
                                                                    tmp_path):
    from harness.execute.ray_executor import RayExecutor

    distilled = tiny_job(tiny_checkpoints, tiny_data, "squad", "distilbert", teacher=tiny_checkpoints["bert"])
    jobs = [distilled, tiny_job(tiny_checkpoints, tiny_data, "wnli", "distilbert")]
    weightless = make_job(str(FIXTURES / "configs" / "tiny-bert"), "rte", "smoke", data_dir=tiny_data)  # a config alone
    teacher = job_key(distilled.teacher)
    driver, worker = ResultCache(tmp_path / "driver"), ResultCache(tmp_path / "worker")
    shutil.copytree(ResultCache(serial / "cache").folder(teacher), driver.folder(teacher))  # the teacher, with its model
    lines = []
    execution = RayExecutor(worker_cache=str(worker.root), report=lines.append).run([*jobs, weightless], driver)
    assert sorted(execution.trained) == sorted(job.describe() for job in jobs), lines
    assert list(execution.failures) == [job_key(weightless).id], "a suite error fails its job alone, the grid goes on"
    assert "has no weights" in execution.failures[job_key(weightless).id].message and "1 failed" in lines[-1], lines
    assert worker.peek(teacher) is not None, "the teacher's entry and model travelled to the worker, which lacked them"
    serial_entries = entries(serial / "cache")
    for job in jobs:
        key = job_key(job)
        assert driver.peek(key) is not None and worker.peek(key) is not None, job.describe()
        assert entries(driver.root)[key.id] == serial_entries[key.id], job.describe()
    assert not any(driver.root.glob("*/*/trainer")), "checkpoints stay on the workers"


def test_a_worker_killed_in_the_middle_of_a_job_is_retried_and_the_grid_completes(tiny_checkpoints, tiny_data,
                                                                                  ray_cluster, tmp_path):
    from harness.execute.plan import label
    from harness.execute.ray_executor import RayExecutor

    longer = {"num_train_epochs": 60, "save_steps": 8}  # 60 optimisation steps, a checkpoint every 8
    jobs = [tiny_job(tiny_checkpoints, tiny_data, "rte", role, overrides=longer) for role in ("bert", "distilbert")]
    by_key = {job_key(job).id: job for job in jobs}
    cache, lines, done = ResultCache(tmp_path / "cache"), [], []
    runner = threading.Thread(target=lambda: done.append(RayExecutor(retries=2, report=lines.append).run(jobs, cache)))
    runner.start()
    deadline, killed = time.monotonic() + 120, None
    while killed is None and time.monotonic() < deadline and runner.is_alive():
        for checkpoint in cache.root.glob("*/*/trainer/checkpoint-*"):  # a job that has trained 8 steps of its 60
            if not is_complete_checkpoint(checkpoint):  # being written: a kill now would leave nothing to resume from
                continue
            job = by_key["/".join(checkpoint.parts[-4:-2])]
            title = f"ray::job:{label(job)}"
            process = next((p for p in psutil.process_iter(["cmdline"]) if (p.info["cmdline"] or [""])[0] == title), None)
            if process is not None and not cache.entry_path(job_key(job)).exists():
                os.kill(process.pid, signal.SIGKILL)
                killed = (job, process)
                break
        time.sleep(0.02)
    runner.join(timeout=300)
    assert killed is not None, f"no job was caught between its first checkpoint and its end: {lines}"
    job, process = killed
    assert not psutil.pid_exists(process.pid) or process.status() == psutil.STATUS_ZOMBIE
    execution = done[0]
    assert execution.failures == {} and len(execution.trained) == 2, lines
    assert all(cache.peek(job_key(each)) is not None for each in jobs)
    resumed = cache.peek(job_key(job))["resumed_from"]
    assert resumed and resumed.startswith("checkpoint-"), "the retry resumed from the killed attempt's checkpoint"
