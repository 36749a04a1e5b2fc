"""Every bad input tried by hand, run through the command a user types, and the one line that user sees.

Each Case is a mistake (a file for a folder, a typo, a malformed file) given to `pytest` (its options,
checked before anything runs) or to `python -m harness data` / `report`. The test runs it and checks
what comes out: a usage error or one `error: ...` line naming the input (a ClaimsError may add its
`  fix: ...` line), exit status non-zero, no traceback; an input that is fine after all (a trailing
blank line) is accepted. The same runs write docs/bad_inputs.md, the table of what was tried and what
the user sees, which test_the_table_in_docs_is_current keeps in step
(DISTILBERT_CLAIMS_WRITE_DOCS=1 pytest tests/test_bad_inputs.py rewrites it).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy  # noqa: F401 - imported before the in-process pytest runs, which may not import numpy twice
import pandas as pd
import pytest

import harness.plugin  # noqa: F401 - likewise: the inner runs load the plugin with -p harness.plugin
from harness.cli import main
from harness.data import loading
from harness.reporting import report
from harness.reporting import results as results_module
from harness.spec import registry as registry_module

# pandas registers its pyarrow extension types once per process, when it first reads parquet: done here, before
# the in-process pytest runs, which unload the modules they import (a second registration would fail).
pd.read_parquet(io.BytesIO(pd.DataFrame({"label": [0]}).to_parquet()))
ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "bad_inputs.md"
WRITE_DOCS = os.environ.get("DISTILBERT_CLAIMS_WRITE_DOCS") == "1"


class Runner:
    """Runs a command in-process, with the inputs under `base` (TMP in the table): pytest with the suite's plugin, or
    python -m harness. Returns the exit status and what the user sees (stderr; for a success, a summary)."""

    def __init__(self, pytester: pytest.Pytester, base: Path):
        self.pytester, self.base = pytester, base

    def pytest(self, *args: str) -> tuple[int, str]:
        result = self.pytester.runpytest_inprocess("-p", "harness.plugin", "-p", "no:cacheprovider", "--collect-only",
                                                   "-q", *args)
        lines = [line for line in result.errlines if line.strip() and not line.startswith(("  inifile:", "  rootdir:"))]
        if lines and lines[0].startswith("ERROR: usage:"):  # argparse: the usage line, then the error
            lines = [line.replace("pytest.main():", "pytest:") for line in lines[1:]]
        return int(result.ret), "\n".join(lines) or "\n".join(result.outlines[-1:])

    def harness(self, *args: str, summary: Callable[[str], str] = lambda out: out) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main(list(args))
        return status, err.getvalue().rstrip() if status else summary(out.getvalue())

    def file(self, relative: str, content: str | bytes) -> Path:
        path = self.base / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path


@dataclass(frozen=True)
class Case:
    """A mistake, the command it is given to (as the table shows it; TMP is a scratch folder), the pattern its message
    must match, and how to make and run it."""

    command: str
    mistake: str
    expected: str
    run: Callable[[Runner], tuple[int, str]]
    accepted: bool = False  # the input is fine after all: exit status 0

    @property
    def id(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", f"{self.command.split(' ')[0]} {self.mistake}".lower()).strip("-")[:60]


# --- inputs -----------------------------------------------------------------------------------------------------------
SST2_HEADER = "sentence\tlabel\n"


def _data(runner: Runner, relative: str, content: str | bytes, *args: str) -> tuple[int, str]:
    """python -m harness data on one file under TMP/glue (or the file itself for --squad-file/--imdb-dir)."""
    runner.file(relative, content)
    return runner.harness("data", *args, summary=lambda out: f"exit 0: {json.loads(out)['rows']} rows loaded")


def _sst2(content: str | bytes) -> Callable[[Runner], tuple[int, str]]:
    return lambda runner: _data(runner, "glue/SST-2/dev.tsv", content, "--task", "sst2", "--glue-dir", str(runner.base / "glue"))


def _imdb(name: str, content: str | bytes | Callable[[Path], None]) -> Callable[[Runner], tuple[int, str]]:
    def run(runner: Runner) -> tuple[int, str]:
        if callable(content):
            (runner.base / "imdb").mkdir(exist_ok=True)
            content(runner.base / "imdb" / name)
        else:
            runner.file(f"imdb/{name}", content)
        return runner.harness("data", "--task", "imdb", "--imdb-dir", str(runner.base / "imdb"),
                              summary=lambda out: f"exit 0: {json.loads(out)['rows']} rows loaded")
    return run


def _squad(document: object | str) -> Callable[[Runner], tuple[int, str]]:
    text = document if isinstance(document, str) else json.dumps(document)
    return lambda runner: _data(runner, "dev-v1.1.json", text, "--task", "squad", "--squad-file",
                                str(runner.base / "dev-v1.1.json"))


def _squad_answer(start: object) -> dict:
    return {"data": [{"title": "t", "paragraphs": [{"context": "A lighthouse.", "qas": [
        {"id": "q1", "question": "What?", "answers": [{"text": "lighthouse", "answer_start": start}]}]}]}]}


def _results(runner: Runner, content: str | bytes | None = None, path: str = "run/results.json",
             given: str = "run") -> tuple[int, str]:
    """python -m harness report on a run folder (or file) holding results.json (the default: a real run's)."""
    document = results_module.build([], registry_module.load(), {}, {})
    written = runner.file(path, content if content is not None else json.dumps(document.to_json()))
    target = runner.base / given
    return runner.harness("report", str(target), summary=lambda out: "exit 0: wrote " + ", ".join(
        sorted(Path(line).name for line in out.split() if Path(line).suffix in (".md", ".html"))) + f" beside {written.name}")


def _speed_details(change: Callable[[dict], None]) -> Callable[[Runner], tuple[int, str]]:
    """A results.json whose speed claim's recorded details were edited by hand."""
    def run(runner: Runner) -> tuple[int, str]:
        loaded = registry_module.load()
        from harness.judge.verdict import judge

        claim = loaded.get("speed.cpu.stsb_speedup")
        details = {"speedup": 1.9, "seconds": {"bert": 30.2, "distilbert": 15.9},
                   "chunk_seconds": {"bert": [15.0, 15.2], "distilbert": [8.0, 7.9]}}
        change(details)
        result = results_module.ClaimResult(claim, "claims/test_speed.py::t", judge(claim, 1.9), details, "passed")
        return _results(runner, json.dumps(results_module.build([result], loaded, {}, {}).to_json()))
    return run


# --- the cases --------------------------------------------------------------------------------------------------------
CASES = [
    # pytest's options: checked at configure time, a usage error before anything runs
    Case("pytest --registry TMP", "the registry option names a folder", r"claim registry TMP is a directory, not a file",
         lambda r: r.pytest("--registry", str(r.base))),
    Case("pytest --registry TMP/registry.yaml", "a registry that is not UTF-8 (Latin-1)", r"is not UTF-8 text \(byte 3\)",
         lambda r: (r.file("registry.yaml", b"caf\xe9: 1\n"), r.pytest("--registry", str(r.base / "registry.yaml")))[1]),
    Case("pytest --registry TMP/nowhere.yaml", "a registry file that does not exist", r"claim registry not found: TMP/nowhere",
         lambda r: r.pytest("--registry", str(r.base / "nowhere.yaml"))),
    Case("pytest --registry TMP/registry.yaml", "a registry with a YAML syntax error", r"not valid YAML",
         lambda r: (r.file("registry.yaml", "claims: [\n  - id: 'x\n"), r.pytest("--registry", str(r.base / "registry.yaml")))[1]),
    Case("pytest --registry TMP/registry.yaml", "a registry nested 1,000 lists deep", r"ERROR: .*registry.yaml",
         lambda r: (r.file("registry.yaml", "[" * 1000 + "]" * 1000), r.pytest("--registry", str(r.base / "registry.yaml")))[1]),
    Case("pytest --report-dir TMP/afile", "the report folder names a file", r"--report-dir TMP/afile is a file, not a folder",
         lambda r: (r.file("afile", "x"), r.pytest("--report-dir", str(r.base / "afile")))[1]),
    Case("pytest --report-dir TMP/afile/run", "a report folder under a file", r"cannot be made: TMP/afile is a file",
         lambda r: (r.file("afile", "x"), r.pytest("--report-dir", str(r.base / "afile" / "run")))[1]),
    Case("pytest --cache-dir TMP/afile", "the result cache names a file", r"--cache-dir TMP/afile is a file, not a folder",
         lambda r: (r.file("afile", "x"), r.pytest("--cache-dir", str(r.base / "afile")))[1]),
    Case("pytest --data-dir TMP/afile", "the data root names a file", r"--data-dir TMP/afile is a file, not a folder",
         lambda r: (r.file("afile", "x"), r.pytest("--data-dir", str(r.base / "afile")))[1]),
    Case("pytest --data-dir TMP/nowhere", "a data root that does not exist", r"--data-dir TMP/nowhere does not exist",
         lambda r: r.pytest("--data-dir", str(r.base / "nowhere"))),
    Case("pytest --bert-checkpoint ./bert-bsae", "a checkpoint folder with a typo", r"--bert-checkpoint ./bert-bsae does not exist",
         lambda r: r.pytest("--bert-checkpoint", "./bert-bsae")),
    Case("pytest --distilbert-checkpoint TMP/afile", "a checkpoint that is a file", r"is a file, not a folder",
         lambda r: (r.file("afile", "x"), r.pytest("--distilbert-checkpoint", str(r.base / "afile")))[1]),
    Case("pytest --seeds 0", "no seeds", r"expected a whole number of at least 1, got '0'", lambda r: r.pytest("--seeds", "0")),
    Case("pytest --rerun-invalid -1", "a negative count of further seeds", r"expected a whole number of at least 0, got '-1'",
         lambda r: r.pytest("--rerun-invalid=-1")),
    Case("pytest --ray-retries -1", "a negative retry count", r"expected a whole number of at least 0, got '-1'",
         lambda r: r.pytest("--ray-retries=-1")),
    Case("pytest --protocol papr", "a protocol name with a typo", r"did you mean 'paper'\?", lambda r: r.pytest("--protocol", "papr")),
    # python -m harness data: a GLUE TSV
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "a TSV ending in blank lines (as GLUE's files do)",
         r"exit 0: 2 rows loaded", _sst2(SST2_HEADER + "good \t1\nbad \t0\n\n\n"), accepted=True),
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "a blank line between rows",
         r"line 3: a blank line between examples", _sst2(SST2_HEADER + "good \t1\n\nbad \t0\n")),
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "a row with too few fields (a tab lost)",
         r"line 3: 1 tab-separated field\(s\), expected 2 \(sentence, label\): too few fields", _sst2(SST2_HEADER + "good \t1\nbad 0\n")),
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "a row with a stray tab",
         r"line 2: 3 tab-separated field\(s\), expected 2 .*not a well-formed tab-separated file", _sst2(SST2_HEADER + "a\tb \t1\n")),
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "a label outside the task's set",
         r"line 2, field 'label': label '2' is not one of sst2's labels", _sst2(SST2_HEADER + "odd \t2\n")),
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "a file that is not UTF-8",
         r"byte 15: not UTF-8 text", _sst2(SST2_HEADER.encode() + b"\xff bad \t1\n")),
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "an empty file", r"the file is empty", _sst2("")),
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "a header and no rows", r"a header and no examples",
         _sst2(SST2_HEADER)),
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "a comma-separated file",
         r"missing column\(s\) \['sentence'\].*is it tab-separated\?", _sst2("sentence,label\nfine,1\n")),
    Case("python -m harness data --task stsb --glue-dir TMP/glue", "an STS-B score outside [0, 5]",
         r"score '7.5' is not a number in \[0, 5\]",
         lambda r: _data(r, "glue/STS-B/dev.tsv", "sentence1\tsentence2\tscore\na\tb\t7.5\n", "--task", "stsb", "--glue-dir",
                         str(r.base / "glue"))),
    Case("python -m harness data --task sst2 --glue-dir TMP/afile", "the GLUE folder names a file",
         r"the GLUE folder TMP/afile is a file, not a folder",
         lambda r: (r.file("afile", "x"), r.harness("data", "--task", "sst2", "--glue-dir", str(r.base / "afile")))[1]),
    Case("python -m harness data --task mnli --split validation", "a split the task does not have",
         r"no split 'validation'.*did you mean 'validation_matched'", lambda r: r.harness("data", "--task", "mnli", "--split", "validation")),
    Case("python -m harness data --task colaa", "a task name with a typo", r"did you mean 'cola'\?",
         lambda r: r.harness("data", "--task", "colaa")),
    Case("python -m harness data --task qqp", "no local data, and the Hub unreachable",
         r"task 'qqp', split 'validation'.*unreachable", lambda r: r.harness("data", "--task", "qqp")),
    # python -m harness data: IMDb and SQuAD
    Case("python -m harness data --task imdb --imdb-dir TMP/imdb", "a CSV without a label column",
         r"columns: missing \['label'\]", _imdb("test.csv", "text,sentiment\nfine,1\n")),
    Case("python -m harness data --task imdb --imdb-dir TMP/imdb", "a CSV with a header and no reviews",
         r"a header and no reviews", _imdb("test.csv", "text,label\n")),
    Case("python -m harness data --task imdb --imdb-dir TMP/imdb", "a parquet file that is not parquet",
         r"cannot be read as parquet", _imdb("test.parquet", "not parquet")),
    Case("python -m harness data --task imdb --imdb-dir TMP/imdb", "a parquet file with labels 3 and 4",
         r"row 1, field 'label': label '3' is not one of imdb's labels.* fix: give IMDb as parquet",
         _imdb("test.parquet", lambda path: pd.DataFrame({"text": ["a", "b"], "label": [3, 4]}).to_parquet(path))),
    Case("python -m harness data --task squad --squad-file TMP/dev-v1.1.json", "a truncated SQuAD download",
         r"line 1, column \d+: not valid JSON .*truncated", _squad('{"data": [{"title": "t", "paragraphs": [')),
    Case("python -m harness data --task squad --squad-file TMP/dev-v1.1.json", "an answer_start past its context",
         r"answer_start: 4294967296 is outside its context \(0 to 13 characters\)", _squad(_squad_answer(2**32))),
    Case("python -m harness data --task squad --squad-file TMP/dev-v1.1.json", "an answer_start that is text",
         r"answers\[0\].answer_start: expected an integer, got str", _squad(_squad_answer("2"))),
    Case("python -m harness data --task squad --squad-file TMP", "the SQuAD file names a folder",
         r"the SQuAD file TMP is a folder, not a file", lambda r: r.harness("data", "--task", "squad", "--squad-file", str(r.base))),
    # python -m harness report
    Case("python -m harness report TMP/run/results.json", "results.json itself rather than its folder",
         r"exit 0: wrote report.html, report.md beside results.json", lambda r: _results(r, given="run/results.json"),
         accepted=True),
    Case("python -m harness report TMP/run", "a folder without results.json", r"no results file at TMP/run/results.json",
         lambda r: (r.base.joinpath("run").mkdir(), r.harness("report", str(r.base / "run")))[1]),
    Case("python -m harness report TMP/run", "a results.json that is not UTF-8", r"results.json is not UTF-8 text \(byte 0\)",
         lambda r: _results(r, b"\xff\xfe{}")),
    Case("python -m harness report TMP/run/report.html", "the report rather than results.json", r"report.html is not valid JSON",
         lambda r: (r.file("run/report.html", "<html></html>"), r.harness("report", str(r.base / "run" / "report.html")))[1]),
    Case("python -m harness report TMP/run", "a results.json nested 100,000 deep", r"nests its JSON too deeply",
         lambda r: _results(r, "[" * 100_000 + "]" * 100_000)),
    Case("python -m harness report TMP/run", "a results.json of another schema version", r"has results schema version 99",
         lambda r: _results(r, '{"schema_version": 99, "claims": []}')),
    Case("python -m harness report TMP/run", "a verdict edited to one the suite does not give",
         r"claims\[0\] has the unknown verdict '<script>'",
         lambda r: _results(r, json.dumps({"schema_version": results_module.SCHEMA_VERSION,
                                           "claims": [{"id": "x", "verdict": "<script>"}]}))),
    Case("python -m harness report TMP/run", "a speed claim's chunk times edited to text: the report is drawn "
         "without that claim's own figure", r"report\.html", _speed_details(
             lambda details: details["chunk_seconds"].update(bert=["slow", "slower"])), accepted=True),
    Case("python -m harness report TMP/run", "a speed claim's chunk lists of unequal length: the report is drawn "
         "without that claim's own figure", r"report\.html", _speed_details(
             lambda details: details["chunk_seconds"].update(bert=[15.0])), accepted=True),
]


