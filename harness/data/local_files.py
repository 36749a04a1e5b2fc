"""Parsers of the classic local files into the Hub's columns: GLUE TSVs, IMDb (parquet, CSV, aclImdb) and SQuAD JSON.

Each parser returns a pandas DataFrame (SQuAD: a list of row dicts) with exactly the columns and label
ids of the task on the Hugging Face Hub, in the file's row order, and checks every field it reads, so
that data which can never train or score is refused when it is loaded, before any training: a missing
or renamed column, a label outside the split's set (IMDb's -1, unlabelled, only in its unsupervised
split), an IMDb review that is not a non-empty string, an empty file, NUL bytes, a truncated JSON, a
wrong delimiter (named on the header line), a row with too few or too many fields, a blank line between
rows, and in SQuAD a file of another version, a question without answers, an empty answer, an
answer_start that does not point at its text, a repeated question id. Each raises ClaimsError naming the
file, the line, row or field, and what was expected (blank lines at the end of a TSV are ignored, as the
GLUE files end with one). No input makes a parser raise anything else (tests/test_fuzz.py). Finding the
files and caching the result is harness.data's job, not this module's.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import ClaimsError
from harness.errors import short_repr as _short
from harness.spec.tasks import TaskSpec

GLUE_FIX = "use the file as download_glue_data.py writes it (tab-separated, one example a line), or load the task from the Hub"
IMDB_REVIEW = re.compile(r"^(\d+)_(\d+)\.txt$")
LINE_END = re.compile(r"\r\n|\r|\n")  # what pandas' parser ends a line at


def _bad(path: Path, where: str, problem: str, fix: str = GLUE_FIX) -> ClaimsError:
    return ClaimsError(f"{path}{', ' + where if where else ''}: {problem}", fix)


def _said(error: Exception) -> str:
    """A library's error text on one line (pandas and pyarrow end theirs with newlines)."""
    return " ".join(str(error).split())


def _check_labels(path: Path, values: pd.Series, spec: TaskSpec, mapping: dict[str, int], first_line: int,
                  field_name: str, fix: str = GLUE_FIX, unit: str = "line", note: str = "") -> list[int]:
    """File label values -> Hub ids; the first value outside the task's set fails with its line (or row)."""
    known = values.isin(list(mapping))
    if not known.all():
        row = int((~known).to_numpy().nonzero()[0][0])
        value = values.iloc[row]
        raise _bad(path, f"{unit} {row + first_line}, field {field_name!r}",
                   f"label {_short(value, 40)} is not one of {spec.name}'s labels {sorted(mapping)}"
                   f"{note if value == '-1' else ''}", fix)
    return values.map(mapping).astype(int).tolist()


def _tsv_lines(path: Path, spec: TaskSpec, split: str) -> list[str]:
    """The file's lines, decoded (a UTF-8 BOM dropped), without the blank lines that end it."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise _bad(path, f"byte {error.start}", "not UTF-8 text") from None
    nul = text.find("\x00")
    if nul >= 0:
        raise _bad(path, f"line {len(LINE_END.split(text[:nul]))}", "a NUL byte; a text file has none (a damaged download, "
                                                                      "or a binary or UTF-16 file?)")
    lines = LINE_END.split(text)
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise _bad(path, "", f"the file is empty; expected {spec.name}'s {split} examples")
    blank = next((number for number, line in enumerate(lines, 1) if not line.strip()), None)
    if blank is not None:
        raise _bad(path, f"line {blank}", "a blank line between examples (only blank lines at the end are ignored); "
                                          "remove it, or restore the file")
    return lines


def _check_header(path: Path, found: list[str], wanted: list[str], label_column: str | None, split: str) -> None:
    """The header line (line 1) names every input column, and the label's outside a test split."""
    missing = [col for col in wanted if col not in found]
    if missing:
        glued = [field for field in found if any(col in re.split(r"[ ,;]+", field) for col in missing)]
        hint = f" (is it tab-separated? {_short(glued[0], 40)} holds column names joined by spaces or commas)" if glued else ""
        raise _bad(path, "line 1 (the header)", f"missing column(s) {missing}; expected {wanted}"
                                                f"{' and ' + repr(label_column) if label_column else ''}, found {_short(found)}{hint}")
    if label_column and label_column not in found and not split.startswith("test"):
        raise _bad(path, "line 1 (the header)", f"missing label column {label_column!r}; found {_short(found)}")


