"""`python -m harness COMMAND`: the command line of harness.cli (`python -m harness --help` lists every subcommand)."""

import sys

from harness.cli import main

if __name__ == "__main__":
    sys.exit(main())
