"""Tests of harness.data and harness.local_files on the fixture files: the nine GLUE loaders, IMDb, SQuAD,
the Hub path (offline and mocked), the cache, bad input messages and the `python -m harness data` CLI."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import datasets
import pandas as pd
import pytest

from harness.cli import main
from harness.data import loading
from harness.errors import ClaimsError, MissingInput
from harness.spec.tasks import get_task

ROOT = Path(__file__).resolve().parents[1]
GLUE = ROOT / "fixtures" / "glue"
SQUAD = ROOT / "fixtures" / "squad" / "tiny-v1.1.json"


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Every test parses into its own cache, so no test sees another's (or the user's) cached files."""
    monkeypatch.setenv(loading.CACHE_ENV, str(tmp_path_factory.mktemp("data-cache")))


# ---------------------------------------------------------------------------- the nine GLUE loaders
# (task, split, rows, label counts, first text, first label), read by hand from fixtures/glue/
EXPECTED = [
    ("cola", "train", 6, {0: 2, 1: 4}, "The gardener watered the tulips before noon.", 1),
    ("cola", "validation", 5, {0: 2, 1: 3}, "Several students handed in their essays late.", 1),
    ("cola", "test", 3, {-1: 3}, "The owl hooted twice in the dark.", -1),
    ("mnli", "train", 4, {0: 2, 1: 1, 2: 1}, "The lamp was still burning when she came home.", 0),
    ("mnli", "validation_matched", 3, {0: 1, 1: 1, 2: 1}, "He folded the letter and put it away.", 0),
    ("mnli", "validation_mismatched", 2, {0: 1, 2: 1}, "Thank you for your gift to the garden fund.", 0),
    ("mnli", "test_matched", 1, {-1: 1}, "The door creaked open.", -1),
    ("mnli", "test_mismatched", 1, {-1: 1}, "The door creaked open.", -1),
    ("mrpc", "train", 4, {0: 2, 1: 2}, "The council approved the new budget on Tuesday .", 1),
    ("mrpc", "validation", 3, {0: 1, 1: 2}, "Rain delayed the launch by two days .", 1),
    ("mrpc", "test", 2, {-1: 2}, "The ferry leaves at noon .", -1),
    ("qnli", "train", 3, {0: 2, 1: 1}, "When did the bridge open?", 0),
    ("qnli", "validation", 2, {0: 1, 1: 1}, "Who founded the orchestra?", 0),
    ("qqp", "train", 4, {0: 2, 1: 2}, "How do I learn to bake bread at home?", 1),
    ("qqp", "validation", 3, {0: 1, 1: 2}, "How can I improve my handwriting?", 1),
    ("qqp", "test", 1, {-1: 1}, "How do tides work?", -1),
    ("rte", "train", 3, {0: 2, 1: 1}, "The old mill on the river was turned into a library in 2010.", 0),
    ("rte", "validation", 3, {0: 2, 1: 1}, "A new ferry line links the two islands since June.", 0),
    ("sst2", "train", 5, {0: 3, 1: 2}, "a warm , funny and quietly moving little film ", 1),
    ("sst2", "validation", 4, {0: 2, 1: 2}, "it 's a bright , generous piece of work . ", 1),
    ("sst2", "test", 2, {-1: 2}, "a small delight .", -1),
    ("stsb", "train", 4, None, "A dog runs on the beach.", 4.8),
    ("stsb", "validation", 3, None, "A child is drawing a house.", 5.0),
    ("stsb", "test", 1, None, "A cat sleeps.", -1.0),
    ("wnli", "train", 3, {0: 1, 1: 2}, "The trophy would not fit in the case because it was too small.", 1),
    ("wnli", "validation", 2, {0: 1, 1: 1}, "The cup fell off the shelf because it was unsteady.", 0),
]


@pytest.mark.parametrize("task, split, rows, counts, first_text, first_label", EXPECTED,
                         ids=[f"{t}-{s}" for t, s, *_ in EXPECTED])