# --- the checks -------------------------------------------------------------------------------------------------------
_seen: dict[str, str] = {}  # case id -> what the user saw, for the table (filled by test_bad_input)


@pytest.fixture
def scratch(pytester, offline, monkeypatch, tmp_path_factory) -> pytest.Pytester:
    """The folder the cases run in (pytester's), the Hub unreachable and a private data cache."""
    monkeypatch.setenv(loading.CACHE_ENV, str(tmp_path_factory.mktemp("data-cache")))
    return pytester


def outcome(case: Case, pytester: pytest.Pytester) -> tuple[int, str]:
    """Run a case in a folder of its own: its exit status and the message, the folder written TMP."""
    base = pytester.path / case.id
    base.mkdir()
    try:
        status, text = case.run(Runner(pytester, base))
    except Exception as error:  # noqa: BLE001 - a traceback is what the user would see: the table says so
        status, text = 1, f"Traceback: {type(error).__name__}: {error}"
    if "Traceback" in text:  # the exception's last line stands for the whole (the table is about what went wrong)
        last = [line.removeprefix("INTERNALERROR>").strip() for line in text.splitlines() if line.strip()][-1]
        text = last if last.startswith("Traceback") else f"Traceback: {last}"
        text = re.sub(r"(maximum recursion depth exceeded).*", r"\1", text)  # where it overflowed varies
    for path, name in ((base, "TMP"), (Path(os.path.realpath(base)), "TMP"), (ROOT, ".")):
        text = text.replace(str(path), name)
    return status, text.replace("./harness/", "harness/")


