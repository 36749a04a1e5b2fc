"""Tokenize a task's split with the model's own tokenizer; SQuAD's windows and the answer post-processing.

Classification and regression (GLUE, IMDb): one batched `datasets.map` that tokenizes the task's one
or two text columns with truncation to the job's max_length (GLUE 128, IMDb 512) and no padding:
padding per batch is a DataCollatorWithPadding's job. SQuAD v1.1 as transformers' run_qa does it:
question and context in windows of max_length (384) tokens overlapping by doc_stride (128), training
features labelled with the answer's start and end tokens (the [CLS] token where a window does not hold
the answer), evaluation features keeping the offset mappings of the context and their example id;
and post-processing from start/end logits to answer text (the best-scoring valid span of the n best
starts and ends, at most max_answer_length tokens). Maps on a cached dataset are cached by `datasets`.
max_length and doc_stride are always the caller's (a job's Settings, where the task's own values from
harness/spec/tasks.yaml fill what the protocol leaves open): this module has no defaults of its own.
This module builds no model and computes no metric.
"""

from __future__ import annotations

import collections
from typing import Any

import datasets
import numpy as np

from harness.errors import ClaimsError
from harness.spec.tasks import TaskSpec


def _tokenize_batch(batch: dict[str, list], tokenizer: Any, columns: tuple[str, ...], max_length: int,
                    keep_token_type_ids: bool | None) -> dict[str, list]:
    options = {} if keep_token_type_ids is None else {"return_token_type_ids": keep_token_type_ids}
    return tokenizer(*(batch[column] for column in columns), truncation=True, max_length=max_length, **options)


def tokenize_task(dataset: datasets.Dataset, spec: TaskSpec, tokenizer: Any, max_length: int,
                  keep_token_type_ids: bool | None = None, num_proc: int | None = None) -> datasets.Dataset:
    """input_ids, attention_mask (and token_type_ids where the tokenizer makes them) plus label; no padding.

    keep_token_type_ids: None lets the tokenizer decide (its model_input_names); False drops them, e.g.
    for DistilBERT when a tokenizer without a DistilBERT tokenizer class was loaded (the model's accepted
    inputs: harness.measure.models.accepted_inputs). max_length: the job's (its Settings: the task's unless the
    protocol says otherwise, harness.spec.protocols).
    """
    if spec.kind == "extractive_qa":
        raise ClaimsError(f"task {spec.name!r} is extractive QA", "use prepare_squad_train_features / prepare_squad_eval_features")
    missing = [column for column in (*spec.text_columns, "label") if column not in dataset.column_names]
    if missing:
        raise ClaimsError(f"{spec.name}: the dataset lacks columns {missing} (has {dataset.column_names})",
                          "load it with harness.data.loading, which gives the Hub's columns")
    return dataset.map(
        _tokenize_batch, batched=True, remove_columns=[c for c in dataset.column_names if c != "label"],
        fn_kwargs={"tokenizer": tokenizer, "columns": spec.text_columns, "max_length": max_length,
                   "keep_token_type_ids": keep_token_type_ids},
        num_proc=num_proc, desc=f"tokenizing {spec.name}",
    )


# --------------------------------------------------------------------------------------------- SQuAD
def _windows(examples: dict[str, list], tokenizer: Any, max_length: int, doc_stride: int, padding: bool | str,
             keep_token_type_ids: bool | None) -> Any:
    """Question and context tokenized into overlapping windows over the context, with offsets."""
    questions = [question.lstrip() for question in examples["question"]]  # a few SQuAD questions start with spaces
    question_first = tokenizer.padding_side == "right"
    pair = (questions, examples["context"]) if question_first else (examples["context"], questions)
    options = {} if keep_token_type_ids is None else {"return_token_type_ids": keep_token_type_ids}
    return tokenizer(*pair, truncation="only_second" if question_first else "only_first", max_length=max_length,
                     stride=doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True,
                     padding=padding, **options)


def _context_span(encoded: Any, index: int, context_id: int) -> tuple[int, int]:
    """First and last token of the context in window `index`."""
    sequence_ids = encoded.sequence_ids(index)
    first = sequence_ids.index(context_id)
    last = len(sequence_ids) - 1 - sequence_ids[::-1].index(context_id)
    return first, last


def _train_batch(examples: dict[str, list], tokenizer: Any, max_length: int, doc_stride: int, padding: bool | str,
                 keep_token_type_ids: bool | None) -> dict[str, list]:
    encoded = _windows(examples, tokenizer, max_length, doc_stride, padding, keep_token_type_ids)
    context_id = 1 if tokenizer.padding_side == "right" else 0
    starts, ends = [], []
    for i, offsets in enumerate(encoded["offset_mapping"]):
        ids = encoded["input_ids"][i]
        cls = ids.index(tokenizer.cls_token_id) if tokenizer.cls_token_id in ids else 0
        answers = examples["answers"][encoded["overflow_to_sample_mapping"][i]]
        first, last = _context_span(encoded, i, context_id)
        if not answers["answer_start"]:
            starts.append(cls), ends.append(cls)
            continue
        start_char = answers["answer_start"][0]
        end_char = start_char + len(answers["text"][0])
        if offsets[first][0] > start_char or offsets[last][1] < end_char:  # the answer is not (wholly) in this window
            starts.append(cls), ends.append(cls)
            continue
        start = first
        while start <= last and offsets[start][0] <= start_char:
            start += 1
        end = last
        while end >= first and offsets[end][1] >= end_char:
            end -= 1
        starts.append(start - 1), ends.append(end + 1)
    encoded.pop("offset_mapping")
    encoded.pop("overflow_to_sample_mapping")
    encoded["start_positions"], encoded["end_positions"] = starts, ends
    return encoded


