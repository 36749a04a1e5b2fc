"""Real-data checks on ../shared (beside the project root): every file of ../shared/data loads through the
harness's loaders with its known row counts and label balance, and SQuAD dev's gold answers survive the
real preprocessing (bert-base-uncased's tokenizer) and post-processing. Skipped, with the reason, where
../shared is absent (a fresh clone); a few minutes at most here."""

from __future__ import annotations

import collections
import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest
from transformers import AutoTokenizer

from harness.data import loading
from harness.data.preprocess import postprocess_squad, prepare_squad_eval_features
from harness.measure.metrics import compute, squad_exact_match
from harness.spec.tasks import get_task

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data"
BERT = SHARED / "models" / "bert-base-uncased"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason=f"no real data: {DATA} is absent (../shared beside the project root)")
SQUAD_SHA256 = "95aa6a52d5d6a735563366753ca50492a658031da74f301ac5238b03966972c9"  # ../shared/README.md


@pytest.fixture(autouse=True)
def _offline(offline):
    """Every test here runs with the Hub unreachable (tests/conftest.py)."""


# ------------------------------------------------------------------------------------------ GLUE
# rows: ../shared/README.md; label counts: the GLUE files' (MRPC dev 68% equivalent, RTE dev 146/131, ...)
GLUE_FILES = [
    ("sst2", "train", 67349, {0: 29780, 1: 37569}),
    ("sst2", "validation", 872, {0: 428, 1: 444}),
    ("sst2", "test", 1821, {-1: 1821}),
    ("mrpc", "train", 3668, {0: 1194, 1: 2474}),
    ("mrpc", "validation", 408, {0: 129, 1: 279}),
    ("mrpc", "test", 1725, {-1: 1725}),
    ("rte", "train", 2490, {0: 1249, 1: 1241}),
    ("rte", "validation", 277, {0: 146, 1: 131}),
    ("rte", "test", 3000, {-1: 3000}),
    ("stsb", "train", 5749, None),
    ("stsb", "validation", 1500, None),
    ("stsb", "test", 1379, None),
]


@pytest.mark.parametrize("task, split, rows, counts", GLUE_FILES, ids=[f"{t}-{s}" for t, s, *_ in GLUE_FILES])
def test_glue_file_loads_with_its_rows_and_labels(task, split, rows, counts):
    dataset = loading.load_split(get_task(task), split, DATA)
    assert loading.locate(get_task(task), split, DATA).kind == "glue_tsv"
    assert len(dataset) == rows
    if counts is not None:
        assert dict(collections.Counter(dataset["label"])) == counts
    else:
        scores = np.asarray(dataset["label"])
        assert (scores == -1).all() if split == "test" else (0 <= scores.min() and scores.max() <= 5)


@pytest.mark.parametrize("task, folder, column", [("sst2", "SST-2", "label"), ("mrpc", "MRPC", "Quality"), ("rte", "RTE", "label")])
def test_label_ids_match_the_raw_files_read_independently(task, folder, column):
    """The csv module, not pandas, reads the raw label strings; the loader's ids must map onto them one to one."""
    with open(DATA / "glue" / folder / "dev.tsv", encoding="utf-8-sig", newline="") as handle:
        raw = [row[column] for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)]
    file_value_of_id = {"sst2": ["0", "1"], "mrpc": ["0", "1"], "rte": ["entailment", "not_entailment"]}[task]
    assert [file_value_of_id[i] for i in loading.load_split(get_task(task), "validation", DATA)["label"]] == raw


def test_stsb_first_pair_as_the_hub_has_it():
    first = loading.load_split(get_task("stsb"), "validation", DATA)[0]
    assert first == {"sentence1": "A man with a hard hat is dancing.", "sentence2": "A man wearing a hard hat is dancing.",
                     "label": 5.0, "idx": 0}


# ------------------------------------------------------------------------------------------ IMDb
@pytest.mark.parametrize("split", ["train", "test"])
def test_imdb_parquet_has_25000_balanced_reviews(split):
    dataset = loading.load_split(get_task("imdb"), split, DATA)
    assert loading.locate(get_task("imdb"), split, DATA).kind == "imdb_parquet"
    assert dataset.column_names == ["text", "label"]
    assert dict(collections.Counter(dataset["label"])) == {0: 12500, 1: 12500}


