"""Fuzzing every reader of user files (hypothesis): no input raises anything but the suite's own one-line error.

The readers: the classic GLUE TSVs, IMDb CSV and parquet, SQuAD JSON (each through harness.data.loading,
Arrow conversion included), the claim registry, the protocols file and results.json (read, then turned
into the report's sections, Markdown and HTML). Inputs are random bytes, random structure (TSV rows,
CSV tables, parquet frames, JSON and YAML trees with the format's own keys) and mutations of the real
files. A reader may accept an input or raise ClaimsError; its message (and its fix) must be one line each.
Anything else (a KeyError, a pyarrow error, a RecursionError) fails the test with the input that caused it.

The runs are derandomized (the same examples every run, so CI never flakes); FUZZ_EXAMPLES=2000 pytest
tests/test_fuzz.py searches wider.
"""

from __future__ import annotations

import copy
import csv
import functools
import io
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sample_results import sample_results_document

from harness.data import hub, loading
from harness.errors import ClaimsError
from harness.reporting import report
from harness.reporting import results as results_module
from harness.reporting.sections import sections
from harness.spec import protocols, registry
from harness.spec.tasks import get_task, load_tasks

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
WORK: list[Path] = []  # the module's scratch folder (module-scoped: hypothesis runs each test many times)


@pytest.fixture(autouse=True, scope="module")
def scratch(tmp_path_factory):
    """A scratch folder for the inputs, a throwaway Arrow cache; the Hub is never asked (offline mode, as huggingface_hub
    and datasets read it)."""
    import datasets
    from huggingface_hub import constants

    WORK[:] = [tmp_path_factory.mktemp("fuzz")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(loading.CACHE_ENV, str(WORK[0] / "cache"))
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setattr(constants, "HF_HUB_OFFLINE", True)
        patch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
        hub.forget()
        yield
    hub.forget()


def one_line_or_accepted(call: Callable[[], Any]) -> None:
    """Run a reader: it returns, or raises ClaimsError whose message and fix are one line each."""
    try:
        call()
        event("accepted")
    except ClaimsError as error:
        event("refused" if not os.environ.get("FUZZ_WHY") else " ".join(error.what.split(": ", 1)[-1].split()[:4]))
        assert "\n" not in error.what.strip(), f"a message of several lines: {error.what!r}"
        assert error.fix is None or "\n" not in error.fix.strip(), f"a fix of several lines: {error.fix!r}"


_counter = iter(range(10**9))


def fresh(name: str, content: bytes) -> Path:
    """A new file (never reused, so no cache keyed by path, size and time can answer for another input)."""
    folder = WORK[0] / f"input-{next(_counter)}"
    folder.mkdir()
    path = folder / name
    path.write_bytes(content)
    return path


# --- random values ----------------------------------------------------------------------------------------------------
SHORT_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True)
           | SHORT_TEXT)


def json_trees(keys: list[str]) -> st.SearchStrategy[Any]:
    """JSON-like trees whose mapping keys are mostly the format's own."""
    key = st.sampled_from(keys) | SHORT_TEXT
    return st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(key, inner, max_size=5),
                        max_leaves=25)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*prefix, index))
    return found


def near(value: Any) -> st.SearchStrategy[Any]:
    """Values of the same kind as `value` at the edges: huge and negative numbers, odd text, empty containers."""
    if isinstance(value, bool):
        return st.booleans() | st.integers(-1, 2)
    if isinstance(value, (int, float)):
        return (st.sampled_from([-1, 0, 2**31, 2**63, 2**64, -(2**70), 1e308, -0.0, 0.5]) | st.floats()
                | st.integers(-(2**70), 2**70))
    if isinstance(value, str):
        return st.sampled_from(["", " ", "\n", "\x00", "{", "}", "{0}", "%s", value * 50, value.upper()]) | SHORT_TEXT
    if isinstance(value, list):
        return st.just([]) | st.just(value * 2) | st.just([None]) | st.just([value])
    if isinstance(value, dict):
        return st.just({}) | st.just({"": value}) | st.just([value])
    return SCALARS


def mutated(data: st.DataObject, document: Any, values: st.SearchStrategy[Any], times: int = 3) -> Any:
    """The document with 1 to `times` nodes replaced (by a random tree, or a value of the node's kind) or removed."""
    document = copy.deepcopy(document)
    for _ in range(data.draw(st.integers(1, times))):
        path = data.draw(st.sampled_from(_paths(document)))
        if not path:
            return data.draw(values)
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        action = data.draw(st.sampled_from(["remove", "near", "near", "tree"]))
        if action == "remove" and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = data.draw(values if action == "tree" else near(parent[path[-1]]))
    return document


