"""Data that can never train or score is refused when it is loaded, before any training (issue 21).

Per field: IMDb (a review a non-empty string, a label in the split's ids: -1 only in the unsupervised split),
SQuAD v1.1 (the file's version, answers present and non-empty, each answer_start pointing at its text, ids
unique), GLUE (no NUL bytes, the header's fault on line 1), and the paths (a broken file is an error naming it,
never a skip; a data root one level too deep says so). `python -m harness data` refuses with the very line a
run's job gets, since both locate and load through harness.data.loading (the last tests show it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main
from harness.data import loading
from harness.errors import ClaimsError, MissingInput
from harness.measure.finetune.job import make_job
from harness.spec.tasks import get_task

ROOT = Path(__file__).resolve().parents[1]
SQUAD = ROOT / "fixtures" / "squad" / "tiny-v1.1.json"
GLUE = ROOT / "fixtures" / "glue"
CONTEXT = "A lighthouse stood on the cape."


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch, offline):
    """Every test parses into its own cache, with the Hub unreachable."""
    monkeypatch.setenv(loading.CACHE_ENV, str(tmp_path_factory.mktemp("data-cache")))


# ---------------------------------------------------------------------------------------------- IMDb
def _imdb(tmp_path: Path, split: str = "test", **columns: list) -> Path:
    pd.DataFrame(columns).to_parquet(tmp_path / f"{split}.parquet")
    return tmp_path


@pytest.mark.parametrize("texts, expected", [
    (["A fine film.", None], r"row 2, field 'text': the review is missing \(null\)"),
    (["A fine film.", "   "], r"row 2, field 'text': the review is empty"),
    ([7, 8], r"row 1, field 'text': the review is an int, not text"),
])
def test_an_imdb_review_must_be_a_non_empty_string(tmp_path, texts, expected):
    _imdb(tmp_path, text=texts, label=[1, 0])
    with pytest.raises(ClaimsError, match=expected):
        loading.load_split(get_task("imdb"), "test", imdb_dir=tmp_path)


def test_minus_one_is_a_label_of_the_unsupervised_split_only(tmp_path):
    _imdb(tmp_path, "test", text=["A fine film."], label=[-1])
    with pytest.raises(ClaimsError, match=r"label '-1' is not one of imdb's labels \['0', '1', 'neg', 'pos'\] \(-1, unlabelled"):
        loading.load_split(get_task("imdb"), "test", imdb_dir=tmp_path)
    _imdb(tmp_path, "unsupervised", text=["A film."], label=[-1])
    assert loading.load_split(get_task("imdb"), "unsupervised", imdb_dir=tmp_path)["label"][:] == [-1]


def test_an_empty_aclimdb_review_is_named(tmp_path):
    for label, text in (("neg", "Dull."), ("pos", "")):
        (tmp_path / "test" / label).mkdir(parents=True)
        (tmp_path / "test" / label / "1_8.txt").write_text(text)
    with pytest.raises(ClaimsError, match=r"pos/1_8.txt: the review is empty"):
        loading.load_split(get_task("imdb"), "test", imdb_dir=tmp_path)


def test_nul_bytes_in_an_imdb_csv_are_named(tmp_path):
    (tmp_path / "test.csv").write_bytes(b"text,label\nfine,1\nodd\x00,0\n")
    with pytest.raises(ClaimsError, match=r"test.csv, line 3: a NUL byte"):
        loading.load_split(get_task("imdb"), "test", imdb_dir=tmp_path)


# --------------------------------------------------------------------------------------------- SQuAD
def _question(qid: str = "q1", text: str = "lighthouse", start: object = 2, **more: object) -> dict:
    return {"id": qid, "question": "What stood there?", "answers": [{"text": text, "answer_start": start}], **more}


def _squad(tmp_path: Path, *questions: dict, **top: object) -> Path:
    path = tmp_path / "dev-v1.1.json"
    path.write_text(json.dumps({**top, "data": [{"title": "t", "paragraphs": [{"context": CONTEXT, "qas": list(questions)}]}]}))
    return path


@pytest.mark.parametrize("questions, top, expected", [
    ([_question(start=0)], {}, r"answer_start: 0 points at 'A lighthou', not at its text 'lighthouse' \(the text begins at 2\)"),
    ([_question(text="harbour", start=2)], {}, r"not at its text 'harbour' \(the text is nowhere in the context\)"),
    ([{**_question(), "answers": []}], {}, r"qas\[0\].answers: no answers; expected at least one"),
    ([_question(text=" ", start=1)], {}, r"answers\[0\].text: an empty answer"),
    ([_question(), _question("q2"), _question("q1")], {}, r"qas\[2\].id: 'q1' is also the id of data\[0\].paragraphs\[0\].qas\[0\]"),
    ([_question()], {"version": "v2.0"}, r"field version: 'v2.0'; expected '1.1' .*v2.0 adds unanswerable questions"),
    ([_question()], {"version": 1.1}, r"field version: 1.1; expected '1.1'"),
    ([_question(is_impossible=False)], {}, r"qas\[0\].is_impossible: a SQuAD v2.0 field"),
    ([_question(text="x" * 500, start=0)], {}, r"points at 'A lighthouse stood on the cape.', not at its text 'xxx"),
])
def test_squad_questions_are_checked_field_by_field(tmp_path, questions, top, expected):
    path = _squad(tmp_path, *questions, **top)
    with pytest.raises(ClaimsError, match=expected) as error:
        loading.load_split(get_task("squad"), "validation", squad_file=path)
    assert len(error.value.what) < 300 + len(str(path)), "a message of bounded length, whatever the file holds"


def test_a_v1_1_file_with_or_without_its_version_loads(tmp_path):
    for top in ({"version": "1.1"}, {}):
        path = _squad(tmp_path, _question(), _question("q2", "the cape", 22), **top)
        assert loading.load_split(get_task("squad"), "validation", squad_file=path)["id"][:] == ["q1", "q2"]
    assert len(loading.load_split(get_task("squad"), "validation", squad_file=SQUAD)) > 0


# ---------------------------------------------------------------------------------------------- GLUE
@pytest.mark.parametrize("text, expected", [
    ("sentence label\ngood \t1\n", r"line 1 \(the header\): missing column\(s\) \['sentence'\].*'sentence label' holds column names"),
    ("sentence\tlabel\ngood \t1\nbad\x00 \t0\n", r"dev.tsv, line 3: a NUL byte"),
    ("sentence\tlabel\ngood \t1\n\x00", r"dev.tsv, line 3: a NUL byte"),
])
def test_glue_header_and_nul_faults_are_named_where_they_are(tmp_path, text, expected):
    (tmp_path / "SST-2").mkdir()
    (tmp_path / "SST-2" / "dev.tsv").write_text(text)
    with pytest.raises(ClaimsError, match=expected):
        loading.load_split(get_task("sst2"), "validation", glue_dir=tmp_path)


# --------------------------------------------------------------------------------------------- paths
def _rte_dev(root: Path) -> Path:
    (root / "glue" / "RTE").mkdir(parents=True)
    return root / "glue" / "RTE" / "dev.tsv"


@pytest.mark.parametrize("make, expected", [
    (lambda path: path.symlink_to(path.name), r"is a symlink loop, not a readable file"),
    (lambda path: path.mkdir(), r"is a folder, not a readable file"),
    (lambda path: path.symlink_to("gone.tsv"), r"is a broken symlink \(to gone.tsv\), not a readable file"),
])
def test_a_broken_path_is_an_error_naming_it_never_a_skip(tmp_path, make, expected):
    make(_rte_dev(tmp_path))
    with pytest.raises(ClaimsError, match=f"{tmp_path}/glue/RTE/dev.tsv {expected}") as error:
        loading.locate(get_task("rte"), "validation", tmp_path)
    assert not isinstance(error.value, MissingInput)


def test_a_broken_squad_file_option_is_an_error(tmp_path):
    (tmp_path / "dev-v1.1.json").symlink_to("dev-v1.1.json")
    with pytest.raises(ClaimsError, match="is a symlink loop") as error:
        loading.locate(get_task("squad"), "validation", squad_file=tmp_path / "dev-v1.1.json")
    assert not isinstance(error.value, MissingInput)


@pytest.mark.parametrize("task, relative", [("rte", "RTE/dev.tsv"), ("squad", "dev-v1.1.json"), ("imdb", "test.parquet")])
def test_a_data_root_one_level_too_deep_says_so(tmp_path, task, relative):
    kind = get_task(task).local.format.split("_")[0]  # glue, squad, imdb: the root's folder of the task
    given = tmp_path / kind
    (given / relative).parent.mkdir(parents=True, exist_ok=True)
    (given / relative).write_text("x")
    with pytest.raises(ClaimsError, match=rf"the data root {given} is one level too deep \(it holds {relative} itself\)") as error:
        loading.locate(get_task(task), get_task(task).paper_split, given)
    assert error.value.fix == f"pass its parent: --data-dir {tmp_path}"
    assert f"is one level too deep: it holds {Path(relative).parts[0]} itself" in loading.data_root_problem(given)
    assert loading.data_root_problem(tmp_path) is None


# ----------------------------------------------------------------------- the same line for `data` and a run
BAD_ROOTS = {  # the paper's split broken; the training split there too, as a run needs it
    "imdb": lambda root: [_imdb(root / "imdb", split, text=["A fine film.", None], label=[1, 0]) for split in ("train", "test")],
    "squad": lambda root: [_squad(root / "squad", _question(start=0)).rename(root / "squad" / "train-v1.1.json"),
                           _squad(root / "squad", _question(start=0))],
    "rte": lambda root: [_rte_dev(root).mkdir(), (root / "glue/RTE/train.tsv").write_bytes((GLUE / "RTE" / "train.tsv").read_bytes())],
}


@pytest.mark.parametrize("task", sorted(BAD_ROOTS))
def test_data_refuses_what_a_run_refuses_with_the_same_line(tmp_path, capsys, task):
    """The job a run would train locates and loads the split as `python -m harness data` does: one line, the same."""
    for folder in ("imdb", "squad"):
        (tmp_path / folder).mkdir()
    BAD_ROOTS[task](tmp_path)
    spec = get_task(task)
    assert main(["data", "--task", task, "--data-dir", str(tmp_path)]) == 2
    said = capsys.readouterr().err.strip()
    job = make_job("bert-base-uncased", task, "smoke", data_dir=tmp_path)
    with pytest.raises(ClaimsError) as error:
        loading.load(job.sources[spec.paper_split])
    assert said == f"error: {error.value}"


# ------------------------------------------------------------------ a Hub split: the same rules (harness.data.rows)
@pytest.mark.parametrize(("task", "split", "columns", "expected"), [
    ("sst2", "validation", {"sentence": ["fine", "good"], "label": [1, 2]}, "row 1, field 'label': label 2 is not one"),
    ("sst2", "train", {"sentence": ["fine", None], "label": [1, 0]}, "row 1, field 'sentence': the text is missing (null)"),
    ("sst2", "validation", {"sentence": ["fine"], "label": [-1]}, "-1, unlabelled, belongs to a split that is neither"),
    ("stsb", "validation", {"sentence1": ["a"], "sentence2": ["b"], "label": [5.5]}, "5.5 is not a score from 0 to 5"),
    ("imdb", "test", {"text": ["great", "  "], "label": [1, 0]}, "row 1, field 'text': the text is empty"),
    ("imdb", "unsupervised", {"text": ["great"], "label": [1]}, None),
    ("sst2", "test", {"sentence": ["unlabelled"], "label": [-1]}, None),
    ("sst2", "validation", {"sentence": [""], "label": [0]}, None),  # GLUE's local files may hold an empty sentence too
])
def test_a_hub_split_is_checked_field_by_field_as_a_local_file_is(task, split, columns, expected):
    from harness.data.rows import check_rows

    spec = get_task(task)
    if expected is None:
        check_rows(spec, split, columns, "hub:test")
        return
    with pytest.raises(ClaimsError, match=expected.replace("(", r"\(").replace(")", r"\)")) as refused:
        check_rows(spec, split, columns, "hub:nyu-mll/glue/sst2@abc123")
    assert refused.value.what.startswith(f"hub:nyu-mll/glue/sst2@abc123 {split}, row ") and "hub_revision" in refused.value.fix


@pytest.mark.parametrize(("answers", "ids", "expected"), [
    ([{"text": ["lighthouse"], "answer_start": [2]}], ["q1"], None),
    ([{"text": ["lighthouse"], "answer_start": [3]}], ["q1"], "answer_start 3 points at 'ighthouse ', not at its text 'lighthouse'"),
    ([{"text": [], "answer_start": []}], ["q1"], "no answers"),
    ([{"text": [" "], "answer_start": [1]}], ["q1"], "an empty answer"),
    ([{"text": ["cape"], "answer_start": [26]}] * 2, ["q1", "q1"], "'q1' is also the id of row 0"),
])
def test_a_hub_squad_split_is_checked_as_the_local_file_is(answers, ids, expected):
    import datasets

    from harness.data.rows import check_rows

    spec = get_task("squad")
    split = datasets.Dataset.from_dict({"id": ids, "title": ["t"] * len(ids), "context": [CONTEXT] * len(ids),
                                        "question": ["q?"] * len(ids), "answers": answers},
                                       features=loading.features_for(spec))
    if expected is None:
        check_rows(spec, "validation", split, "hub:rajpurkar/squad")
        return
    with pytest.raises(ClaimsError, match=expected):
        check_rows(spec, "validation", split, "hub:rajpurkar/squad")
