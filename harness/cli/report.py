"""python -m harness report RUN_DIR: rebuild report.md, report.html and the plots of a run from its results.json."""

from __future__ import annotations

import argparse

from harness.reporting.report import render


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", nargs="?", default="reports/latest", metavar="RUN_DIR",
                        help="a run directory holding results.json (written by a claims run), or that results.json")


def run(args: argparse.Namespace) -> int:
    for path in render(args.run_dir):
        print(path)
    return 0
