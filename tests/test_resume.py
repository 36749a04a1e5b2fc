"""Resume that survives any kill, and one training per job when two pytest runs share a cache.

- A tiny job (tiny-bert on 32 SST-2-like rows, protocol smoke: 16 steps, a checkpoint every 2) is killed
  with SIGKILL at many points of its life (loading, training, inside each kind of save, evaluation, the
  cache write) and at random moments, then run again: every rerun completes, no torn entry is ever left,
  and the metrics, training loss, loss curve and logits equal those of an uninterrupted run
  (tests/resume_driver.py does the killing, in one Python process that forks each run).
- Two `pytest --run-slow` processes started at once on one cache train each job once between them (their
  conftest counts every training), leave no torn entry, and agree on every verdict.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tiny_models import save_tiny_checkpoints, write_tiny_data

from harness.measure.finetune.cache import ResultCache

DRIVER = Path(__file__).resolve().parent / "resume_driver.py"
ACCURACY_CLAIMS = Path(__file__).resolve().parents[1] / "claims" / "test_accuracy.py"
RANDOM_KILLS = 5


def test_a_job_killed_at_any_point_resumes_to_the_uninterrupted_result(tmp_path):
    run = subprocess.run([sys.executable, str(DRIVER), str(tmp_path), str(RANDOM_KILLS)], capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["baseline_exit"] == 0 and report["baseline"]["optimisation_steps"] == 16
    for point in report["points"]:
        where = point["point"]
        assert point["kill_exit"] == -signal.SIGKILL, f"{where}: the kill point was never reached"
        assert point["left"] in ("none", "intact"), f"{where}: the kill left a torn entry ({point['left']})"
        assert point["rerun_exit"] == 0, f"{where}: the rerun failed"
        assert point["differs"] == [], f"{where}: the rerun differs from an uninterrupted run in {point['differs']}"
    resumed = {point["point"]: point["resumed_from"] for point in report["points"]}
    assert resumed["a save: after the weights and optimizer, before trainer_state.json"] == "checkpoint-2", \
        "a checkpoint whose trainer_state.json was never written falls back to the previous complete one"
    assert resumed["a save: trainer_state.json half written"] == "checkpoint-6"
    assert resumed["a save: deleting the previous checkpoint"] == "checkpoint-10"
    assert resumed["training, between checkpoints"] == "checkpoint-8" and resumed["evaluation"] == "checkpoint-16"
    kills = [kill for chain in report["random"] for kill in chain["kills"]]
    assert len(kills) == RANDOM_KILLS and all(kill["kill_exit"] == -signal.SIGKILL for kill in kills)
    assert all(kill["left"] in ("none", "intact") for kill in kills), kills
    for chain in report["random"]:
        assert chain["differs"] == [] and chain.get("rerun_exit", 0) == 0, chain


COUNTING_CONFTEST = '''pytest_plugins = ["harness.plugin"]

import os

from harness.measure.finetune import training

_fine_tune = training.fine_tune


def _counted(job, key, *args, **kwargs):  # one line per training, whichever process trains
    with open(os.environ["TRAININGS_FILE"], "a") as log:
        log.write(f"{key.id} {os.getpid()}\\n")
    return _fine_tune(job, key, *args, **kwargs)


training.fine_tune = _counted
'''


def accuracy_run(workdir: Path, checkpoints, data_root, cache_dir, report_dir, trainings: Path) -> subprocess.Popen:
    """An inner `pytest --run-slow` of the accuracy claims of RTE (2 jobs), started in the background."""
    command = [sys.executable, "-m", "pytest", str(workdir / "test_accuracy.py"), "--run-slow", "--protocol", "smoke",
               "--bert-checkpoint", checkpoints["bert"], "--distilbert-checkpoint", checkpoints["distilbert"],
               "--data-dir", str(data_root), "--cache-dir", str(cache_dir), "--report-dir", str(report_dir),
               "-p", "no:cacheprovider", "-q", "-k", "glue and rte"]
    return subprocess.Popen(command, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "TRAININGS_FILE": str(trainings)})


def test_two_pytest_runs_at_once_on_one_cache_train_each_job_once(tmp_path):
    workdir, trainings = tmp_path / "project", tmp_path / "trainings.txt"
    workdir.mkdir()
    (workdir / "pytest.ini").write_text("[pytest]\n")
    (workdir / "conftest.py").write_text(COUNTING_CONFTEST)
    (workdir / "test_accuracy.py").write_text(ACCURACY_CLAIMS.read_text())
    checkpoints = save_tiny_checkpoints(tmp_path)
    data_root = write_tiny_data(tmp_path / "data")
    cache_dir = tmp_path / "cache"
    runs = [accuracy_run(workdir, checkpoints, data_root, cache_dir, tmp_path / f"run{i}", trainings) for i in (1, 2)]
    try:
        outputs = [run.communicate(timeout=600)[0] for run in runs]
    finally:
        for run in runs:
            if run.poll() is None:
                run.kill()
    verdicts = []
    for i, (run, output) in enumerate(zip(runs, outputs, strict=True), start=1):
        assert run.returncode in (0, 1), output[-3000:]  # 1: claims failed (tiny models' runs are no measurements)
        document = json.loads((tmp_path / f"run{i}" / "results.json").read_text())
        verdicts.append({c["id"]: (c["verdict"], c["measured"]) for c in document["claims"] if ".rte." in c["id"]})
    assert set(verdicts[0]) == {"glue.rte.bert", "glue.rte.distilbert"} and verdicts[0] == verdicts[1]
    trained = [line.split()[0] for line in trainings.read_text().splitlines()]
    assert len(trained) == 2 and len(set(trained)) == 2, f"each job trains once across both runs: {trained}"
    cache = ResultCache(cache_dir)
    assert sorted(folder.relative_to(cache_dir).as_posix() for folder in cache.entries()) == sorted(trained)
    for folder in cache.entries():
        problem = cache.read(folder).problem
        assert problem is None, f"{folder}: {problem}"
