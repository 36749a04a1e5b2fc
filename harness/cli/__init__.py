"""The command line, `python -m harness COMMAND`: one module per subcommand, each with add_arguments(parser) and
run(args) -> exit status; this module lists them (SUBCOMMANDS, in the order --help shows them) and turns a ClaimsError
(or an OSError: a path the system refused) into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from harness.errors import ClaimsError

# subcommand -> (module under harness.cli, one line for --help)
SUBCOMMANDS = {
    "data": ("data", "inspect a task's data: source, row count, label counts and the first example, as JSON"),
    "report": ("report", "rebuild report.md, report.html and the plots of a run from its results.json"),
    "check": ("check", "check a run: recompute its verdicts and measurements from the registry, the cache's stored "
              "predictions and its recorded timings, and name every value of results.json that does not follow"),
    "finetune": ("finetune", "fine-tune one checkpoint on one task through the claims' own job and cache (--set NAME=VALUE "
                 "changes a setting), writing run_glue's all_results.json, eval_results.json, train_results.json and "
                 "the per-example predictions"),
    "rescore": ("rescore", "recompute every cached fine-tuning result's metrics and validity from its stored "
                "predictions with today's metric code; trains nothing; says what changed"),
    "compare": ("compare", "compare runs side by side: each claim's value, interval, seeds and verdict per run, whether "
                "a later run differs from the first beyond their noise, what differs between their settings"),
    "power": ("power", "how often each verdict comes out for a claim under a stated truth (seeds, spread, failed runs, "
              "true difference), and the smallest difference N seeds could detect: simulated, nothing trained"),
}


def parser() -> tuple[argparse.ArgumentParser, dict]:
    """The whole command line and the module of each subcommand."""
    top = argparse.ArgumentParser(prog="python -m harness", description="DistilBERT claims harness: "
                                  "every subcommand below; `python -m harness COMMAND --help` for its options",
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = {}
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text,
                                  formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        modules[name] = importlib.import_module(f"harness.cli.{module_name}")
        modules[name].add_arguments(sub)
    return top, modules


def main(argv: list[str] | None = None) -> int:
    top, modules = parser()
    args = top.parse_args(argv)
    try:
        return int(modules[args.command].run(args) or 0)
    except ClaimsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # the file system or the network refused (a permission, a full disk): not a bug of ours
        print(f"error: {error.filename or 'a file'}: {error.strerror or error}\n  fix: check that the path exists and that "
              "you may read and write there", file=sys.stderr)
        return 2
