"""Write pip constraints that pin every direct dependency of pyproject.toml (and the chosen extras) to its floor.

    python scripts/min_constraints.py constraints.txt [--extras test,ray,tracking]
    pip install -c constraints.txt -e ".[test,ray,tracking]"

`tox -e min` does this, then runs the harness's tests: every ">=X" the project declares is then installed as
"==X", so a floor that is not true fails there (an AttributeError, an ImportError, a failing test) instead of in
a user's environment. torch is left out: install the build you want first (README), as for any install. Only
floors are read (">=X"); a requirement without one is left out. Python 3.11+ (tomllib). Not here: installing or
testing.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
FLOOR = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)")
UNPINNED = ("torch",)  # the torch build is the user's choice (installed first)


def floors(pyproject: Path, extras: list[str]) -> dict[str, str]:
    """{distribution: its floor} of the project's dependencies and the named extras' (those without one: "")."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    optional = project.get("optional-dependencies", {})
    unknown = sorted(set(extras) - set(optional))
    if unknown:
        raise SystemExit(f"unknown extras {unknown}; the project has {sorted(optional)}")
    found = {}
    for requirement in [*project["dependencies"], *(r for extra in extras for r in optional[extra])]:
        match = FLOOR.match(requirement)
        name = match.group(1) if match else re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0]
        found[name] = match.group(3) if match else ""
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="the constraints file to write")
    parser.add_argument("--extras", default="test,ray,tracking", help="the extras whose floors to pin. Default: %(default)s")
    args = parser.parse_args(argv)
    pinned = floors(ROOT / "pyproject.toml", [e for e in args.extras.split(",") if e])
    lines = [f"{name}=={floor}" for name, floor in sorted(pinned.items(), key=lambda item: item[0].lower())
             if floor and name not in UNPINNED]
    args.output.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{args.output}: {len(lines)} floors pinned ({', '.join(lines)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