def _eval_batch(examples: dict[str, list], tokenizer: Any, max_length: int, doc_stride: int, padding: bool | str,
                keep_token_type_ids: bool | None) -> dict[str, list]:
    encoded = _windows(examples, tokenizer, max_length, doc_stride, padding, keep_token_type_ids)
    context_id = 1 if tokenizer.padding_side == "right" else 0
    sample_map = encoded.pop("overflow_to_sample_mapping")
    encoded["example_id"] = [examples["id"][sample] for sample in sample_map]
    encoded["offset_mapping"] = [
        [offset if sequence_id == context_id else None for offset, sequence_id in zip(offsets, encoded.sequence_ids(i), strict=True)]
        for i, offsets in enumerate(encoded["offset_mapping"])
    ]
    return encoded


def _prepare(dataset: datasets.Dataset, tokenizer: Any, batch_fn: Any, max_length: int, doc_stride: int,
             padding: bool | str, keep_token_type_ids: bool | None, num_proc: int | None, what: str) -> datasets.Dataset:
    missing = [c for c in ("id", "context", "question", "answers") if c not in dataset.column_names]
    if missing:
        raise ClaimsError(f"squad: the dataset lacks columns {missing} (has {dataset.column_names})",
                          "load it with harness.data.loading (task squad)")
    return dataset.map(
        batch_fn, batched=True, remove_columns=dataset.column_names, num_proc=num_proc, desc=f"squad {what} windows",
        fn_kwargs={"tokenizer": tokenizer, "max_length": max_length, "doc_stride": doc_stride, "padding": padding,
                   "keep_token_type_ids": keep_token_type_ids},
    )


def prepare_squad_train_features(dataset: datasets.Dataset, tokenizer: Any, max_length: int, doc_stride: int,
                                 padding: bool | str = "max_length",
                                 keep_token_type_ids: bool | None = None, num_proc: int | None = None) -> datasets.Dataset:
    """Training windows with start_positions / end_positions ([CLS] where the window misses the answer)."""
    return _prepare(dataset, tokenizer, _train_batch, max_length, doc_stride, padding, keep_token_type_ids, num_proc, "train")


def prepare_squad_eval_features(dataset: datasets.Dataset, tokenizer: Any, max_length: int, doc_stride: int,
                                padding: bool | str = "max_length",
                                keep_token_type_ids: bool | None = None, num_proc: int | None = None) -> datasets.Dataset:
    """Evaluation windows with example_id and offset_mapping (None outside the context).

    Drop example_id and offset_mapping before feeding the model (Trainer does, as unused columns).
    """
    return _prepare(dataset, tokenizer, _eval_batch, max_length, doc_stride, padding, keep_token_type_ids, num_proc, "eval")


def postprocess_squad(examples: datasets.Dataset, features: datasets.Dataset, start_logits: Any, end_logits: Any,
                      n_best: int = 20, max_answer_length: int = 30) -> dict[str, str]:
    """{question id: answer text}: per question, the best start+end score over all its windows.

    Candidates are the n_best highest start and end logits of each window; a span must lie in the
    context, end at or after its start, and be at most max_answer_length tokens. No valid span: "".
    """
    start_logits, end_logits = np.asarray(start_logits), np.asarray(end_logits)
    if len(start_logits) != len(features) or len(end_logits) != len(features):
        raise ClaimsError(f"squad post-processing: {len(start_logits)} start and {len(end_logits)} end logit rows "
                          f"for {len(features)} features", "pass the logits of every evaluation feature, in order")
    windows = collections.defaultdict(list)
    for index, example_id in enumerate(list(features["example_id"])):
        windows[example_id].append(index)
    all_offsets = list(features["offset_mapping"])  # a plain list: a datasets Column is slow to index
    predictions = {}
    for example_id, context in zip(list(examples["id"]), list(examples["context"]), strict=True):
        best_score, best_text = -np.inf, ""
        for index in windows[example_id]:
            offsets = all_offsets[index]
            score, start, end = _best_span(start_logits[index][: len(offsets)], end_logits[index][: len(offsets)],
                                           np.array([offset is not None for offset in offsets]), n_best, max_answer_length)
            if score > best_score:
                best_score, best_text = score, context[offsets[start][0]:offsets[end][1]]
        predictions[example_id] = best_text
    return predictions


def _best_span(starts: np.ndarray, ends: np.ndarray, in_context: np.ndarray, n_best: int,
               max_answer_length: int) -> tuple[float, int, int]:
    """The best valid (score, start, end) of one window among its n_best starts x n_best ends; -inf if none."""
    top_starts = np.argsort(starts)[::-1][:n_best]
    top_ends = np.argsort(ends)[::-1][:n_best]
    length = top_ends[None, :] - top_starts[:, None] + 1
    valid = in_context[top_starts][:, None] & in_context[top_ends][None, :] & (length >= 1) & (length <= max_answer_length)
    if not valid.any():
        return -np.inf, 0, 0
    scores = np.where(valid, starts[top_starts][:, None] + ends[top_ends][None, :], -np.inf)
    best = int(np.argmax(scores))  # the first best in start-major order, as a stable sort of the candidates gives
    row, column = divmod(best, len(top_ends))
    return float(scores[row, column]), int(top_starts[row]), int(top_ends[column])
