"""The README's claims table is the registry's, so the documentation cannot drift from the data."""

import runpy

from harness.spec import registry


def test_readme_claims_table_matches_the_registry(repo_root):
    module = runpy.run_path(str(repo_root / "scripts" / "readme_claims_table.py"))
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    assert module["render"](readme, registry.load()) == readme, "run: python scripts/readme_claims_table.py"
