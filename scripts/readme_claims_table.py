"""Write the README's claims table from claims/registry.yaml (or --check that it is current).

The table sits between the markers <!-- claims-table:start --> and <!-- claims-table:end -->;
tests/test_readme.py fails when it differs from the registry, so the README never drifts from the data.
Usage: python scripts/readme_claims_table.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.spec import registry

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- claims-table:start -->", "<!-- claims-table:end -->"


def table(loaded: registry.Registry) -> str:
    """One markdown row per claim: id, source, paper value, metric, tolerance (or why out of scope)."""
    lines = ["| claim | source | paper | metric | tolerance | marker |", "|---|---|---|---|---|---|"]
    for claim in loaded.claims:
        paper = "" if claim.paper_value is None else f"{claim.paper_value:g} {claim.unit}".strip()
        if claim.out_of_scope:
            tolerance = "out of scope"
        else:
            tolerance = claim.tolerance.describe() + (f" (seed σ {claim.seed_spread.sigma:g})" if claim.seed_spread else "")
        if claim.known_discrepancy:
            tolerance += " · known discrepancy (strict xfail)"
        lines.append(f"| `{claim.id}` | {claim.source} | {paper} | {claim.metric} | {tolerance} | {claim.marker} |")
    return "\n".join(lines)


def render(readme: str, loaded: registry.Registry) -> str:
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table(loaded)}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the README's table is not current")
    args = parser.parse_args()
    path = ROOT / "README.md"
    current = path.read_text(encoding="utf-8")
    wanted = render(current, registry.load())
    if args.check:
        if current != wanted:
            print("README.md's claims table differs from claims/registry.yaml: run python scripts/readme_claims_table.py")
            return 1
        return 0
    path.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
