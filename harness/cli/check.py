"""python -m harness check RUN_DIR: recompute a run's verdicts and measurements (harness.reporting.check) and name what does not follow.

It verifies or fails: a registry that is not the one the run read (found by its digest) and a cache folder that is
not there each stop the check with exit status 1 (harness.reporting.integrity); anything that does not follow exits
1; anything that could not be checked exits 1 too, unless --allow-unchecked accepts it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.paths import DEFAULT_CACHE_DIR
from harness.reporting import integrity
from harness.reporting import results as results_module
from harness.reporting.check import Check, cache_keys
from harness.spec import protocols
from harness.spec import registry as registry_module


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", nargs="?", default="reports/latest", metavar="RUN_DIR",
                        help="a run directory holding results.json (or the file itself)")
    parser.add_argument("--cache-dir", type=Path, default=None, metavar="DIR",
                        help="the result cache the run read (default: the one its options record, else cache/)")
    parser.add_argument("--registry", type=Path, default=None, metavar="FILE",
                        help="the claim registry to check against: it must be the one the run read, found by the digest "
                             "results.json records (default: the run's path, else claims/registry.yaml, whichever has it)")
    parser.add_argument("--allow-other-registry", action="store_true",
                        help="check against --registry (or the default) even when it is not the registry the run read")
    parser.add_argument("--allow-unchecked", action="store_true",
                        help="exit 0 when everything checked follows, though some parts could not be checked")


def run(args: argparse.Namespace) -> int:
    run_results = results_module.read(args.run_dir)
    registry_path, other = integrity.choose_registry(run_results, args.registry, args.allow_other_registry)
    cache_dir = args.cache_dir or Path(run_results.options.get("cache_dir") or DEFAULT_CACHE_DIR)
    keys = sorted({key for result in run_results.claims for key in cache_keys(result.details)})
    stop = other or integrity.cache_folder_problem(cache_dir, args.cache_dir is not None, run_results, keys)
    if stop:  # checking against another registry or an absent cache would only say "not checked": it fails
        print(f"check {args.run_dir}: not checked\n  CANNOT CHECK     {stop}")
        return 1
    registry = registry_module.load(registry_path)
    protocols.use_file(run_results.options.get("protocols"))  # the run's own protocols file (--protocols), if it had one
    try:
        check = Check(run_results, registry, cache_dir).all()
    finally:
        protocols.use_file(None)
    errors = f", {check.errors_reproduced} errors reproduced" if check.errors_reproduced else ""
    print(f"check {args.run_dir}: {len(run_results.claims)} claims, {check.recomputed} measurements recomputed{errors}, "
          f"{len(check.findings)} value(s) that do not follow, {len(check.notes)} not checked")
    for finding in check.findings:
        print(f"  DOES NOT FOLLOW  {finding}")
    for note in check.notes:
        print(f"  not checked      {note}")
    if check.notes and not check.findings and not args.allow_unchecked:
        print(f"  exit status 1: {len(check.notes)} part(s) not checked (--allow-unchecked accepts them)")
    return 1 if check.findings or (check.notes and not args.allow_unchecked) else 0
