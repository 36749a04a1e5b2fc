"""python -m harness compare RUN_A RUN_B [RUN_C ...]: runs side by side, each claim's difference judged against their
noise (harness.reporting.compare), printed and, with --output DIR, written as compare.md, compare.html and compare.png."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import ClaimsError
from harness.reporting import compare_report
from harness.reporting.compare import LABELS, compare, load_runs

FAIL_ON = ("regression", "never")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                        help="two or more run directories holding results.json (or those files); the first is the "
                             "reference each later run is compared with")
    parser.add_argument("--output", type=Path, default=None, metavar="DIR",
                        help="also write compare.md, compare.html and compare.png into DIR")
    parser.add_argument("--cache-dir", type=Path, default=None, metavar="DIR",
                        help="the result cache holding every run's per-example predictions (default: the one each "
                             "run's options record, else cache/)")
    parser.add_argument("--fail-on", choices=FAIL_ON, default="never",
                        help="regression: exit 1 when a claim reproduced in the first run is not reproduced in a later "
                             "one, or its value moved beyond the noise in the wrong direction")


def run(args: argparse.Namespace) -> int:
    if not 2 <= len(args.run_dirs) <= len(LABELS):
        raise ClaimsError(f"{len(args.run_dirs)} run director{'y' if len(args.run_dirs) == 1 else 'ies'} given",
                          f"pass 2 to {len(LABELS)} run directories, the reference first: python -m harness compare RUN_A RUN_B")
    comparison = compare(load_runs(args.run_dirs, args.cache_dir))
    print(compare_report.terminal(comparison), end="")
    if args.output is not None:
        for path in compare_report.write(comparison, args.output):
            print(path)
    return 1 if args.fail_on == "regression" and comparison.regressions else 0