def _shown(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input(case, scratch):
    status, text = outcome(case, scratch)
    _seen[case.id] = _shown(text)
    assert re.search(case.expected, _shown(text)), text
    assert "Traceback" not in text and "INTERNALERROR" not in text, text
    if case.accepted:
        assert status == 0, text
        return
    assert status != 0
    first, *rest = text.splitlines()
    assert first.startswith(("ERROR: ", "error: ", "pytest: error: ")), text
    assert not rest or len(rest) == 1 and rest[0].startswith("  fix: "), f"one line (and its fix) expected:\n{text}"


def table() -> str:
    rows = ["| command | the mistake | what the user sees |", "|---|---|---|"]
    for case in CASES:
        rows.append(f"| `{case.command}` | {report.markdown_text(case.mistake)} | {report.markdown_text(_seen[case.id])} |")
    return "\n".join(rows)


HEAD = """# Bad inputs: what was tried, and what the user sees

Every mistake below was made on purpose, through the command a user types, by tests/test_bad_inputs.py,
which also writes this file (`DISTILBERT_CLAIMS_WRITE_DOCS=1 pytest tests/test_bad_inputs.py`; the test
fails when it is stale). TMP is a scratch folder. A usage error of pytest is one `ERROR:` line before
anything runs; `python -m harness` prints one `error:` line, with a `fix:` line where there is one, and
exits with status 2. The readers are fuzzed as well (tests/test_fuzz.py: random bytes, random structure and
mutations of the real files for the GLUE TSVs, IMDb CSV and parquet, SQuAD JSON, the registry, the
protocols and results.json): none raises anything but the suite's own one-line error.

"""


def test_every_case_has_its_own_id():
    assert len({case.id for case in CASES}) == len(CASES)


def test_the_table_in_docs_is_current(scratch):
    for case in CASES:  # a case not run in this process (-k, xdist) is run now
        if case.id not in _seen:
            _seen[case.id] = _shown(outcome(case, scratch)[1])
    wanted = HEAD + table() + "\n"
    if WRITE_DOCS:
        DOCS.write_text(wanted, encoding="utf-8")
        pytest.skip(f"rewrote {DOCS}: run again without DISTILBERT_CLAIMS_WRITE_DOCS to check it")
    assert DOCS.is_file() and DOCS.read_text(encoding="utf-8") == wanted, (
        "docs/bad_inputs.md is stale: run DISTILBERT_CLAIMS_WRITE_DOCS=1 pytest tests/test_bad_inputs.py")