# --- the GLUE TSVs ----------------------------------------------------------------------------------------------------
GLUE_SPLITS = [(name, split) for name, spec in load_tasks().items() if spec.local.format == "glue_tsv" for split in spec.splits]


def _file_fields(task: str, split: str) -> list[str]:
    local = get_task(task).local
    return list(local.headerless_fields) if split in local.headerless_splits else list(local.columns.values())


@st.composite
def tsv_files(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """A task and split, and a TSV near its format: its header (or none, shuffled, renamed), rows of its width
    with its labels, then a few of: a row a field short or long, odd values, a blank line, another line ending, a BOM."""
    task, split = draw(st.sampled_from(GLUE_SPLITS))
    spec, fields = get_task(task), _file_fields(task, split)
    headerless = split in spec.local.headerless_splits
    header = draw(st.just(fields) | st.permutations(fields) | st.lists(st.sampled_from(fields) | SHORT_TEXT, max_size=len(fields) + 1))
    valid = st.sampled_from(list(spec.local.labels) or ["0", "2.5", "5"])
    odd = st.sampled_from(["5", "-1", "7.5", "nan", "", " ", "label", "\x00"]) | st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\t\r\n"), max_size=8)
    label_field = spec.local.columns.get(spec.label_column or "")
    row = st.tuples(*[valid if name == label_field else st.sampled_from(["some words .", "x"]) for name in fields])
    rows = draw(st.lists(row.map(list), min_size=1, max_size=5))
    for _ in range(draw(st.integers(0, 2))):
        row = rows[draw(st.integers(0, len(rows) - 1))]
        change = draw(st.sampled_from(["short", "long", "odd"]))
        if change == "short" and row:
            row.pop()
        elif change == "long":
            row.append(draw(odd))
        elif row:
            row[draw(st.integers(0, len(row) - 1))] = draw(odd)
    lines = ([] if headerless and draw(st.booleans()) else ["\t".join(header)]) + ["\t".join(row) for row in rows]
    if draw(st.integers(0, 5)) == 0:
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["", " ", "\t"])))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = end.join(lines) + end * draw(st.integers(0, 3))
    return task, split, ("\ufeff" if draw(st.booleans()) else "").encode() + text.encode("utf-8", "surrogatepass")


def _load_glue(task: str, split: str, content: bytes) -> None:
    spec = get_task(task)
    path = fresh(spec.local.files[split], content)
    loading.load(loading.Source(spec, split, "glue_tsv", str(path)))


@FUZZ
@given(case=tsv_files())
def test_glue_tsv_structure(case):
    one_line_or_accepted(lambda: _load_glue(*case))


@FUZZ
@given(task_split=st.sampled_from(GLUE_SPLITS), content=st.binary(max_size=200))
def test_glue_tsv_bytes(task_split, content):
    one_line_or_accepted(lambda: _load_glue(*task_split, content))


# --- IMDb CSV and parquet ---------------------------------------------------------------------------------------------
IMDB_COLUMNS = ["text", "label", "rating", "sentiment"]


def _load_imdb(kind: str, name: str, content: bytes) -> None:
    path = fresh(name, content)
    loading.load(loading.Source(get_task("imdb"), "test", kind, str(path)))


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """A CSV near IMDb's: text and label (and other) columns, labels as ids or names, some odd."""
    header = draw(st.sampled_from([["text", "label"], ["label", "text"], ["text", "label", "rating"]])
                  | st.lists(st.sampled_from(IMDB_COLUMNS) | SHORT_TEXT, max_size=4))
    label = st.sampled_from(["0", "1", "neg", "pos", "-1", "0", "1", "2", "", "1.0", "positive"]) | SHORT_TEXT
    cell = st.sampled_from(["A fine film.", "Dull, slow.", ""]) | SHORT_TEXT
    rows = draw(st.lists(st.tuples(*[label if name == "label" else cell for name in header]).map(list), max_size=5))
    if rows and draw(st.booleans()):
        rows[-1] = draw(st.lists(cell, max_size=len(header) + 1))
    buffer = io.StringIO()
    csv.writer(buffer).writerows([header, *rows])
    return buffer.getvalue().encode("utf-8", "surrogatepass")


COLUMN_VALUES = {
    "label": st.sampled_from([0, 1]), "labels": st.sampled_from(["neg", "pos"]),
    "int": st.integers(-(2**63), 2**63 - 1), "float": st.floats(allow_nan=True), "bool": st.booleans(),
    "str": SHORT_TEXT, "none-or-str": st.none() | SHORT_TEXT, "list": st.lists(st.integers(-5, 5), max_size=3),
}