@pytest.mark.parametrize("split", ["train", "test"])
def test_aclimdb_sample_loads_through_the_same_loader_and_agrees_with_the_parquet(split):
    sample = loading.load_split(get_task("imdb"), split, imdb_dir=DATA / "imdb" / "aclImdb-sample")
    assert loading.locate(get_task("imdb"), split, imdb_dir=DATA / "imdb" / "aclImdb-sample").kind == "aclimdb"
    assert dict(collections.Counter(sample["label"])) == {0: 25, 1: 25}
    full = loading.load_split(get_task("imdb"), split, DATA)
    label_of = dict(zip(full["text"], full["label"], strict=True))
    assert [label_of.get(text) for text in sample["text"]] == sample["label"][:]


# ----------------------------------------------------------------------------------------- SQuAD
@pytest.fixture(scope="module")
def squad_dev():
    return loading.load_split(get_task("squad"), "validation", squad_file=DATA / "squad" / "dev-v1.1.json")


def test_squad_dev_is_the_official_file_and_loads_whole(squad_dev):
    assert hashlib.sha256((DATA / "squad" / "dev-v1.1.json").read_bytes()).hexdigest() == SQUAD_SHA256
    assert len(squad_dev) == 10570
    assert (len(set(squad_dev["title"])), len(set(squad_dev["context"]))) == (48, 2067)
    answers = squad_dev["answers"][:]
    assert sum(len(a["text"]) for a in answers) == 34726
    for context, answer in zip(squad_dev["context"], answers, strict=True):
        for text, start in zip(answer["text"], answer["answer_start"], strict=True):
            assert context[start:start + len(text)] == text


@pytest.fixture(scope="module")
def bert_tokenizer():
    if not (BERT / "vocab.txt").is_file():
        pytest.skip(f"no bert-base-uncased tokenizer files in {BERT}")
    tokenizer = AutoTokenizer.from_pretrained(str(BERT))
    assert tokenizer.tokenize("Super Bowl 50") == ["super", "bowl", "50"], "the real vocabulary, not [UNK]s"
    return tokenizer


def test_squad_gold_answers_survive_preprocessing_and_postprocessing(squad_dev, bert_tokenizer):
    features = prepare_squad_eval_features(squad_dev, bert_tokenizer, 384, 128)  # the task's max_length and doc_stride
    assert len(features) == 10784  # windows of 384 tokens, stride 128 (the figure run_qa logs for bert-base-uncased)
    first_answer = {e: (a["answer_start"][0], a["answer_start"][0] + len(a["text"][0]))
                    for e, a in zip(squad_dev["id"], squad_dev["answers"], strict=True)}
    starts, ends = np.zeros((len(features), 384)), np.zeros((len(features), 384))
    spans: dict[str, tuple[int, int, str]] = {}  # question -> token start, end and the text they cover
    for row, (example_id, offsets) in enumerate(zip(features["example_id"], features["offset_mapping"], strict=True)):
        first_char, last_char = first_answer[example_id]
        context = [i for i, offset in enumerate(offsets) if offset is not None]
        if offsets[context[0]][0] <= first_char and offsets[context[-1]][1] >= last_char:
            start = next(i for i in context if offsets[i][1] > first_char)
            end = next(i for i in reversed(context) if offsets[i][0] < last_char)
            starts[row, start] = ends[row, end] = 10
            spans.setdefault(example_id, (start, end, (offsets[start][0], offsets[end][1])))
    predictions = postprocess_squad(squad_dev, features, starts, ends)
    references = dict(zip(squad_dev["id"], squad_dev["answers"], strict=True))
    scores = compute(get_task("squad"), predictions, references)

    contexts = dict(zip(squad_dev["id"], squad_dev["context"], strict=True))
    causes: dict[str, list[str]] = collections.defaultdict(list)
    for question, prediction in predictions.items():
        if max(squad_exact_match(prediction, gold) for gold in references[question]["text"]) == 1.0:
            continue
        gold = references[question]["text"][0]
        if question not in spans:
            causes["in no single window"].append(question)
            continue
        start, end, (first_char, last_char) = spans[question]
        if end - start + 1 > 30:
            causes["longer than max_answer_length (30 tokens)"].append(question)
        elif contexts[question][first_char:last_char] != gold:
            causes["starts or ends inside a word piece (e.g. 'gold' in 'golden')"].append(question)
        else:
            causes["unexplained"].append(question)
    summary = {cause: len(questions) for cause, questions in causes.items()}
    print(f"\nSQuAD dev gold round trip: EM {scores['exact_match']:.2f}, F1 {scores['f1']:.2f}, exceptions {summary}")
    assert not causes["unexplained"], f"exceptions without a known cause: {causes['unexplained'][:5]}"
    assert not causes["in no single window"]
    assert sum(summary.values()) <= 0.005 * len(squad_dev), summary  # a few exceptions, each explained above
    assert scores["exact_match"] >= 99.5 and scores["f1"] >= 99.5