def _check_field_counts(path: Path, lines: list[str], first_line: int, names: list[str], headerless: bool) -> None:
    """Every line from first_line has as many tab-separated fields as `names`; the first that does not fails."""
    expected = len(names)
    for number, line in enumerate(lines[first_line - 1:], first_line):
        found = line.count("\t") + 1
        if found != expected:
            why = ("too few fields (a tab missing?)" if found < expected
                   else f"not a well-formed tab-separated file (a stray tab on line {number}?)")
            raise _bad(path, f"line {number}", f"{found} tab-separated field(s), expected {expected} ({', '.join(names)})"
                                               f"{' with no header line' if headerless else ''}: {why}")


def read_glue_tsv(path: Path, spec: TaskSpec, split: str) -> pd.DataFrame:
    """One classic GLUE TSV -> the Hub's columns (text columns, label, idx = row number)."""
    local = spec.local
    headerless = split in local.headerless_splits
    lines = _tsv_lines(path, spec, split)
    first_line = 1 if headerless else 2  # the file line of the first row, for messages
    names = list(local.headerless_fields) if headerless else lines[0].split("\t")
    columns = dict(local.columns)
    label_file_column = columns.pop(spec.label_column, None) if spec.label_column else None
    if not headerless:
        _check_header(path, names, list(columns.values()), label_file_column, split)
    _check_field_counts(path, lines, first_line, names, headerless)
    try:
        frame = pd.read_csv(io.StringIO("\n".join(lines) + "\n"), sep="\t", quoting=csv.QUOTE_NONE, dtype=str,
                            keep_default_na=False, skip_blank_lines=False, index_col=False,
                            header=None if headerless else 0)
    except pd.errors.EmptyDataError:
        raise _bad(path, "", f"the file is empty; expected {spec.name}'s {split} examples") from None
    except pd.errors.ParserError as error:
        raise _bad(path, "", f"not a well-formed tab-separated file ({_said(error)})") from None
    if headerless:
        frame.columns = names
    if len(frame) == 0:
        raise _bad(path, "", f"a header and no examples; expected {spec.name}'s {split} examples")
    out = pd.DataFrame({hub: frame[col] for hub, col in columns.items()})
    has_labels = label_file_column in names
    if spec.kind == "regression":
        out["label"] = _regression_labels(path, frame, label_file_column, spec, first_line) if has_labels else -1.0
    else:
        out["label"] = (_check_labels(path, frame[label_file_column], spec, local.labels, first_line, label_file_column)
                        if has_labels else -1)
    out["idx"] = range(len(out))
    return out


def _regression_labels(path: Path, frame: pd.DataFrame, column: str, spec: TaskSpec, first_line: int) -> list[float]:
    values = pd.to_numeric(frame[column], errors="coerce")
    low, high = spec.label_range or (float("-inf"), float("inf"))
    bad = values.isna() | (values < low) | (values > high)
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise _bad(path, f"line {row + first_line}, field {column!r}",
                   f"score {frame[column].iloc[row]!r} is not a number in [{low:g}, {high:g}]")
    return values.astype(float).tolist()


# ---------------------------------------------------------------------------------------------- IMDb
IMDB_FIX = "give IMDb as parquet or CSV with columns text and label (0 neg, 1 pos), or as the original aclImdb/ folder"


