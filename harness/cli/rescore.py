"""python -m harness rescore: recompute every cached job's metrics and validity from its stored predictions (harness.measure.finetune.rescore)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness.errors import ClaimsError
from harness.measure.finetune.cache import ResultCache
from harness.measure.finetune.rescore import rescore_cache
from harness.paths import DEFAULT_CACHE_DIR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE_DIR, metavar="DIR",
                        help="the result cache to rescore: the folder pytest's --cache-dir names")
    parser.add_argument("--json", action="store_true",
                        help="print {changed, unchanged, left} as JSON instead of one line per changed or left entry")


def run(args: argparse.Namespace) -> int:
    cache = ResultCache(args.cache_dir)
    if not cache.root.is_dir():
        raise ClaimsError(f"--cache-dir {cache.root} is not a folder", "pass the folder pytest's --cache-dir wrote")
    report = rescore_cache(cache)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for line in report["changed"]:
        print(f"changed    {line}")
    for line in report["left"]:
        print(f"left       {line}")
    print(f"{len(report['changed']) + len(report['unchanged'])} entries rescored from their stored predictions "
          f"(nothing trained): {len(report['changed'])} changed, {len(report['unchanged'])} unchanged; "
          f"{len(report['left'])} left as they are")
    return 0
