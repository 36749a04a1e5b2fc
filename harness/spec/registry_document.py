"""The claim registry file as a whole, before its rows are read: bounded aliases, known top-level keys, finite numbers.

YAML aliases (`*name`, as yaml.safe_dump writes a value used twice) are counted from the parser's events before
anything is built from them, and a file that would expand past MAX_VALUES values is refused: a chain of aliases
(a "billion laughs" file) is a few lines of text that expands to 10^9 values, and would otherwise reach a row's
`notes` or the `references` whole. A number that is not finite (`.nan`, `.inf`) anywhere in the document (a row, the paper block, a
reference) is refused naming its path. Each message is one line of bounded length. The rows' own fields are
checked by harness.spec.registry, which calls `bound_aliases` and `check` first.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ClaimsError, did_you_mean

TOP_LEVEL = ("schema_version", "paper", "references", "defaults", "templates", "claims")
FIX = "correct the registry (see claims/registry.yaml's header for the schema)"


def shorten(text: str, limit: int = 200) -> str:
    """text cut to `limit` characters: a message stays one bounded line whatever the file holds."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


MAX_VALUES = 100_000  # values the document may hold once its aliases are expanded (claims/registry.yaml: a few thousand)


def bound_aliases(path: Path) -> None:
    """Refuse a file whose aliases expand past MAX_VALUES, counted from the parser's events (nothing is expanded), in
    one line naming the alias where the count crossed the bound."""
    try:
        events = yaml.parse(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
        sizes: dict[str, int] = {}  # anchor -> the values its node holds, expanded
        open_nodes: list[list[Any]] = [[None, 0]]  # [anchor, values so far] of each collection being read
        for event in events:
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                open_nodes.append([event.anchor, 1])
                continue
            if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                anchor, size = open_nodes.pop()
            elif isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)):
                anchor, size = (None, sizes.get(event.anchor, 1)) if isinstance(event, yaml.AliasEvent) else (event.anchor, 1)
            else:
                continue
            if anchor is not None:
                sizes[anchor] = size
            open_nodes[-1][1] += size
            if sum(node[1] for node in open_nodes) > MAX_VALUES:
                mark = event.start_mark
                raise ClaimsError(f"{path}, line {mark.line + 1}, column {mark.column + 1}: YAML aliases expand past "
                                  f"{MAX_VALUES:,} values here; the registry is a few thousand",
                                  "write the values out; rows share fields through `defaults` and `include:` templates")
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return  # read_yaml, which read the file first, names those


def first_non_finite(node: Any, where: str = "", depth: int = 0) -> tuple[str, float] | None:
    """The path and value of the first number in `node` that is not finite (nan, inf), or None."""
    if isinstance(node, float) and not math.isfinite(node):
        return where, node
    if depth > 100:  # read_yaml's parser bounds the nesting long before this
        return None
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        found = first_non_finite(value, f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}".lstrip("."), depth + 1)
        if found:
            return found
    return None


def check(path: Path, document: dict[str, Any], part: str | None = None) -> None:
    """The document's top-level keys are the registry's, and every number in it is finite (aliases: refuse_aliases).

    part: check only that top-level part's numbers (the rows are checked after their fields, which name better)."""
    for key in document:
        if key not in TOP_LEVEL:
            raise ClaimsError(f"{path}, top-level key {shorten(repr(key), 60)}: unknown; {did_you_mean(str(key), TOP_LEVEL)}",
                              FIX)
    scanned = {key: value for key, value in document.items() if (key == part if part else key != "claims")}
    found = first_non_finite(scanned)
    if found:
        where, value = found
        raise ClaimsError(f"{path}, {shorten(where, 100)}: expected a finite number, got {value}", FIX)
