"""`python -m harness finetune`: one fine-tuning job from the command line, as run_glue.py / run_qa.py users expect.

The job is the claims' own (harness.measure.finetune.job.make_job, run.run_job): the same settings, cache and key, so
a job run here is read back by the claims and the other way round; `--set NAME=VALUE` changes one setting of the
protocol (checked, and part of the key: another value is another job), `--protocols FILE` reads the protocols from
your own file. The results go into --output-dir as run_glue leaves them (harness.measure.finetune.outputs):
all_results.json, eval_results.json, train_results.json, the per-example predictions with their input text, and
job.json. Progress goes to stderr (--progress), Trainer's tracking where --report-to says. Exit status 0, 1 when
the run is no measurement (a NaN loss, no better than a constant predictor: job.json says why), 2 for a mistake.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path

from harness import device as devices
from harness.data.hub import expand_local, split_revision, with_revision
from harness.errors import ClaimsError
from harness.measure import live
from harness.measure.finetune import tracking
from harness.paths import PROJECT_ROOT, data_root
from harness.spec import protocols
from harness.spec.tasks import task_names

EPILOG = """examples:
  python -m harness finetune --checkpoint distilbert-base-uncased --task sst2 --output-dir runs/sst2
  python -m harness finetune --checkpoint bert-base-uncased --task rte --seed 43 --set learning_rate=3e-5
  python -m harness finetune --checkpoint bert-base-uncased --revision 86b5e0934494bd15c9632b12f734a8a67f723594 --task sst2
  python -m harness finetune --checkpoint ./my-bert --task mnli --set train_batch_size=8 --set gradient_accumulation_steps=4
  python -m harness finetune --checkpoint distilbert-base-uncased --task squad --teacher bert-base-uncased
  python -m harness finetune --checkpoint bert-base-uncased --task cola --protocols my_protocols.yaml --protocol mine

settings --set takes (harness/spec/protocols.yaml says what each one does):
""" + "\n".join(f"  {name:<28} {protocols.allowed(name)}" for name in protocols.SETTING_NAMES)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add = parser.add_argument
    add("--checkpoint", required=True, metavar="NAME_OR_DIR", help="the checkpoint to fine-tune: a Hub name or a folder "
        "saved by save_pretrained()")
    add("--revision", default="main", metavar="REV", help="the revision of a Hub --checkpoint: a branch, a tag or a commit "
        "(NAME@REV says the same); the job is keyed by the commit it resolves to. Default: %(default)r")
    add("--task", required=True, metavar="TASK", help=f"one of: {', '.join(task_names())}")
    add("--protocol", default="paper", metavar="NAME", help="the protocol whose settings the job takes. Default: %(default)r")
    add("--seed", type=_seed, default=None, metavar="N", help="the seed. Default: the protocol's first_seed (42)")
    add("--set", action="append", default=[], metavar="NAME=VALUE", dest="overrides",
        help="change one setting of the protocol (repeatable; the settings are listed below). Default: none")
    add("--protocols", type=Path, default=None, metavar="FILE",
        help="read the protocols from FILE (laid out as harness/spec/protocols.yaml). Default: harness/spec/protocols.yaml")
    add("--teacher", default=None, metavar="NAME_OR_DIR", help="SQuAD only: distil from this checkpoint's fine-tuned "
        "SQuAD model, trained first when the cache lacks it (DistilBERT (D)). Default: none")
    add("--output-dir", type=Path, default=None, metavar="DIR", help="where the result files go. Default: "
        "reports/finetune/<checkpoint>-<task>-<protocol>-seed<N>/ in the project")
    add("--cache-dir", type=Path, default=None, metavar="DIR", help="the result cache (the claims' --cache-dir). "
        "Default: cache/ in the project")
    add("--data-dir", type=Path, default=None, metavar="DIR", help="local data laid out as glue/<TASK>/*.tsv, imdb/, "
        "squad/. Default: ../shared/data beside the project when it exists, else the Hugging Face Hub")
    add("--device", choices=devices.CHOICES, default="auto", help="where the job trains. Default: %(default)r")
    add("--refresh", action="store_true", help="train again even when the cache holds the job. Default: off")
    add("--report-to", choices=tracking.REPORT_TO, default="none", help="Trainer's experiment tracking; its logs go "
        "to DIR/runs/ (TensorBoard: one folder per job). Default: %(default)r")
    add("--progress", choices=live.MODES, default="auto", help="progress on stderr: live (one line rewritten in "
        "place), lines (for logs), none, or auto (live on a terminal, else lines). Default: %(default)r")


@contextlib.contextmanager
def _quiet_bars(quiet: bool) -> Iterator[None]:
    """Without the progress bars of datasets and transformers (tokenizing, loading weights) while ours shows."""
    import datasets
    from transformers.utils import logging as transformers_logging

    shown = (datasets.is_progress_bar_enabled(), transformers_logging.is_progress_bar_enabled())
    if quiet:
        datasets.disable_progress_bars()
        transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown[0]:
            datasets.enable_progress_bars()
        if shown[1]:
            transformers_logging.enable_progress_bar()


def _seed(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, got {text!r}")
    return int(text)


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    finally:  # this process's protocols file and tracking back to their defaults (the command may run in-process)
        protocols.use_file(None)
        tracking.use(tracking.Tracking())


def _run(args: argparse.Namespace) -> int:
    protocols.use_file(args.protocols)
    overrides = protocols.parse_overrides(args.overrides)  # a mistake is named before torch is even imported
    from harness.measure.finetune import progress
    from harness.measure.finetune.cache import ResultCache
    from harness.measure.finetune.job import make_job
    from harness.measure.finetune.outputs import write_outputs
    from harness.measure.finetune.run import run_job

    device = devices.resolve(args.device)
    teacher = expand_local(args.teacher) if args.teacher else None
    checkpoint = expand_local(args.checkpoint)
    if args.revision != "main" and split_revision(checkpoint)[1] != "main":
        raise ClaimsError(f"--checkpoint {args.checkpoint} names its revision and --revision {args.revision} another",
                          "give the revision once: NAME@REV or --revision REV")
    job = make_job(with_revision(checkpoint, args.revision), args.task, args.protocol, args.seed, device=device,
                   data_dir=data_root(args.data_dir), teacher=teacher, overrides=overrides or None)
    name = Path(job.checkpoint).name or job.checkpoint
    output_dir = args.output_dir or PROJECT_ROOT / "reports" / "finetune" / f"{name}-{job.task}-{job.protocol}-seed{job.seed}"
    tracking.use(tracking.Tracking(args.report_to, output_dir / "runs").check())
    progress.plan(2 if teacher else 1)
    with live.listening(live.stream_listener(args.progress)), _quiet_bars(args.progress != "none"):
        result = run_job(job, ResultCache(args.cache_dir), refresh=args.refresh)
    written = write_outputs(result, output_dir, overrides)
    print(f"{job.describe()}: {'read from the cache' if result.cached else 'trained'} ({result.cache.folder(result.key)})")
    print(f"  {progress.score(result)}")
    print(f"  wrote {output_dir}: {', '.join(path.name for path in written)}")
    return 0 if result.validity.valid else 1
