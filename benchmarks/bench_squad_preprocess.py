"""Time the SQuAD v1.1 dev pipeline of harness.preprocess: parse the JSON, tokenize and window all of it, post-process.

    python benchmarks/bench_squad_preprocess.py [--squad-file FILE] [--tokenizer DIR] [--repeat N]

Defaults: ../shared/data/squad/dev-v1.1.json and ../shared/models/bert-base-uncased beside the project.
Each repeat starts from an empty cache (a fresh temporary folder), so the parse and the `datasets` maps
are done for real ("cold"); one more load and map on the same cache show the cached path ("warm").
Post-processing runs on seeded random logits, so every window's n-best search does its full work.
Prints one JSON document: the median and every run of each stage, with the machine it ran on.
This script measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import datasets  # noqa: E402
import numpy as np  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

from harness.data import loading  # noqa: E402
from harness.data.preprocess import postprocess_squad, prepare_squad_eval_features, prepare_squad_train_features  # noqa: E402
from harness.spec.tasks import get_task  # noqa: E402

WINDOWS = (get_task("squad").max_length, get_task("squad").doc_stride)  # the task's, as the paper protocol's jobs use them


def one_run(squad_file: Path, tokenizer, seed: int) -> dict[str, float | int]:
    """Every stage once, from an empty cache; then the cached load and map."""
    timings: dict[str, float | int] = {}
    with tempfile.TemporaryDirectory() as cache:
        os.environ[loading.CACHE_ENV] = cache
        started = time.perf_counter()
        examples = loading.load_split(get_task("squad"), "validation", squad_file=squad_file)
        timings["parse_json_s"] = time.perf_counter() - started

        started = time.perf_counter()
        eval_features = prepare_squad_eval_features(examples, tokenizer, *WINDOWS)
        timings["eval_windows_s"] = time.perf_counter() - started
        started = time.perf_counter()
        train_features = prepare_squad_train_features(examples, tokenizer, *WINDOWS)
        timings["train_windows_s"] = time.perf_counter() - started

        logits = np.random.default_rng(seed).normal(size=(2, len(eval_features), len(eval_features[0]["input_ids"])))
        started = time.perf_counter()
        predictions = postprocess_squad(examples, eval_features, logits[0], logits[1])
        timings["postprocess_s"] = time.perf_counter() - started

        started = time.perf_counter()
        cached = prepare_squad_eval_features(loading.load_split(get_task("squad"), "validation", squad_file=squad_file), tokenizer, *WINDOWS)
        timings["warm_load_and_eval_windows_s"] = time.perf_counter() - started
        assert len(cached) == len(eval_features) and len(predictions) == len(examples)
        timings.update(questions=len(examples), eval_features=len(eval_features), train_features=len(train_features))
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--squad-file", type=Path, default=ROOT.parent / "shared" / "data" / "squad" / "dev-v1.1.json")
    parser.add_argument("--tokenizer", default=str(ROOT.parent / "shared" / "models" / "bert-base-uncased"),
                        help="a tokenizer folder or Hub name (the packaged MiniLM's has BERT's vocabulary too)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.squad_file.is_file():
        parser.error(f"--squad-file {args.squad_file}: no such file (SQuAD v1.1 dev-v1.1.json)")
    datasets.disable_progress_bars()
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    runs = [one_run(args.squad_file, tokenizer, args.seed + i) for i in range(args.repeat)]
    stages = [key for key in runs[0] if key.endswith("_s")]
    report = {
        "command": "python benchmarks/bench_squad_preprocess.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "squad_file": str(args.squad_file), "tokenizer": args.tokenizer, "max_length": 384, "doc_stride": 128,
        "counts": {key: runs[0][key] for key in ("questions", "eval_features", "train_features")},
        "median_s": {stage: round(statistics.median(run[stage] for run in runs), 3) for stage in stages},
        "runs_s": {stage: [round(run[stage], 3) for run in runs] for stage in stages},
        "machine": {"cpus": os.cpu_count(), "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
                    "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version(), "datasets": datasets.__version__,
                    "transformers": __import__("transformers").__version__},
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