def read_imdb_table(path: Path, spec: TaskSpec, split: str | None = None) -> pd.DataFrame:
    """IMDb as parquet or CSV with text and label (0/1 or neg/pos) -> the Hub's columns text, label.

    `split` (default: the file's stem, as harness.data names the files) decides whether -1 (unlabelled) is a label.
    """
    split = split or path.stem
    if path.stat().st_size == 0:
        raise _bad(path, "", "the file is empty; expected IMDb reviews", IMDB_FIX)
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            raw = path.read_bytes()
            nul = raw.find(b"\x00")
            if nul >= 0:
                line = raw.count(b"\n", 0, nul) + 1
                raise _bad(path, f"line {line}", "a NUL byte; a text file has none "
                           "(a damaged download, or a binary or UTF-16 file?)", IMDB_FIX)
            frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except pd.errors.ParserError as error:
        raise _bad(path, "", f"not a well-formed CSV file ({_said(error)})", IMDB_FIX) from None
    except (OSError, ValueError) as error:
        raise _bad(path, "", f"cannot be read as {path.suffix[1:]} ({_said(error)})", IMDB_FIX) from None
    missing = [col for col in ("text", "label") if col not in frame.columns]
    if missing:
        raise _bad(path, "columns", f"missing {missing}; expected text and label, found {_short(list(frame.columns))}", IMDB_FIX)
    if len(frame) == 0:
        raise _bad(path, "", "a header and no reviews; expected IMDb reviews", IMDB_FIX)
    mapping = {str(i): i for i in range(len(spec.label_names))} | {n: i for i, n in enumerate(spec.label_names)}
    if split == "unsupervised":
        mapping["-1"] = -1  # the unlabelled reviews: only the unsupervised split has them
    parquet = path.suffix == ".parquet"  # a parquet file has rows, a CSV file lines (the header is line 1)
    first, unit = (1, "row") if parquet else (2, "line")
    _check_reviews(path, list(frame["text"]), first, unit)
    labels = _check_labels(path, frame["label"].astype(str), spec, mapping, first, "label", IMDB_FIX, unit,
                           "" if split == "unsupervised" else " (-1, unlabelled, belongs to the unsupervised split only)")
    return pd.DataFrame({"text": frame["text"].astype(str), "label": labels})


def _check_reviews(path: Path, texts: list[Any], first: int, unit: str) -> None:
    """Every review is a non-empty string (a null, a number or a blank review can never be tokenized or scored)."""
    for number, text in enumerate(texts, first):
        if not isinstance(text, str) or not text.strip():
            kind = type(text).__name__
            found = ("empty" if isinstance(text, str) else "missing (null)" if text is None or text is pd.NA
                     or isinstance(text, float) and math.isnan(text) else f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}, not text")
            raise _bad(path, f"{unit} {number}, field 'text'", f"the review is {found}; expected a non-empty string",
                       IMDB_FIX)


def imdb_tree_files(folder: Path, split: str) -> list[tuple[Path, int]]:
    """The review files of one split of an aclImdb tree, neg then pos, by review id; with their label id."""
    parts = (("unsup", -1),) if split == "unsupervised" else (("neg", 0), ("pos", 1))
    files = []
    for name, label in parts:
        reviews = []
        for path in (folder / split.replace("unsupervised", "train") / name).glob("*.txt"):
            match = IMDB_REVIEW.match(path.name)
            if not match:
                raise _bad(path, "file name", "expected ID_RATING.txt as in aclImdb (e.g. 12_8.txt)", IMDB_FIX)
            reviews.append((int(match.group(1)), path))
        files += [(path, label) for _, path in sorted(reviews)]
    return files


def read_imdb_tree(folder: Path, split: str) -> pd.DataFrame:
    """The original aclImdb/{split}/{neg,pos}/ID_RATING.txt layout -> text, label."""
    files = imdb_tree_files(folder, split)
    if not files:
        raise _bad(folder / split, "", "no ID_RATING.txt reviews under neg/ and pos/", IMDB_FIX)
    texts = []
    for path, _ in files:
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as error:
            raise _bad(path, f"byte {error.start}", "not UTF-8 text", IMDB_FIX) from None
        if not texts[-1].strip():
            raise _bad(path, "", "the review is empty; expected a non-empty review", IMDB_FIX)
    return pd.DataFrame({"text": texts, "label": [label for _, label in files]})


# --------------------------------------------------------------------------------------------- SQuAD
SQUAD_FIX = "give the official SQuAD v1.1 JSON (dev-v1.1.json / train-v1.1.json), unmodified"


