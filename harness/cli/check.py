"""python -m harness check RUN_DIR: recompute a run's verdicts and measurements (harness.reporting.check) and name what does not follow."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.paths import DEFAULT_CACHE_DIR
from harness.reporting import results as results_module
from harness.reporting.check import Check
from harness.spec import registry as registry_module


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", nargs="?", default="reports/latest", metavar="RUN_DIR",
                        help="a run directory holding results.json (or the file itself)")
    parser.add_argument("--cache-dir", type=Path, default=None, metavar="DIR",
                        help="the result cache the run read (default: the one its options record, else cache/)")
    parser.add_argument("--registry", type=Path, default=None, metavar="FILE",
                        help="the claim registry to check against (default: the run's, else claims/registry.yaml)")


def run(args: argparse.Namespace) -> int:
    run_results = results_module.read(args.run_dir)
    recorded_registry = Path(str((run_results.registry or {}).get("path") or ""))
    registry = registry_module.load(args.registry or (recorded_registry if recorded_registry.is_file()
                                                      else registry_module.DEFAULT_REGISTRY))
    cache_dir = args.cache_dir or Path(run_results.options.get("cache_dir") or DEFAULT_CACHE_DIR)
    check = Check(run_results, registry, cache_dir).all()
    print(f"check {args.run_dir}: {len(run_results.claims)} claims, {check.recomputed} measurements recomputed, "
          f"{len(check.findings)} value(s) that do not follow, {len(check.notes)} not checked")
    for finding in check.findings:
        print(f"  DOES NOT FOLLOW  {finding}")
    for note in check.notes:
        print(f"  not checked      {note}")
    return 1 if check.findings else 0
