"""The per-field checks of a loaded split whose rows no parser of ours has read: a Hub dataset's.

harness.data.local_files checks every field of a local file as it parses it. A split loaded from the Hub (or from
datasets' cache of it) comes as Arrow with the Hub's features, so its types are right, but its values are not
checked by anyone: a revision of the dataset could carry a label outside the task's ids, a null or empty review, a
SQuAD question without answers or with an answer_start that does not point at its text, a repeated question id.
`check_rows` applies the same rules as the local parsers, so that such a split is refused when it is loaded, before
its job trains, with one line naming the dataset, the split, the row and the field. Labels -1 (unlabelled) are
allowed only in splits that are neither trained on nor scored (GLUE's test splits, IMDb's unsupervised one).
Not here: finding or loading the split (harness.data.loading), local files (harness.data.local_files).
"""

from __future__ import annotations

import math
from typing import Any

from harness.errors import ClaimsError, short_repr
from harness.spec.tasks import TaskSpec

FIX = ("the Hub dataset at this revision has rows no run can use: pin a revision that has none (hub_revision in "
       "harness/spec/tasks.yaml), or give local files (--data-dir)")


def _values(rows: Any, column: str) -> list[Any]:
    """One column as a Python list: read from Arrow in one go for a datasets.Dataset (row by row it is ~50x slower)."""
    return rows.with_format("arrow")[column].to_pylist() if hasattr(rows, "with_format") else list(rows[column])


def check_rows(spec: TaskSpec, split: str, rows: Any, where: str) -> None:
    """Refuse a loaded split (a datasets.Dataset, or anything indexable by column name) whose values no run can use;
    `where` names it in the message (hub:nyu-mll/glue/sst2@<commit>)."""

    def bad(row: int, field: str, problem: str) -> ClaimsError:
        return ClaimsError(f"{where} {split}, row {row}, field {field!r}: {problem}", FIX)

    if spec.kind == "extractive_qa":
        _check_squad(rows, bad)
        return
    scored = split == spec.train_split or split in spec.eval_splits
    for column in spec.text_columns:
        for row, text in enumerate(_values(rows, column)):
            if not isinstance(text, str) or (spec.local.format != "glue_tsv" and not text.strip()):  # GLUE: empty allowed
                found = "missing (null)" if text is None else "empty" if isinstance(text, str) else type(text).__name__
                raise bad(row, column, f"the text is {found}; expected a non-empty string")
    labels = _values(rows, spec.label_column)
    if spec.kind == "regression":
        low, high = spec.label_range or (-math.inf, math.inf)
        for row, value in enumerate(labels):
            if value is None or not math.isfinite(value) or not low <= value <= high:
                raise bad(row, spec.label_column, f"{short_repr(value, 60)} is not a score from {low:g} to {high:g}")
        return
    allowed = set(range(len(spec.label_names))) | (set() if scored else {-1})
    for row, value in enumerate(labels):
        if value not in allowed:
            note = " (-1, unlabelled, belongs to a split that is neither trained on nor scored)" if value == -1 else ""
            raise bad(row, spec.label_column, f"label {short_repr(value, 60)} is not one of {spec.name}'s label ids "
                      f"{sorted(allowed)}{note}")


def _check_squad(rows: Any, bad) -> None:
    """Every question has a unique id and at least one non-empty answer whose answer_start points at its text."""
    seen: dict[str, int] = {}
    for row, (question_id, context, answers) in enumerate(zip(*(_values(rows, c) for c in ("id", "context", "answers")), strict=True)):
        if question_id in seen:
            raise bad(row, "id", f"{short_repr(question_id, 60)} is also the id of row {seen[question_id]}; expected unique ids")
        seen[question_id] = row
        texts, starts = answers["text"], answers["answer_start"]
        if not texts:
            raise bad(row, "answers", "no answers; expected at least one (every SQuAD v1.1 question has one)")
        for text, start in zip(texts, starts, strict=True):
            if not text.strip():
                raise bad(row, "answers", "an empty answer; expected the answer's words from the context")
            if context[start:start + len(text)] != text:
                raise bad(row, "answers", f"answer_start {start} points at {short_repr(context[start:start + len(text)], 40)}, "
                          f"not at its text {short_repr(text, 40)}")
