"""Registry rows that should never load (issue 21): non-finite numbers, unknown top-level keys, ids outside
[a-z0-9_.], YAML aliases that expand past a bound (an alias bomb), a row without its paper_value; each refused in one line of
bounded length naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.errors import ClaimsError
from harness.spec import registry

GOOD_ROW = {
    "id": "size.test", "version": 1, "family": "size", "statement": "s", "source": "Table 3",
    "metric": "parameters_millions", "metric_reason": "r", "marker": "size", "paper_value": 1.0,
    "tolerance": {"kind": "absolute", "value": 0.5}, "tolerance_reason": "r",
}
LIMIT = 400  # characters a message may take besides the file's path


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(text)
    return path


def _registry(tmp_path: Path, *rows: dict, **top: object) -> Path:
    return _write(tmp_path, yaml.safe_dump({"schema_version": 1, **top, "claims": list(rows)}))


def _refused(path: Path, pattern: str) -> str:
    with pytest.raises(ClaimsError, match=pattern) as error:
        registry.load(path)
    what = error.value.what
    assert "\n" not in what and len(what.replace(str(path), "")) < LIMIT, what[:1000]
    return what


@pytest.mark.parametrize("change, pattern", [
    ({"paper_value": float("nan")}, r"field 'paper_value': expected a finite number, got nan"),
    ({"paper_value": float("inf")}, r"field 'paper_value': expected a finite number, got inf"),
    ({"tolerance": {"kind": "absolute", "value": float("nan")}}, r"field 'tolerance.value': expected a non-negative number \(finite\), got (nan|inf)"),
    ({"tolerance": {"kind": "absolute", "value": float("inf")}}, r"field 'tolerance.value': expected a non-negative number \(finite\), got (nan|inf)"),
    ({"seed_spread": {"sigma": float("inf"), "source": "s"}}, r"field 'seed_spread.sigma': expected a positive number"),
    ({"id": "size bert/../params[1]"}, r"field 'id': 'size bert/../params\[1\]' has characters outside \[a-z0-9_.\]"),
    ({"id": "Size.Bert"}, r"field 'id': 'Size.Bert' has characters outside \[a-z0-9_.\]"),
    ({"notes": ["x" * 10_000]}, r"field 'notes': expected str, got list \['xxx"),
])
def test_a_bad_field_is_refused_in_one_bounded_line(tmp_path, change, pattern):
    _refused(_registry(tmp_path, {**GOOD_ROW, **change}), pattern)


def test_a_non_finite_number_anywhere_is_named_by_its_path(tmp_path):
    references = [{"id": "reference.x", "values": {"score": float("inf")}}]
    _refused(_registry(tmp_path, GOOD_ROW, references=references),
             r"references\[0\].values.score: expected a finite number, got inf")
    _refused(_registry(tmp_path, GOOD_ROW, paper={"year": float("nan")}), r"paper.year: expected a finite number, got nan")


def test_an_unknown_top_level_key_is_refused(tmp_path):
    _refused(_registry(tmp_path, GOOD_ROW, claimz=[GOOD_ROW]), r"top-level key 'claimz': unknown; did you mean 'claims'\?")


def test_a_row_without_paper_value_is_named_as_such_not_as_its_statement(tmp_path):
    row = {key: value for key, value in GOOD_ROW.items() if key != "paper_value"} | {"statement": "BERT has {paper_value} M"}
    _refused(_registry(tmp_path, row), r"field 'paper_value': missing: a claim in scope needs the paper's value")


def test_small_aliases_load(tmp_path):
    """yaml.safe_dump writes a value used twice as an anchor and an alias: that is fine, as long as it stays small."""
    tolerance = {"kind": "absolute", "value": 0.5}
    path = _registry(tmp_path, {**GOOD_ROW, "tolerance": tolerance}, {**GOOD_ROW, "id": "size.other", "tolerance": tolerance})
    assert "*id001" in path.read_text()
    assert [claim.tolerance.value for claim in registry.load(path).claims] == [0.5, 0.5]


@pytest.mark.parametrize("field", ["references", "notes"])
def test_an_alias_bomb_is_refused_quickly_in_one_line(tmp_path, field):
    """Nine levels of ten aliases each: 10^9 elements if expanded; refused from the events, never expanded."""
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    bomb = "\n".join(levels)
    row = yaml.safe_dump([GOOD_ROW]).replace("\n", "\n  ")
    text = f"schema_version: 1\nbomb:\n  {bomb.replace(chr(10), chr(10) + '  ')}\n"
    text += "references: *a9\n" if field == "references" else ""
    text += f"claims:\n  {row}\n"
    if field == "notes":
        text = text.replace("tolerance_reason: r", "tolerance_reason: r\n    notes: *a9", 1)
    _refused(_write(tmp_path, text), r"line \d+, column \d+: YAML aliases expand past 100,000 values here")
