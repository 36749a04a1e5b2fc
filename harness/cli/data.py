"""`python -m harness data`: inspect one split of a task and print what was loaded, as JSON.

Shows the source (the Hub or the local file), the number of rows, the count of each label (id and
name; STS-B: the range and mean of its scores; SQuAD: questions, contexts and gold answers) and the
first example, so a user can check that local files load as the Hub's rows before a long run. It
only loads; tokenizing and scoring are other modules' jobs.
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path
from typing import Any

from harness.data.loading import load, locate
from harness.spec.tasks import TaskSpec, get_task, task_names

EPILOG = """examples:
  python -m harness data --task cola --split validation --glue-dir ~/glue_data
  python -m harness data --task mnli --split validation_mismatched --data-dir ../shared/data
  python -m harness data --task imdb --split test --imdb-dir ~/aclImdb
  python -m harness data --task squad --squad-file dev-v1.1.json
  python -m harness data --task sst2            (from the Hugging Face Hub)
"""


# Where the data comes from: a data root, or one folder or file per kind (each a path; default: none).
SOURCE_OPTIONS = (
    ("--data-dir", "ROOT", "a data root laid out as glue/<TASK>/*.tsv, imdb/, squad/ (like ../shared/data); a file "
                           "it lacks comes from the Hub when reachable. Default: None (the Hub)"),
    ("--glue-dir", "DIR", "GLUE as download_glue_data.py writes it: DIR/CoLA/dev.tsv, DIR/MNLI/dev_matched.tsv, ... "
                          "(or one task's folder, named as that script names it). Default: None"),
    ("--imdb-dir", "DIR", "IMDb as DIR/{train,test}.parquet or .csv (text, label) or the original aclImdb folder. "
                          "Default: None"),
    ("--squad-file", "FILE", "a SQuAD v1.1 JSON file (dev-v1.1.json for the validation split). Default: None"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--task", required=True, metavar="TASK", help=f"the task to load, one of: {', '.join(task_names())}")
    parser.add_argument("--split", default=None, metavar="SPLIT",
                        help="a Hub split name (train, validation, validation_matched, validation_mismatched, test, ...). "
                             "Default: the split of the paper's figure (GLUE dev, MNLI matched, IMDb test, SQuAD dev)")
    for flag, metavar, help_text in SOURCE_OPTIONS:
        parser.add_argument(flag, type=Path, default=None, metavar=metavar, help=help_text)


def summarize(spec: TaskSpec, split: str, dataset: Any, source: str) -> dict[str, Any]:
    """The JSON-ready summary of a loaded split."""
    summary: dict[str, Any] = {"task": spec.name, "split": split, "source": source, "rows": len(dataset),
                               "columns": list(dataset.column_names)}
    if spec.kind == "classification":
        counts = collections.Counter(dataset["label"])
        names = {**{i: name for i, name in enumerate(spec.label_names)}, -1: "(no label: hidden test label)"}
        summary["labels"] = [{"id": i, "name": names.get(i, "?"), "count": counts[i]} for i in sorted(counts)]
    elif spec.kind == "regression":
        scores = [float(x) for x in dataset["label"]]
        labelled = [x for x in scores if x >= 0]
        summary["label_stats"] = {
            "labelled": len(labelled), "unlabelled": len(scores) - len(labelled),
            "min": min(labelled) if labelled else None, "max": max(labelled) if labelled else None,
            "mean": round(sum(labelled) / len(labelled), 4) if labelled else None,
        }
    else:
        answers = [len(a["text"]) for a in dataset["answers"]]
        summary["answers"] = {"questions": len(dataset), "contexts": len(set(dataset["context"])),
                              "gold_answers": sum(answers), "questions_without_answer": answers.count(0)}
    summary["first_example"] = dataset[0] if len(dataset) else None
    return summary


def run(args: argparse.Namespace) -> int:
    spec = get_task(args.task)
    split = args.split or spec.paper_split
    local = {"glue_dir": args.glue_dir, "imdb_dir": args.imdb_dir, "squad_file": args.squad_file}
    source = locate(spec, split, args.data_dir, **local)
    print(json.dumps(summarize(spec, split, load(source), source.describe()), indent=2, ensure_ascii=False))
    return 0