def test_glue_fixture_loads_with_the_hubs_columns_and_labels(task, split, rows, counts, first_text, first_label, offline):
    spec = get_task(task)
    dataset = loading.load_split(get_task(task), split, glue_dir=GLUE)
    assert dataset.column_names == [*spec.text_columns, "label", "idx"]
    assert dataset.features == loading.features_for(spec)
    assert len(dataset) == rows
    assert dataset["idx"][:] == list(range(rows))
    first = dataset[0]
    assert first[spec.text_columns[0]] == first_text
    assert first["label"] == pytest.approx(first_label)
    if counts is not None:
        assert dict(collections.Counter(dataset["label"])) == counts
        assert dataset.features["label"].names == list(spec.label_names)


def test_every_glue_task_and_split_has_a_fixture(offline):
    covered = {(t, s) for t, s, *_ in EXPECTED}
    for task in ("cola", "mnli", "mrpc", "qnli", "qqp", "rte", "sst2", "stsb", "wnli"):
        for split in get_task(task).splits:
            dataset = loading.load_split(get_task(task), split, glue_dir=GLUE)
            assert len(dataset) > 0
            assert (task, split) in covered or split == "test"


def test_classic_format_details_survive(offline):
    mrpc = loading.load_split(get_task("mrpc"), "train", glue_dir=GLUE)
    assert all("\ufeff" not in text for text in mrpc["sentence1"])  # the BOM is not part of the first column
    assert mrpc[3]["sentence1"] == '" We are pleased , " the coach said .'  # unbalanced quotes are text
    sst2 = loading.load_split(get_task("sst2"), "train", glue_dir=GLUE)
    assert sst2[4]["sentence"] == 'an " honest " mess '  # the trailing space is kept, as on the Hub
    assert loading.load_split(get_task("stsb"), "train", glue_dir=GLUE)["label"][:] == pytest.approx([4.8, 0.0, 3.75, 2.5])


def test_glue_dir_may_be_the_task_folder_itself(offline):
    assert len(loading.load_split(get_task("rte"), "validation", glue_dir=GLUE / "RTE")) == 3


def test_another_tasks_folder_is_not_taken_for_this_task(offline):
    with pytest.raises(ClaimsError, match=r"looked for .*RTE/CoLA/dev.tsv"):
        loading.load_split(get_task("cola"), "validation", glue_dir=GLUE / "RTE")


def test_data_root_layout(tmp_path, offline):
    (tmp_path / "glue").symlink_to(GLUE)
    source = loading.locate(get_task("cola"), "validation", tmp_path)
    assert source.kind == "glue_tsv" and source.location.endswith("CoLA/dev.tsv")
    assert loading.locate(get_task("cola"), "validation", tmp_path).describe().startswith("glue_tsv:")


def test_unknown_split_says_did_you_mean():
    with pytest.raises(ClaimsError, match=r"(?s)no split 'validation'.*did you mean 'validation_matched'"):
        loading.load_split(get_task("mnli"), "validation", glue_dir=GLUE)


# ------------------------------------------------------------------------------- the Hub path
def test_offline_without_local_data_names_the_task_and_the_fix(offline):
    with pytest.raises(ClaimsError) as error:
        loading.load_split(get_task("qqp"), "validation")
    message = str(error.value)
    assert "task 'qqp', split 'validation'" in message and "offline mode" in message
    assert "dataset 'nyu-mll/glue' (qqp) at revision 'main'" in message and "not in the datasets cache" in message
    assert "--glue-dir DIR (DIR/QQP/dev.tsv" in message and "--data-dir ROOT" in message


def test_offline_with_a_root_lacking_the_file_names_the_path(tmp_path, offline):
    with pytest.raises(ClaimsError, match=r"looked for .*glue/MNLI/dev_matched.tsv.*not in the datasets cache"):
        loading.load_split(get_task("mnli"), "validation_matched", tmp_path)


def test_an_explicit_folder_lacking_the_file_never_falls_back(tmp_path, fake_hub):
    with pytest.raises(ClaimsError, match=r"no local file found"):
        loading.load_split(get_task("cola"), "validation", glue_dir=tmp_path)
    assert fake_hub == []