@st.composite
def parquet_files(draw: st.DrawFn) -> bytes:
    names = draw(st.just(["text", "label"]) | st.lists(st.sampled_from(IMDB_COLUMNS) | SHORT_TEXT, max_size=3, unique=True))
    rows = draw(st.integers(0, 4))
    frame = pd.DataFrame({name: draw(st.lists(COLUMN_VALUES[draw(st.sampled_from(sorted(COLUMN_VALUES)))],
                                              min_size=rows, max_size=rows)) for name in names})
    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer)
    except Exception:  # noqa: BLE001 - a frame pyarrow cannot write is no input a user can have
        return b"PAR1"
    return buffer.getvalue()


@FUZZ
@given(content=csv_files() | st.binary(max_size=200))
def test_imdb_csv(content):
    one_line_or_accepted(lambda: _load_imdb("imdb_csv", "test.csv", content))


@FUZZ
@given(content=parquet_files() | st.binary(max_size=200))
def test_imdb_parquet(content):
    one_line_or_accepted(lambda: _load_imdb("imdb_parquet", "test.parquet", content))


# --- SQuAD JSON -------------------------------------------------------------------------------------------------------
SQUAD_KEYS = ["data", "version", "title", "paragraphs", "context", "qas", "id", "question", "answers", "text", "answer_start"]
SQUAD_DOCUMENT = json.loads((ROOT / "fixtures" / "squad" / "tiny-v1.1.json").read_text())


def _load_squad(content: bytes) -> None:
    path = fresh("dev-v1.1.json", content)
    loading.load(loading.Source(get_task("squad"), "validation", "squad_json", str(path)))


@FUZZ
@given(data=st.data())
def test_squad_json(data):
    choice = data.draw(st.sampled_from(["bytes", "tree", "mutated"]))
    if choice == "bytes":
        content = data.draw(st.binary(max_size=200))
    else:
        document = (data.draw(json_trees(SQUAD_KEYS)) if choice == "tree"
                    else mutated(data, SQUAD_DOCUMENT, json_trees(SQUAD_KEYS)))
        content = json.dumps(document).encode()
    one_line_or_accepted(lambda: _load_squad(content))


# --- the registry and the protocols -----------------------------------------------------------------------------------
def _yaml_case(data: st.DataObject, document: Any, keys: list[str]) -> bytes:
    choice = data.draw(st.sampled_from(["bytes", "text", "mutated"]))
    if choice == "bytes":
        return data.draw(st.binary(max_size=200))
    if choice == "text":
        return data.draw(st.text(st.sampled_from(list("abc :-[]{}\n\t'\"#&*!|>%@`,?0.1")), max_size=80)).encode()
    return yaml.safe_dump(mutated(data, document, json_trees(keys)), allow_unicode=True).encode("utf-8", "surrogatepass")


REGISTRY_DOCUMENT = yaml.safe_load(registry.DEFAULT_REGISTRY.read_text(encoding="utf-8"))
REGISTRY_KEYS = sorted({str(key) for path in _paths(REGISTRY_DOCUMENT) for key in path if isinstance(key, str)})
PROTOCOLS_DOCUMENT = yaml.safe_load(protocols.DEFAULT_PROTOCOLS.read_text(encoding="utf-8"))
PROTOCOL_KEYS = sorted({str(key) for path in _paths(PROTOCOLS_DOCUMENT) for key in path if isinstance(key, str)})


@FUZZ
@given(data=st.data())
def test_registry(data):
    content = _yaml_case(data, REGISTRY_DOCUMENT, REGISTRY_KEYS)
    one_line_or_accepted(lambda: registry.load(fresh("registry.yaml", content)))


@FUZZ
@given(data=st.data())
def test_protocols(data):
    content = _yaml_case(data, PROTOCOLS_DOCUMENT, PROTOCOL_KEYS)
    one_line_or_accepted(lambda: protocols.load(fresh("protocols.yaml", content)))


# --- results.json -----------------------------------------------------------------------------------------------------
@functools.cache
def results_document() -> tuple[dict[str, Any], list[str]]:
    """The document and its keys (built on first use: it depends on the registry and the result types)."""
    document = sample_results_document()
    return document, sorted({str(key) for path in _paths(document) for key in path if isinstance(key, str)})


def _read_and_write_the_report(content: bytes) -> None:
    path = fresh(results_module.RESULTS_FILE, content)
    run = results_module.read(path.parent)
    parts = sections(run)
    report.to_markdown(run, parts)
    report.to_html(run, parts, {image: b"" for part in parts for image in part.images})


@FUZZ
@given(data=st.data())
def test_results_json(data):
    document, keys = results_document()
    choice = data.draw(st.sampled_from(["bytes", "mutated", "mutated"]))
    content = (data.draw(st.binary(max_size=200)) if choice == "bytes"
               else json.dumps(mutated(data, document, json_trees(keys), times=4)).encode())
    one_line_or_accepted(lambda: _read_and_write_the_report(content))
