"""The package's import graph: no cycle between modules, hidden in a function or not, and no layer importing a higher one.

Every `import harness...` and `from harness... import ...` of every module under harness/ is read from its syntax tree,
function-level imports included (a cycle hidden in a function is still a cycle), and checked against LAYERS: the path
from a claim to its verdict (spec -> data -> measure -> judge -> reporting), with execute and plugin above them and the
command line on top. A module may import its own layer and any lower one, never a higher one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from harness.paths import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "harness"
# lowest first; a module's layer is the first entry its dotted name starts with
LAYERS = [
    ("harness.errors", "harness.files", "harness.paths"),
    ("harness.spec",),
    ("harness.data",),
    ("harness.device", "harness.environment"),
    ("harness.measure",),
    ("harness.judge",),
    ("harness.reporting",),
    ("harness.execute",),
    ("harness.plugin",),
    ("harness.cli", "harness.__main__"),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def harness_imports(path: Path, modules: set[str]) -> set[str]:
    """The harness modules a file imports anywhere in it (a `from package import module` names the module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("harness")}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("harness"):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return found


def graph() -> dict[str, set[str]]:
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: harness_imports(path, set(files)) - {name} for name, path in files.items()}


def layer(module: str) -> int:
    for index, prefixes in enumerate(LAYERS):
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return index
    raise AssertionError(f"{module} is in no layer of tests/test_architecture.py: add it to LAYERS")


def test_every_module_has_a_layer():
    for module in graph():
        if module != "harness":
            layer(module)


def test_no_layer_imports_a_higher_one():
    upward = [f"{module} -> {target}" for module, targets in graph().items() if module != "harness"
              for target in targets if target != "harness" and layer(target) > layer(module)]
    assert not upward, "imports of a higher layer:\n" + "\n".join(sorted(upward))


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph (its modules in order), or None: a depth-first search that remembers its path."""
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(edges.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle():
    edges = {module: {t for t in targets if t != "harness" and not module.startswith(t + ".")} for module, targets in graph().items()}
    cycle = find_cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("edges, expected", [
    ({"a": {"b"}, "b": {"a"}}, ["a", "b", "a"]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
    ({"a": {"b"}, "b": {"c"}, "c": {"b"}}, ["b", "c", "b"]),
])
def test_find_cycle_finds_them(edges, expected):
    assert find_cycle(edges) == expected