def read_squad_json(path: Path) -> list[dict[str, Any]]:
    """SQuAD v1.1 JSON -> one row per question with the Hub's columns (id, title, context, question, answers)."""
    if path.stat().st_size == 0:
        raise _bad(path, "", "the file is empty; expected SQuAD v1.1 JSON", SQUAD_FIX)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise _bad(path, f"line {error.lineno}, column {error.colno}",
                   f"not valid JSON ({error.msg}); a truncated download?", SQUAD_FIX) from None
    except UnicodeDecodeError as error:
        raise _bad(path, f"byte {error.start}", "not UTF-8 text", SQUAD_FIX) from None
    if isinstance(document, dict) and "version" in document and document["version"] != "1.1":
        version = document["version"]
        raise _bad(path, "field version", f"{_short(version, 20)}; expected '1.1' (the paper scores SQuAD v1.1; "
                   f"{'v2.0 adds unanswerable questions' if str(version).lstrip('v').startswith('2') else 'another file'})",
                   SQUAD_FIX)
    rows: list[dict[str, Any]] = []
    seen: dict[str, str] = {}  # question id -> where it was first given
    for a, article in enumerate(_field(path, document, "data", list, "")):
        where = f"data[{a}]"
        title = article.get("title", "") if isinstance(article, dict) else ""
        for p, paragraph in enumerate(_field(path, article, "paragraphs", list, where)):
            context = _field(path, paragraph, "context", str, f"{where}.paragraphs[{p}]")
            for q, qa in enumerate(_field(path, paragraph, "qas", list, f"{where}.paragraphs[{p}]")):
                at = f"{where}.paragraphs[{p}].qas[{q}]"
                rows.append(_question(path, qa, title, context, at, seen))
    if not rows:
        raise _bad(path, "field 'data'", "no questions found", SQUAD_FIX)
    return rows


def _question(path: Path, qa: Any, title: str, context: str, at: str, seen: dict[str, str]) -> dict[str, Any]:
    """One question's row: a unique id, a v1.1 question (no is_impossible), at least one answer, each pointing at its text."""
    if isinstance(qa, dict) and "is_impossible" in qa:
        raise _bad(path, f"field {at}.is_impossible", "a SQuAD v2.0 field; expected a v1.1 file, whose every question "
                   "has an answer", SQUAD_FIX)
    question_id = _field(path, qa, "id", str, at)
    if question_id in seen:
        raise _bad(path, f"field {at}.id", f"{_short(question_id, 40)} is also the id of {seen[question_id]}; "
                   "expected ids unique to their question", SQUAD_FIX)
    seen[question_id] = at
    answers = _field(path, qa, "answers", list, at)
    if not answers:
        raise _bad(path, f"field {at}.answers", "no answers; expected at least one (every SQuAD v1.1 question has one)",
                   SQUAD_FIX)
    texts = [_answer_text(path, x, f"{at}.answers[{i}]") for i, x in enumerate(answers)]
    return {
        "id": question_id,
        "title": title,
        "context": context,
        "question": _field(path, qa, "question", str, at),
        "answers": {"text": texts, "answer_start": [_answer_start(path, x, context, text, f"{at}.answers[{i}]")
                                                    for i, (x, text) in enumerate(zip(answers, texts, strict=True))]},
    }


def _answer_text(path: Path, answer: Any, where: str) -> str:
    text = _field(path, answer, "text", str, where)
    if not text.strip():
        raise _bad(path, f"field {where}.text", "an empty answer; expected the answer's words from the context", SQUAD_FIX)
    return text


def _answer_start(path: Path, answer: Any, context: str, text: str, where: str) -> int:
    """An answer's character offset: an integer inside its context, where its text begins."""
    start = _field(path, answer, "answer_start", int, where)
    if not 0 <= start <= len(context):
        raise _bad(path, f"field {where}.answer_start", f"{start} is outside its context (0 to {len(context)} characters)",
                   SQUAD_FIX)
    found = context[start:start + len(text)]
    if found != text:
        elsewhere = context.find(text)
        hint = f" (the text begins at {elsewhere})" if elsewhere >= 0 else " (the text is nowhere in the context)"
        raise _bad(path, f"field {where}.answer_start", f"{start} points at {_short(found, 40)}, not at its text "
                   f"{_short(text, 40)}{hint}", SQUAD_FIX)
    return start


_KIND_NAMES = {list: "a list", str: "a string", int: "an integer"}


def _field(path: Path, node: Any, name: str, kind: type, where: str) -> Any:
    """node[name], checked to be a `kind`; a missing or mistyped field names its JSON path."""
    if not isinstance(node, dict) or name not in node:
        raise _bad(path, f"field {where + '.' if where else ''}{name}", f"missing; expected {_KIND_NAMES[kind]}", SQUAD_FIX)
    value = node[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _bad(path, f"field {where + '.' if where else ''}{name}",
                   f"expected {_KIND_NAMES[kind]}, got {type(value).__name__}", SQUAD_FIX)
    return value