FAKE_COMMIT = "c0ffee" + "0" * 34


@pytest.fixture
def fake_hub(monkeypatch, tmp_path):
    """The Hub answering (online, empty caches): dataset_info gives FAKE_COMMIT for any revision, and load_dataset the
    Hub's columns plus one extra; the calls of both are recorded."""
    from types import SimpleNamespace

    import huggingface_hub
    from huggingface_hub import constants

    from harness.data import hub

    calls = []

    def dataset_info(self, repo_id, *, revision=None, timeout=None, **_):
        calls.append(("dataset_info", repo_id, revision))
        return SimpleNamespace(sha=FAKE_COMMIT)

    def load_dataset(path, name=None, split=None, revision=None):
        calls.append((path, name, split, revision))
        return datasets.Dataset.from_dict({"sentence": ["a b"], "label": [1], "idx": [0], "extra": ["x"]})

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets-cache")
    monkeypatch.setattr(huggingface_hub.HfApi, "dataset_info", dataset_info)
    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    hub.forget()
    yield calls
    hub.forget()


def test_hub_path_asks_for_the_right_dataset_at_its_resolved_commit(fake_hub):
    dataset = loading.load_split(get_task("cola"), "validation")
    assert fake_hub == [("dataset_info", "nyu-mll/glue", "main"), ("nyu-mll/glue", "cola", "validation", FAKE_COMMIT)]
    assert dataset.column_names == ["sentence", "label", "idx"]
    source = loading.locate(get_task("cola"), "validation")
    assert source.describe() == f"hub:nyu-mll/glue/cola@{FAKE_COMMIT}"
    assert source.identity() == {"kind": "hub", "location": "nyu-mll/glue/cola", "hub_name": "nyu-mll/glue",
                                 "commit": FAKE_COMMIT}


def test_a_root_lacking_the_file_falls_back_to_the_hub(tmp_path, fake_hub):
    assert loading.locate(get_task("cola"), "validation", tmp_path).kind == "hub"


def test_hub_dataset_without_the_expected_columns_is_an_error(fake_hub):
    with pytest.raises(ClaimsError, match=r"lacks columns \['premise', 'hypothesis'\]"):
        loading.load_split(get_task("mnli"), "validation_matched")


# ---------------------------------------------------------------------------------------- cache
def test_parsed_files_are_cached_and_invalidated_by_a_change(tmp_path, offline):
    folder = tmp_path / "SST-2"
    folder.mkdir()
    (folder / "dev.tsv").write_text("sentence\tlabel\ngood \t1\n")
    first = loading.load_split(get_task("sst2"), "validation", glue_dir=tmp_path)
    assert first.cache_files and Path(first.cache_files[0]["filename"]).is_relative_to(loading.cache_root())
    again = loading.load_split(get_task("sst2"), "validation", glue_dir=tmp_path)
    assert again.cache_files == first.cache_files
    (folder / "dev.tsv").write_text("sentence\tlabel\ngood \t1\nbad \t0\n")
    assert loading.load_split(get_task("sst2"), "validation", glue_dir=tmp_path)["label"][:] == [1, 0]


