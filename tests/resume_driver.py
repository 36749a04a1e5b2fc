"""Kill a fine-tuning job with SIGKILL at many points of its life, run it again, and compare with an uninterrupted run.

Run by tests/test_resume.py as `python tests/resume_driver.py WORKDIR [RANDOM_KILLS]`; writes its findings
to WORKDIR/report.json. It starts Python once: every run of the job is a child forked from a forkserver that has
imported torch, transformers and the harness, so a run costs its training, not an interpreter start.
A child that must die patches one function to kill its own process at its n-th call (`before` the
original runs, `after` it returned, or `torn`: half of the file it writes, then the kill), or arms a
timer that kills it at a random moment. Nothing here is in the product code: the patches live in the
child only.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import random
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

SENTENCES = ["a great film with good acting", "the best movie of the year", "very funny and fun", "i love this story",
             "a good story and great actor", "the most fun film", "we love the acting", "what a great first film",
             "a bad and boring film", "the worst movie of the year", "too long and very boring", "i hate this plot",
             "a sad and bad story", "the plot is too boring", "we hate the acting", "what a bad last movie"]

# (name, "module:attribute", n-th call, how): the points of a job's life where a kill used to hurt
KILL_POINTS = [
    ("loading the weights", "harness.measure.models:load_pretrained", 1, "before"),
    ("training, before the first checkpoint", "transformers.trainer:Trainer.training_step", 1, "after"),
    ("training, between checkpoints", "transformers.trainer:Trainer.training_step", 9, "after"),
    ("a save: after the weights, before the optimizer", "transformers.trainer:Trainer._save_optimizer_and_scheduler", 3, "before"),
    ("a save: after the weights and optimizer, before trainer_state.json", "transformers.trainer:Trainer._save_rng_state", 2, "after"),
    ("a save: trainer_state.json half written", "transformers.trainer_callback:TrainerState.save_to_json", 4, "torn"),
    ("a save: deleting the previous checkpoint", "transformers.trainer:rotate_checkpoints", 5, "torn"),
    ("the last save", "transformers.trainer_callback:TrainerState.save_to_json", 8, "before"),
    ("evaluation", "harness.measure.finetune.training:predict_in_order", 1, "before"),
    ("writing the predictions", "harness.measure.finetune.predictions:atomic_write_text", 1, "torn"),
    ("writing the cache entry", "harness.measure.finetune.cache:atomic_write_text", 1, "torn"),
    ("after the entry, before the checkpoints are removed", "harness.measure.finetune.cache:ResultCache.discard_checkpoints", 1, "before"),
]


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _torn(original, args, kwargs):
    """Leave what a kill in the middle of the call leaves: half of a written file, or a half-deleted checkpoint."""
    name = original.__name__
    if name == "save_to_json":  # (state, path)
        Path(args[1]).write_text('{"global_step": ', encoding="utf-8")
    elif name == "atomic_write_text":  # (path, text): the temporary file half written, never renamed
        path = Path(args[0])
        (path.parent / f".{path.name}.torn.tmp").write_text(args[1][: len(args[1]) // 2], encoding="utf-8")
    elif name == "rotate_checkpoints":  # part of the older checkpoints deleted, as a kill inside rmtree leaves them
        folders = sorted(Path(kwargs["output_dir"]).glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
        for folder in folders[:-1]:
            for file in sorted(folder.iterdir())[:2]:
                file.unlink()
    die()


def install(target: str, n: int, how: str) -> None:
    module_name, attribute = target.split(":")
    owner = importlib.import_module(module_name)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    original, calls = getattr(owner, name), [0]

    def patched(*args, **kwargs):
        calls[0] += 1
        if calls[0] == n:
            if how == "before":
                die()
            if how == "torn":
                _torn(original, args, kwargs)
            result = original(*args, **kwargs)
            die()
            return result
        return original(*args, **kwargs)

    patched.__name__ = original.__name__
    setattr(owner, name, patched)


def run_once(workdir: str, cache_dir: str, kill: list | None, delay: float | None, out: str) -> None:
    """One run of the job in this child: maybe a kill armed, then the job; its result written to `out`."""
    import gc

    import torch

    gc.freeze()  # the preloaded modules' objects: Trainer's gc.collect() then skips them (half a second a run)

    torch.set_num_threads(1)
    from harness.measure.finetune.cache import ResultCache
    from harness.measure.finetune.job import make_job
    from harness.measure.finetune.run import run_job

    if kill:
        install(*kill[1:])
    timer = threading.Timer(delay, die) if delay is not None else None
    if timer:
        timer.start()
    job = make_job(str(Path(workdir) / "tiny-bert"), "sst2", "smoke", data_dir=Path(workdir) / "data")
    result = run_job(job, ResultCache(cache_dir))
    if timer:
        timer.cancel()  # the job is done: the summary below is the driver's, not the job's
    keys = ("metrics", "training_loss", "optimisation_steps", "validity", "loss_curve")
    summary = {name: result.entry[name] for name in keys}
    summary["logits"] = result.predictions().logits
    summary["resumed_from"] = result.entry["resumed_from"]
    Path(out).write_text(json.dumps(summary))
    os._exit(0)


def child(context, workdir: Path, cache_dir: Path, kill=None, delay=None) -> tuple[int, dict | None, float]:
    out = cache_dir.parent / f"{cache_dir.name}.out.json"
    out.unlink(missing_ok=True)
    started = time.perf_counter()
    process = context.Process(target=run_once, args=(str(workdir), str(cache_dir), kill, delay, str(out)))
    process.start()
    process.join()
    result = json.loads(out.read_text()) if process.exitcode == 0 and out.is_file() else None
    return process.exitcode, result, time.perf_counter() - started


def entry_state(cache_dir: Path) -> str:
    """'none', 'intact' or what is wrong with the cache entries a kill left (a torn entry must never be there)."""
    import warnings

    from harness.measure.finetune.cache import ResultCache

    cache = ResultCache(cache_dir)
    found = cache.entries()
    if not found:
        return "none"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        problems = [problem for folder in found if (problem := cache.read(folder).problem)]
    return "; ".join(problems) or "intact"


def prepare(workdir: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    configs = Path(__file__).resolve().parents[1] / "fixtures" / "configs"
    torch.manual_seed(0)
    AutoModel.from_config(AutoConfig.from_pretrained(configs / "tiny-bert")).save_pretrained(workdir / "tiny-bert")
    AutoTokenizer.from_pretrained(configs / "tiny-bert").save_pretrained(workdir / "tiny-bert")
    glue = workdir / "data" / "glue" / "SST-2"
    glue.mkdir(parents=True)
    rows = [(text, 1 if i < 8 else 0) for i, text in enumerate(SENTENCES)]
    (glue / "train.tsv").write_text("sentence\tlabel\n" + "".join(f"{t} \t{label}\n" for t, label in rows * 2))
    (glue / "dev.tsv").write_text("sentence\tlabel\n" + "".join(f"{t} \t{label}\n" for t, label in rows))


def compare(result: dict | None, baseline: dict) -> list[str]:
    if result is None:
        return ["the rerun did not finish"]
    return [name for name in ("metrics", "training_loss", "optimisation_steps", "validity", "loss_curve", "logits")
            if result[name] != baseline[name]]


PRELOAD = ["torch", "transformers", "transformers.trainer", "transformers.models.bert.modeling_bert",
           "transformers.models.bert.tokenization_bert", "datasets", "accelerate", "sklearn.metrics", "scipy.stats",
           "harness.measure.finetune.training", "harness.measure.finetune.job", "harness.measure.finetune.run",
           "harness.measure.finetune.rescore"]


def main(workdir: Path, random_kills: int) -> dict:
    prepare(workdir)
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)  # imported once, in the server every run is forked from
    code, baseline, _ = child(context, workdir, workdir / "baseline")
    report = {"baseline": baseline, "baseline_exit": code, "points": []}
    for point in KILL_POINTS:
        cache_dir = workdir / f"point{len(report['points'])}"
        killed, _, _ = child(context, workdir, cache_dir, kill=list(point))
        left = entry_state(cache_dir)
        code, result, seconds = child(context, workdir, cache_dir)
        report["points"].append({"point": point[0], "kill_exit": killed, "left": left, "rerun_exit": code,
                                 "seconds": round(seconds, 2), "resumed_from": result and result["resumed_from"],
                                 "differs": compare(result, baseline)})
    # Random moments: kill a run at a uniform time within a whole run's span; run again (killed again at random)
    # until a run completes; then start over on a fresh cache, until `random_kills` kills have landed.
    span = report["points"][0]["seconds"]  # a run from scratch, forked from the warm server
    rng, chains, kills = random.Random(13), [], 0
    while kills < random_kills:
        cache_dir, chain = workdir / f"random{len(chains)}", {"kills": [], "differs": None}
        while kills < random_kills:
            code, result, _ = child(context, workdir, cache_dir, delay=rng.uniform(0.0, span))
            if code == 0:
                chain["differs"] = compare(result, baseline)
                break
            kills += 1
            chain["kills"].append({"kill_exit": code, "left": entry_state(cache_dir)})
        if chain["differs"] is None:
            code, result, _ = child(context, workdir, cache_dir)
            chain["rerun_exit"], chain["differs"] = code, compare(result, baseline)
        chains.append(chain)
    report["random"] = chains
    shutil.rmtree(workdir / "tiny-bert", ignore_errors=True)
    return report


if __name__ == "__main__":
    found = main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 6)
    (Path(sys.argv[1]) / "report.json").write_text(json.dumps(found, indent=1))
