"""Command line of the harness: `python -m harness data ...` and `python -m harness report RUN_DIR`.

Each subcommand lives in the module named for its job; this file only dispatches and turns a
ClaimsError (or an OSError: a path the system refused) into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from harness.errors import ClaimsError

# subcommand -> module providing add_arguments(parser) and run(args) -> int
SUBCOMMANDS = {
    "data": ("harness.data.cli", "inspect a task's data: source, row count, label counts and the first example, as JSON"),
    "report": ("harness.reporting.report", "rebuild report.md, report.html and the plots of a run from its results.json"),
    "check": ("harness.reporting.check", "check a run: recompute its verdicts and measurements from the registry, the "
              "cache's stored predictions and its recorded timings, and name every value of results.json that does not follow"),
    "rescore": ("harness.measure.rescore", "recompute every cached fine-tuning result's metrics and validity from its stored "
                "predictions with today's metric code; trains nothing; says what changed"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness", description="DistilBERT claims harness")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = {}
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text,
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        modules[name] = importlib.import_module(module_name)
        modules[name].add_arguments(sub)
    args = parser.parse_args(argv)
    try:
        return int(modules[args.command].run(args) or 0)
    except ClaimsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the file system or the network refused (a permission, a full disk): not a bug of ours
        print(f"error: {error.filename or 'a file'}: {error.strerror or error}\n  fix: check that the path exists and that "
              "you may read and write there", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