# ---------------------------------------------------------------------------------- bad input
def _glue_file(tmp_path: Path, folder: str, name: str, text: str | bytes) -> Path:
    path = tmp_path / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("task, folder, name, text, expected", [
    ("sst2", "SST-2", "dev.tsv", "text\tlabel\nfine \t1\n", r"line 1 \(the header\): missing column\(s\) \['sentence'\]"),
    ("sst2", "SST-2", "dev.tsv", "sentence\tlabel\nfine \t1\nodd \t2\n", r"line 3, field 'label': label '2' is not one of sst2's labels \['0', '1'\]"),
    ("mnli", "MNLI", "dev_matched.tsv", "sentence1\tsentence2\tgold_label\na\tb\t-\n", r"line 2, field 'gold_label': label '-'"),
    ("rte", "RTE", "dev.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tyes\n", r"label 'yes' is not one of rte's labels \['entailment', 'not_entailment'\]"),
    ("sst2", "SST-2", "dev.tsv", "", r"the file is empty"),
    ("sst2", "SST-2", "dev.tsv", "sentence\tlabel\n", r"a header and no examples"),
    ("sst2", "SST-2", "dev.tsv", "sentence,label\nfine,1\n", r"missing column\(s\) \['sentence'\].*is it tab-separated\?"),
    ("cola", "CoLA", "dev.tsv", "src\t1\tA sentence.\n", r"line 1: 3 tab-separated field\(s\), expected 4"),
    ("qqp", "QQP", "dev.tsv", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t2\t3\ta\tb\t0\n2\t3\t4\ta\tb\t1\textra\n",
     r"not a well-formed tab-separated file .*line 3"),
    ("stsb", "STS-B", "dev.tsv", "sentence1\tsentence2\tscore\na\tb\t7.5\n", r"line 2, field 'score': score '7.5' is not a number in \[0, 5\]"),
    ("rte", "RTE", "train.tsv", "index\tsentence1\tsentence2\n0\ta\tb\n", r"missing label column 'label'"),
    ("sst2", "SST-2", "dev.tsv", b"sentence\tlabel\n\xff\xfe bad \t1\n", r"not UTF-8 text"),
    # rows of the wrong width: named as such, not as a bad label; one field too many on the first row was dropped silently
    ("sst2", "SST-2", "dev.tsv", "sentence\tlabel\ngood \t1\nbad 0\n", r"line 3: 1 tab-separated field\(s\), expected 2 "
                                                                      r"\(sentence, label\): too few fields"),
    ("sst2", "SST-2", "dev.tsv", "sentence\tlabel\na\tb \t1\n", r"line 2: 3 tab-separated field\(s\), expected 2 .*a stray tab"),
    ("cola", "CoLA", "dev.tsv", "src\t1\t\tA.\nsrc\t1\tB.\n", r"line 2: 3 tab-separated field\(s\), expected 4 .*with no header line"),
    ("sst2", "SST-2", "dev.tsv", "sentence\tlabel\ngood \t1\n\nbad \t0\n", r"line 3: a blank line between examples"),
    ("sst2", "SST-2", "dev.tsv", "\n\n", r"the file is empty"),
])
def test_bad_glue_files_name_the_file_the_place_and_the_expectation(tmp_path, offline, task, folder, name, text, expected):
    path = _glue_file(tmp_path, folder, name, text)
    split = {"dev.tsv": "validation", "train.tsv": "train", "dev_matched.tsv": "validation_matched"}[name]
    with pytest.raises(ClaimsError, match=expected) as error:
        loading.load_split(get_task(task), split, glue_dir=tmp_path)
    assert str(path) in str(error.value)
    assert error.value.fix


@pytest.mark.parametrize("task, folder, text, rows", [
    ("sst2", "SST-2", "sentence\tlabel\ngood \t1\nbad \t0\n\n", 2),  # GLUE's files end with a blank line
    ("sst2", "SST-2", "sentence\tlabel\r\ngood \t1\r\n\r\n \r\n", 1),  # Windows line ends, a blank and a space
    ("cola", "CoLA", "src\t1\t\tA sentence.\n\n", 1),  # no header line
])
def test_blank_lines_that_end_a_tsv_are_ignored(tmp_path, offline, task, folder, text, rows):
    _glue_file(tmp_path, folder, "dev.tsv", text)
    dataset = loading.load_split(get_task(task), "validation", glue_dir=tmp_path)
    assert len(dataset) == rows and dataset["label"][0] == 1


