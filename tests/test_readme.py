"""The README's claims table is the registry's, so the documentation cannot drift from the data."""

import runpy

from harness.spec import registry


def test_readme_claims_table_matches_the_registry(repo_root):
    module = runpy.run_path(str(repo_root / "scripts" / "readme_claims_table.py"))
    readme = (repo_root / "README.md").read_text(encoding="utf-8")
    assert module["render"](readme, registry.load()) == readme, "run: python scripts/readme_claims_table.py"


def layout_block(readme: str) -> str:
    section = readme[readme.index("## Layout"):]
    return section[section.index("```"):section.index("```", section.index("```") + 3)]


def test_readme_layout_lists_every_module(repo_root):
    """Every module of harness/ appears in the README's Layout, by its path or under its package's folder line."""
    block = layout_block((repo_root / "README.md").read_text(encoding="utf-8"))
    missing = []
    for path in sorted((repo_root / "harness").rglob("*.py")):
        if path.name == "__init__.py":
            continue
        relative = path.relative_to(repo_root)
        listed_whole = f"{relative.as_posix()} " in block or f"{relative.as_posix()}\n" in block
        listed_in_folder = f"{relative.parent.name}/" in block and (f" {path.name} " in block or f" {path.stem}.py," in block
                                                                     or f", {path.stem}.py " in block)
        if not (listed_whole or listed_in_folder):
            missing.append(relative.as_posix())
    assert not missing, "README's Layout does not list: " + ", ".join(missing)