def test_a_literal_na_or_null_question_stays_text(tmp_path, offline):
    _glue_file(tmp_path, "QQP", "dev.tsv", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n1\t2\t3\tNA\tnull\t0\n")
    row = loading.load_split(get_task("qqp"), "validation", glue_dir=tmp_path)[0]
    assert (row["question1"], row["question2"]) == ("NA", "null")


@pytest.mark.parametrize("text, expected", [
    ('{"data": [{"title": "t", "paragraphs": [{"context": "abc", "qas": [', r"line 1, column \d+: not valid JSON .*truncated"),
    ("", r"the file is empty"),
    ('{"version": "1.1"}', r"field data: missing; expected a list"),
    ('{"data": [{"paragraphs": [{"context": "abc", "qas": [{"id": "q", "question": "?", "answers": [{"text": "a"}]}]}]}]}',
     r"field data\[0\].paragraphs\[0\].qas\[0\].answers\[0\].answer_start: missing; expected an integer"),
    ('{"data": [{"paragraphs": [{"context": 5, "qas": []}]}]}', r"field data\[0\].paragraphs\[0\].context: expected a string, got int"),
    ('{"data": []}', r"no questions found"),
    ('{"data": [{"paragraphs": [{"context": "abc", "qas": [{"id": "q", "question": "?", "answers": [{"text": "a", '
     '"answer_start": 2147483648}]}]}]}]}', r"answer_start: 2147483648 is outside its context \(0 to 3 characters\)"),
    ('{"data": [{"paragraphs": [{"context": "abc", "qas": [{"id": "q", "question": "?", "answers": [{"text": "a", '
     '"answer_start": -1}]}]}]}]}', r"answer_start: -1 is outside its context"),
])
def test_bad_squad_json_is_named(tmp_path, text, expected):
    path = tmp_path / "dev-v1.1.json"
    path.write_text(text)
    with pytest.raises(ClaimsError, match=expected) as error:
        loading.load_split(get_task("squad"), "validation", squad_file=path)
    assert str(path) in str(error.value)


# ------------------------------------------------------------------------------------ SQuAD, IMDb
def test_squad_json_loads_with_the_hubs_columns():
    dataset = loading.load_split(get_task("squad"), "validation", squad_file=SQUAD)
    assert dataset.column_names == ["id", "title", "context", "question", "answers"]
    assert len(dataset) == 7
    first = dataset[0]
    assert first["id"] == "inv-q1" and first["title"] == "Veldmoor_Lighthouse"
    assert first["answers"]["text"] == ["Clara Honig", "the engineer Clara Honig"]
    start = first["answers"]["answer_start"][0]
    assert first["context"][start:start + len("Clara Honig")] == "Clara Honig"


REVIEWS = [("Dull and slow.", 0, 3, 2), ("A waste of a good cast.", 0, 12, 1), ("Loved every minute.", 1, 5, 9),
           ("Funny, warm, clever.", 1, 40, 10)]  # text, label, review id, rating; neg then pos, by id


def _aclimdb(root: Path, split: str = "test") -> Path:
    for text, label, review_id, rating in REVIEWS:
        path = root / split / ("neg", "pos")[label] / f"{review_id}_{rating}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize("layout", ["parquet", "csv", "aclImdb", "aclImdb-under-root"])
def test_imdb_loads_the_same_rows_from_every_layout(tmp_path, offline, layout):
    frame = pd.DataFrame({"text": [r[0] for r in REVIEWS], "label": [r[1] for r in REVIEWS], "rating": [r[3] for r in REVIEWS]})
    if layout == "parquet":
        frame.to_parquet(tmp_path / "test.parquet")
    elif layout == "csv":
        frame.to_csv(tmp_path / "test.csv", index=False)
    elif layout == "aclImdb":
        _aclimdb(tmp_path)
    else:
        _aclimdb(tmp_path / "imdb" / "aclImdb")
    dataset = (loading.load_split(get_task("imdb"), "test", tmp_path) if layout == "aclImdb-under-root"
               else loading.load_split(get_task("imdb"), "test", imdb_dir=tmp_path))
    assert dataset.column_names == ["text", "label"]
    assert dataset["text"][:] == [r[0] for r in REVIEWS]
    assert dataset["label"][:] == [r[1] for r in REVIEWS]
    assert dataset.features["label"].names == ["neg", "pos"]


def test_imdb_csv_accepts_label_names(tmp_path, offline):
    (tmp_path / "test.csv").write_text('text,label\n"Great, truly.",pos\nAwful.,neg\n')
    assert loading.load_split(get_task("imdb"), "test", imdb_dir=tmp_path)["label"][:] == [1, 0]


@pytest.mark.parametrize("make, expected", [
    (lambda d: pd.DataFrame({"text": ["a"], "sentiment": [1]}).to_parquet(d / "test.parquet"), r"missing \['label'\]"),
    (lambda d: (d / "test.csv").write_text("text,label\nfine,1\nodd,positive\n"), r"line 3, field 'label': label 'positive'"),
    (lambda d: (d / "test.csv").write_text(""), r"the file is empty"),
    (lambda d: (d / "test.parquet").write_text("not parquet"), r"cannot be read as parquet"),
    (lambda d: (_aclimdb(d) / "test" / "pos" / "notes.txt").write_text("x"), r"notes.txt, file name: expected ID_RATING.txt"),
    (lambda d: (d / "test.csv").write_text("text,label\n"), r"a header and no reviews"),
    (lambda d: pd.DataFrame({"text": ["a", "b"], "label": [1, 3]}).to_parquet(d / "test.parquet"), r"row 2, field 'label': label '3'"),
])
def test_bad_imdb_input_is_named(tmp_path, offline, make, expected):
    make(tmp_path)
    with pytest.raises(ClaimsError, match=expected) as error:
        loading.load_split(get_task("imdb"), "test", imdb_dir=tmp_path)
    assert error.value.fix.startswith("give IMDb as parquet or CSV")


@pytest.mark.parametrize("given, expected", [
    ({"data_dir": "afile"}, r"the data root .*afile is a file, not a folder"),
    ({"glue_dir": "afile"}, r"the GLUE folder .*afile is a file, not a folder"),
    ({"squad_file": "."}, r"the SQuAD file .* is a folder, not a file"),
])
def test_a_path_of_the_wrong_kind_is_named(tmp_path, offline, given, expected):
    (tmp_path / "afile").write_text("x")
    task = get_task("squad" if "squad_file" in given else "sst2")
    paths = {name: tmp_path / value for name, value in given.items()}
    with pytest.raises(ClaimsError, match=expected) as error:
        loading.locate(task, "validation", paths.pop("data_dir", None), **paths)
    assert not isinstance(error.value, MissingInput) and error.value.fix


# ------------------------------------------------------------------------------------------ CLI
def _cli(capsys, *args: str) -> dict:
    assert main(["data", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_glue(capsys, offline):
    out = _cli(capsys, "--task", "cola", "--split", "validation", "--glue-dir", str(GLUE))
    assert out["source"] == f"glue_tsv:{GLUE / 'CoLA' / 'dev.tsv'}"
    assert out["rows"] == 5
    assert out["labels"] == [{"id": 0, "name": "unacceptable", "count": 2}, {"id": 1, "name": "acceptable", "count": 3}]
    assert out["first_example"] == {"sentence": "Several students handed in their essays late.", "label": 1, "idx": 0}


@pytest.mark.parametrize("task", ["cola", "mnli", "mrpc", "qnli", "qqp", "rte", "sst2", "stsb", "wnli", "imdb", "squad"])
def test_cli_works_for_every_task(capsys, tmp_path, offline, task):
    _aclimdb(tmp_path)
    out = _cli(capsys, "--task", task, "--glue-dir", str(GLUE), "--imdb-dir", str(tmp_path), "--squad-file", str(SQUAD))
    spec = get_task(task)
    assert out["split"] == spec.paper_split and out["rows"] > 0 and out["first_example"]
    key = {"classification": "labels", "regression": "label_stats", "extractive_qa": "answers"}[spec.kind]
    assert out[key]


def test_cli_reports_a_users_mistake_in_one_line(capsys, offline):
    assert main(["data", "--task", "qqp"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: task 'qqp', split 'validation'") and "Traceback" not in error
    assert main(["data", "--task", "colaa"]) == 2
    assert "did you mean 'cola'?" in capsys.readouterr().err

