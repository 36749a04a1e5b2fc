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

import importlib.util
import io
import json
import os
import re
from pathlib import Path

import numpy  # noqa: F401 - imported before the in-process pytest runs, which may not import numpy twice
import pandas as pd
import pytest
from bad_inputs_support import (
    FIXTURES,
    SST2_HEADER,
    TINY_RUN,
    Case,
    Runner,
    alias_bomb,
    block_entry,
    block_tiny_job,
    check_command,
    claim_entry,
    data_command,
    data_root,
    hub_typo,
    imdb_file,
    question,
    registry_command,
    report_command,
    speed_details,
    squad_answer,
    squad_file,
    squad_questions,
    sst2_dev,
    tiny_run,
    without_ray_client,
)

import harness.measure.accuracy  # noqa: F401 - likewise: what a real run's preflight and claims import

# likewise: a --run-slow run of fine-tuning claims imports transformers' Trainer and torch.distributed before its first
# test (harness.plugin's pytest_runtestloop). Imported first by an in-process run, they were unloaded after it, and torch
# cannot register its operators twice: every later import of transformers' models failed (BertModel). Runner refuses a
# run that defines torch operators.
import harness.measure.finetune.distill  # noqa: F401
import harness.plugin  # noqa: F401 - likewise: the inner runs load the plugin with -p harness.plugin
import harness.reporting.plots  # noqa: F401 - likewise: what a real run's report draws with (matplotlib)
from harness.data import loading
from harness.reporting import report
from harness.reporting import results as results_module

# pandas registers its pyarrow extension types once per process, when it first reads parquet: done here, before
# the in-process pytest runs, which unload the modules they import (a second registration would fail).
pd.read_parquet(io.BytesIO(pd.DataFrame({"label": [0]}).to_parquet()))


def _load_tiny_models() -> None:
    """The model and tokenizer classes a tiny job loads (tests/tiny_models.py), loaded before any case: transformers'
    auto mappings keep every module they load, so a module loaded first by a case was unloaded at its end yet still
    served by them, and a later run's tokenizer was of a class no imported module held, which datasets' fingerprint
    then pickled by value (a run of 2 s took 40)."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    for name in ("tiny-bert", "tiny-distilbert"):
        AutoModelForSequenceClassification.from_config(AutoConfig.from_pretrained(FIXTURES / "configs" / name))
        AutoTokenizer.from_pretrained(FIXTURES / "configs" / name)


_load_tiny_models()

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "bad_inputs.md"
WRITE_DOCS = os.environ.get("DISTILBERT_CLAIMS_WRITE_DOCS") == "1"


# --- the cases --------------------------------------------------------------------------------------------------------
def _protocols_file(r: Runner, **settings: object) -> Path:
    """TMP/protocols.yaml: the project's protocols with some of the paper protocol's values changed."""
    import yaml

    from harness.spec import protocols

    document = yaml.safe_load(protocols.DEFAULT_PROTOCOLS.read_text(encoding="utf-8"))
    document["protocols"]["paper"]["settings"].update(settings)
    return r.file("protocols.yaml", yaml.safe_dump(document))


def _finetune(r: Runner, setting: str) -> tuple[int, str]:
    return r.harness("finetune", "--checkpoint", "bert-base-uncased", "--task", "sst2", "--set", setting)


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
    Case("pytest --protocols TMP/nowhere.yaml", "a protocols file that does not exist", r"protocols file not found: TMP/nowhere",
         lambda r: r.pytest("--protocols", str(r.base / "nowhere.yaml"))),
    Case("pytest --protocols TMP/protocols.yaml", "a protocol whose learning rate is negative",
         r"setting 'learning_rate': -2e-05 is out of range: learning_rate takes a number above 0",
         lambda r: r.pytest("--protocols", str(_protocols_file(r, learning_rate=-2e-5)))),
    Case("pytest --report-to tensorbord", "a tracker name with a typo", r"invalid choice: 'tensorbord'",
         lambda r: r.pytest("--report-to", "tensorbord")),
    # python -m harness finetune: --set NAME=VALUE, checked before anything loads
    Case("python -m harness finetune --checkpoint bert-base-uncased --task sst2 --set lr=3e-5", "a setting that is not one",
         r"--set lr=3e-5: unknown setting 'lr'; known: .*learning_rate", lambda r: _finetune(r, "lr=3e-5")),
    Case("python -m harness finetune --checkpoint bert-base-uncased --task sst2 --set train_batch_size=0", "a batch of no rows",
         r"0 is out of range: train_batch_size takes a whole number of at least 1", lambda r: _finetune(r, "train_batch_size=0")),
    Case("python -m harness finetune --checkpoint bert-base-uncased --task sst2 --set lr_scheduler=cosin",
         "a scheduler name with a typo", r"did you mean 'cosine'\?", lambda r: _finetune(r, "lr_scheduler=cosin")),
    Case("python -m harness finetune --checkpoint bert-base-uncased --task sst2 --set learning_rate", "a setting without its value",
         r"expected NAME=VALUE", lambda r: _finetune(r, "learning_rate")),
    # python -m harness data: a GLUE TSV
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "a TSV ending in blank lines (as GLUE's files do)",
         r"exit 0: 2 rows loaded", sst2_dev(SST2_HEADER + "good \t1\nbad \t0\n\n\n"), accepted=True),
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "a blank line between rows",
         r"line 3: a blank line between examples", sst2_dev(SST2_HEADER + "good \t1\n\nbad \t0\n")),
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "a row with too few fields (a tab lost)",
         r"line 3: 1 tab-separated field\(s\), expected 2 \(sentence, label\): too few fields", sst2_dev(SST2_HEADER + "good \t1\nbad 0\n")),
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "a row with a stray tab",
         r"line 2: 3 tab-separated field\(s\), expected 2 .*not a well-formed tab-separated file", sst2_dev(SST2_HEADER + "a\tb \t1\n")),
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "a label outside the task's set",
         r"line 2, field 'label': label '2' is not one of sst2's labels", sst2_dev(SST2_HEADER + "odd \t2\n")),
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "a file that is not UTF-8",
         r"byte 15: not UTF-8 text", sst2_dev(SST2_HEADER.encode() + b"\xff bad \t1\n")),
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "an empty file", r"the file is empty", sst2_dev("")),
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "a header and no rows", r"a header and no examples",
         sst2_dev(SST2_HEADER)),
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "a comma-separated file",
         r"missing column\(s\) \['sentence'\].*is it tab-separated\?", sst2_dev("sentence,label\nfine,1\n")),
    Case("python -m harness data --task stsb --glue-dir TMP/glue", "an STS-B score outside [0, 5]",
         r"score '7.5' is not a number in \[0, 5\]",
         lambda r: data_command(r, "glue/STS-B/dev.tsv", "sentence1\tsentence2\tscore\na\tb\t7.5\n", "--task", "stsb", "--glue-dir",
                         str(r.base / "glue"))),
    Case("python -m harness data --task sst2 --glue-dir TMP/afile", "the GLUE folder names a file",
         r"the GLUE folder TMP/afile is a file, not a folder",
         lambda r: (r.file("afile", "x"), r.harness("data", "--task", "sst2", "--glue-dir", str(r.base / "afile")))[1]),
    Case("python -m harness data --task mnli --split validation", "a split the task does not have",
         r"no split 'validation'.*did you mean 'validation_matched'", lambda r: r.harness("data", "--task", "mnli", "--split", "validation")),
    Case("python -m harness data --task colaa", "a task name with a typo", r"did you mean 'cola'\?",
         lambda r: r.harness("data", "--task", "colaa")),
    Case("python -m harness data --task qqp", "no local data, the Hub not asked (offline) and nothing in datasets' cache",
         r"task 'qqp', split 'validation': dataset 'nyu-mll/glue' \(qqp\) at revision 'main': offline mode .* not in the "
         r"datasets cache", lambda r: r.harness("data", "--task", "qqp")),
    Case("pytest --bert-checkpoint bert-base-uncased@v1 --bert-revision v2", "a revision given twice",
         r"--bert-checkpoint bert-base-uncased@v1 names its revision already; drop --bert-revision v2",
         lambda r: r.pytest("--bert-checkpoint", "bert-base-uncased@v1", "--bert-revision", "v2")),
    # python -m harness data: IMDb and SQuAD
    Case("python -m harness data --task imdb --imdb-dir TMP/imdb", "a CSV without a label column",
         r"columns: missing \['label'\]", imdb_file("test.csv", "text,sentiment\nfine,1\n")),
    Case("python -m harness data --task imdb --imdb-dir TMP/imdb", "a CSV with a header and no reviews",
         r"a header and no reviews", imdb_file("test.csv", "text,label\n")),
    Case("python -m harness data --task imdb --imdb-dir TMP/imdb", "a parquet file that is not parquet",
         r"cannot be read as parquet", imdb_file("test.parquet", "not parquet")),
    Case("python -m harness data --task imdb --imdb-dir TMP/imdb", "a parquet file with labels 3 and 4",
         r"row 1, field 'label': label '3' is not one of imdb's labels.* fix: give IMDb as parquet",
         imdb_file("test.parquet", lambda path: pd.DataFrame({"text": ["a", "b"], "label": [3, 4]}).to_parquet(path))),
    Case("python -m harness data --task squad --squad-file TMP/dev-v1.1.json", "a truncated SQuAD download",
         r"line 1, column \d+: not valid JSON .*truncated", squad_file('{"data": [{"title": "t", "paragraphs": [')),
    Case("python -m harness data --task squad --squad-file TMP/dev-v1.1.json", "an answer_start past its context",
         r"answer_start: 4294967296 is outside its context \(0 to 13 characters\)", squad_file(squad_answer(2**32))),
    Case("python -m harness data --task squad --squad-file TMP/dev-v1.1.json", "an answer_start that is text",
         r"answers\[0\].answer_start: expected an integer, got str", squad_file(squad_answer("2"))),
    Case("python -m harness data --task squad --squad-file TMP", "the SQuAD file names a folder",
         r"the SQuAD file TMP is a folder, not a file", lambda r: r.harness("data", "--task", "squad", "--squad-file", str(r.base))),
    # pytest: the registry refuses what can never be judged, each in one bounded line naming the field (issue 21)
    Case("pytest --registry TMP/registry.yaml", "a paper_value of .inf",
         r"claim #1 \(id 'size.bert.parameters'\), field 'paper_value': expected a finite number, got inf",
         registry_command(lambda doc: doc["claims"][0].update(paper_value=float("inf")))),
    Case("pytest --registry TMP/registry.yaml", "a tolerance.value of .nan",
         r"field 'tolerance.value': expected a non-negative number \(finite\), got nan",
         registry_command(lambda doc: doc["claims"][0].update(tolerance={"kind": "relative", "value": float("nan")}))),
    Case("pytest --registry TMP/registry.yaml", "an unknown top-level key", r"top-level key 'claimz': unknown; did you mean 'claims'\?",
         registry_command(lambda doc: doc.update(claimz=[]))),
    Case("pytest --registry TMP/registry.yaml", "an id with spaces, slashes and brackets",
         r"field 'id': 'size bert/../params\[1\]' has characters outside \[a-z0-9_.\]",
         registry_command(lambda doc: doc["claims"][0].update(id="size bert/../params[1]"))),
    Case("pytest --registry TMP/registry.yaml", "a row without its paper_value (its statement uses it)",
         r"claim #1 \(id 'size.bert.parameters'\), field 'paper_value': missing: a claim in scope needs the paper's value",
         registry_command(lambda doc: doc["claims"][0].pop("paper_value"))),
    Case("pytest --registry TMP/registry.yaml", "an alias bomb (10^9 values) as the references",
         r"registry.yaml, line \d+, column \d+: YAML aliases expand past 100,000 values here", alias_bomb("references")),
    Case("pytest --registry TMP/registry.yaml", "an alias bomb (10^9 values) in a row's notes",
         r"registry.yaml, line \d+, column \d+: YAML aliases expand past 100,000 values here", alias_bomb("notes")),
    Case("pytest --data-dir TMP/glue", "a data root one level too deep (its glue/ folder)",
         r"--data-dir TMP/glue is one level too deep: it holds SST-2 itself, where a data root holds glue/, imdb/ and squad/; "
         r"pass its parent: --data-dir TMP$",
         lambda r: (r.file("glue/SST-2/dev.tsv", SST2_HEADER + "good \t1\n"), r.pytest("--data-dir", str(r.base / "glue")))[1]),
    # pytest: a run that selects no claim, or is interrupted, says so in one line and writes no report (issue 21)
    Case("pytest claims -k nosuchclaim", "-k matching no claim", r"^DistilBERT claims: no claim matched -k 'nosuchclaim': nothing "
         r"measured, no report written", lambda r: r.pytest_run(str(ROOT / "claims"), "-k", "nosuchclaim", "--report-dir",
                                                                  str(r.base / "run")), shape="line"),
    Case("pytest claims -m paper", "Ctrl-C while the run measures (here: during paper.table1.distilbert_score_is_row_mean)",
         r"^DistilBERT claims: interrupted: no report written, reports/latest left as it was",
         lambda r: r.pytest_run(str(ROOT / "claims"), "-m", "paper", "--report-dir", str(r.base / "run"),
                                interrupt_at="paper.table1.distilbert_score_is_row_mean"), shape="line"),
    Case("pytest claims --run-slow --max-train-samples 100000 --data-dir TMP/data -k glue.sst2.bert",
         "more training rows asked for than the split has: said before any training (the run then stopped with Ctrl-C)",
         r"^--max-train-samples 100000: sst2's "
         r"train split has 5 rows \(glue_tsv:TMP/data/glue/SST-2/train.tsv\); all 5 are used",
         lambda r: (r.file("data/glue/SST-2/train.tsv", (FIXTURES / "glue" / "SST-2" / "train.tsv").read_bytes()),
                    r.file("data/glue/SST-2/dev.tsv", (FIXTURES / "glue" / "SST-2" / "dev.tsv").read_bytes()),
                    r.pytest_run(str(ROOT / "claims"), "--run-slow", "--max-train-samples", "100000", "--data-dir",
                                 str(r.base / "data"), "-k", "glue.sst2.bert", "--report-dir", str(r.base / "run"),
                                 shown=("--max-train-samples",), interrupt_at="glue.sst2.bert"))[2], shape="said"),
    Case("pytest claims --run-slow --seeds 1000 --device cpu " + " ".join(TINY_RUN),
         "1000 seeds (10 meant?): the plan line says the jobs before any training (the run then stopped with Ctrl-C)",
         r"^fine-tuning: 1000 jobs for 1 claim \(1000 seeds, protocol paper\): 1000 to train, 0 read from the cache TMP/cache",
         tiny_run("--seeds", "1000", "--device", "cpu", shown=("fine-tuning:",), interrupt_at="glue.sst2.bert"), shape="said"),
    Case("pytest claims -k size.bert.parameters --bert-checkpoint bert-base-uncase",
         "a Hub name with a typo (offline, so not in the Hub cache): the claim skips, the run goes on",
         r"^SKIPPED cannot measure size.bert.parameters: model 'bert-base-uncase' at revision 'main': .* "
         r"fix: .*did you mean 'bert-base-uncased'", hub_typo, shape="skip"),
    Case("pytest claims --run-slow --protocol smoke --device cpu " + " ".join(TINY_RUN),
         "the job's cache folder replaced by a file before the run",
         r"^CacheWarning: cache folder TMP/cache/KEY was a file, not a folder: removed; the job runs and stores its result there$",
         tiny_run("--protocol", "smoke", "--device", "cpu", before=block_tiny_job, warned="CacheWarning"), shape="said"),
    Case("pytest claims --run-slow --executor ray --ray-address ray://127.0.0.1:10001 " + " ".join(TINY_RUN),
         "Ray Client (ray://) without `ray[client]` installed (here: its grpc hidden)",
         r"^ERROR: --ray-address ray://127.0.0.1:10001: cannot join a Ray cluster there \(Ray Client requires pip package "
         r"`ray\[client\]`.*\); Ray Client \(ray://\) needs pip install \"ray\[client\]\" \(the project's `ray` extra leaves "
         r"it out\); or run the driver on a node of the cluster with --ray-address HOST:6379",
         without_ray_client(tiny_run("--executor", "ray", "--ray-address", "ray://127.0.0.1:10001", shown=("ERROR:",))),
         shape="line", needs="ray"),
    # python -m harness data: what can never train or score, refused when loaded (before any training), as a run refuses it
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "a header line written with spaces, not tabs",
         r"line 1 \(the header\): missing column\(s\) \['sentence'\].*is it tab-separated\?", sst2_dev("sentence label\ngood\t1\n")),
    Case("python -m harness data --task sst2 --glue-dir TMP/glue", "a TSV with NUL bytes", r"dev.tsv, line 3: a NUL byte",
         sst2_dev(SST2_HEADER + "good \t1\nbad\x00\x00 \t0\n")),
    Case("python -m harness data --task rte --data-dir TMP", "a dev.tsv that is a symlink loop",
         r"TMP/glue/RTE/dev.tsv is a symlink loop, not a readable file",
         data_root("rte", lambda base: (base / "glue" / "RTE").mkdir(parents=True) or (base / "glue/RTE/dev.tsv").symlink_to("dev.tsv"))),
    Case("python -m harness data --task rte --data-dir TMP", "a dev.tsv that is a folder",
         r"TMP/glue/RTE/dev.tsv is a folder, not a readable file",
         data_root("rte", lambda base: (base / "glue" / "RTE" / "dev.tsv").mkdir(parents=True))),
    Case("python -m harness data --task sst2 --data-dir TMP/glue", "a data root one level too deep (its glue/ folder)",
         r"the data root TMP/glue is one level too deep \(it holds SST-2/dev.tsv itself\), so TMP/glue/glue/SST-2/dev.tsv was "
         r"looked for.* fix: pass its parent: --data-dir TMP$",
         data_root("sst2", lambda base: (base / "glue/SST-2").mkdir(parents=True) or (base / "glue/SST-2/dev.tsv").write_text(
             SST2_HEADER + "good \t1\n"), given="glue")),
    Case("python -m harness data --task imdb --imdb-dir TMP/imdb", "a parquet review that is null",
         r"row 2, field 'text': the review is missing \(null\); expected a non-empty string",
         imdb_file("test.parquet", lambda path: pd.DataFrame({"text": ["A fine film.", None], "label": [1, 0]}).to_parquet(path))),
    Case("python -m harness data --task imdb --imdb-dir TMP/imdb", "a CSV review that is empty",
         r"line 3, field 'text': the review is empty", imdb_file("test.csv", "text,label\nA fine film.,1\n,0\n")),
    Case("python -m harness data --task imdb --imdb-dir TMP/imdb", "a test review labelled -1 (unlabelled)",
         r"line 2, field 'label': label '-1' is not one of imdb's labels .*unsupervised split only",
         imdb_file("test.csv", "text,label\nA fine film.,-1\n")),
    Case("python -m harness data --task squad --squad-file TMP/dev-v1.1.json", "an answer_start that misses its text",
         r"answers\[0\].answer_start: 0 points at 'A lighthou', not at its text 'lighthouse' \(the text begins at 2\)",
         squad_file(squad_questions(question(start=0)))),
    Case("python -m harness data --task squad --squad-file TMP/dev-v1.1.json", "answers: [] on every question",
         r"qas\[0\].answers: no answers; expected at least one",
         squad_file(squad_questions({**question(), "answers": []}, {**question("q2"), "answers": []}))),
    Case("python -m harness data --task squad --squad-file TMP/dev-v1.1.json", "a SQuAD v2.0 file",
         r"field version: 'v2.0'; expected '1.1' .*v2.0 adds unanswerable questions",
         squad_file(squad_questions(question(is_impossible=False), version="v2.0"))),
    Case("python -m harness data --task squad --squad-file TMP/dev-v1.1.json", "a question id given twice",
         r"qas\[1\].id: 'q1' is also the id of data\[0\].paragraphs\[0\].qas\[0\]",
         squad_file(squad_questions(question(), question()))),
    Case("python -m harness data --task squad --squad-file TMP/dev-v1.1.json", "an empty answer text",
         r"answers\[0\].text: an empty answer", squad_file(squad_questions(question(text="", start=0)))),
    # python -m harness check: verifies or fails, naming the thing (issue 21)
    Case("python -m harness check TMP/run", "a run as written", r"exit 0: check TMP/run: 50 claims, 3 measurements recomputed, "
         r"0 value\(s\) that do not follow, 0 not checked", check_command(), accepted=True, shape="check"),
    Case("python -m harness check TMP/run --cache-dir TMP/nowhere", "a misspelt cache folder",
         r"CANNOT CHECK cache folder TMP/nowhere does not exist", check_command(None, "--cache-dir", "TMP/nowhere"), shape="check"),
    Case("python -m harness check TMP/run", "a claim's measured deleted from results.json",
         r"DOES NOT FOLLOW size.bert.parameters: its verdict is 'reproduced', a measurement's, but results.json records no `measured`",
         check_command(lambda doc: claim_entry(doc, "size.bert.parameters").pop("measured")), shape="check"),
    Case("python -m harness check TMP/run", "a whole claim deleted from results.json",
         r"DOES NOT FOLLOW size.reduction: a claim of .*registry.yaml with no entry in results.json",
         check_command(lambda doc: doc["claims"].remove(claim_entry(doc, "size.reduction"))), shape="check"),
    Case("python -m harness check TMP/run", "results.json's summary edited",
         r"DOES NOT FOLLOW summary: results.json says \{'reproduced': 30, 'skipped': \d+\}, its claims' verdicts count",
         check_command(lambda doc: doc["summary"].update(reproduced=30)), shape="check"),
    Case("python -m harness check TMP/run", "a claim's summary edited",
         r"DOES NOT FOLLOW size.bert.parameters: results.json's summary says 'about 66 M parameters', the architectures give",
         check_command(lambda doc: claim_entry(doc, "size.bert.parameters")["details"].update(summary="about 66 M parameters")),
         shape="check"),
    Case("python -m harness check TMP/run", "options.protocol edited from smoke to paper",
         r"DOES NOT FOLLOW glue.sst2.bert: results.json's options \(protocol 'paper', .*\) give 1 job\(s\) its claim did not read",
         check_command(lambda doc: doc["options"].update(protocol="paper"), accuracy=True), shape="check"),
    Case("python -m harness check TMP/run", "the run's --registry file moved away",
         r"CANNOT CHECK registry: the run read TMP/registry.yaml \(sha256 \w+\): no registry with that digest was found",
         check_command(lambda doc: doc["registry"].update(path="TMP/registry.yaml", sha256="0" * 64)), shape="check"),
    Case("python -m harness check TMP/run", "a cache entry the run read is not in the cache",
         r"not checked cache entry KEY: not in TMP/cache, so not checked exit status 1: 2 part\(s\) not checked "
         r"\(--allow-unchecked accepts them\)",
         check_command(accuracy=True), shape="check"),
    Case("python -m harness check TMP/run --allow-unchecked", "a cache entry not in the cache, accepted as not checked",
         r"exit 0: check TMP/run: 50 claims", check_command(None, "--allow-unchecked", accuracy=True), accepted=True, shape="check"),
    Case("python -m harness check TMP/run", "a cache entry's folder replaced by a file",
         r"DOES NOT FOLLOW cache entry TMP/cache/KEY: its folder is a file, not a folder",
         check_command(None, "--allow-unchecked", accuracy=True, before=block_entry), shape="check"),
    # python -m harness report
    Case("python -m harness report TMP/run/results.json", "results.json itself rather than its folder",
         r"exit 0: wrote report.html, report.md beside results.json", lambda r: report_command(r, given="run/results.json"),
         accepted=True),
    Case("python -m harness report TMP/run", "a folder without results.json", r"no results file at TMP/run/results.json",
         lambda r: (r.base.joinpath("run").mkdir(), r.harness("report", str(r.base / "run")))[1]),
    Case("python -m harness report TMP/run", "a results.json that is not UTF-8", r"results.json is not UTF-8 text \(byte 0\)",
         lambda r: report_command(r, b"\xff\xfe{}")),
    Case("python -m harness report TMP/run/report.html", "the report rather than results.json", r"report.html is not valid JSON",
         lambda r: (r.file("run/report.html", "<html></html>"), r.harness("report", str(r.base / "run" / "report.html")))[1]),
    Case("python -m harness report TMP/run", "a results.json nested 100,000 deep", r"nests its JSON too deeply",
         lambda r: report_command(r, "[" * 100_000 + "]" * 100_000)),
    Case("python -m harness report TMP/run", "a results.json of another schema version", r"has results schema version 99",
         lambda r: report_command(r, '{"schema_version": 99, "claims": []}')),
    Case("python -m harness report TMP/run", "a verdict edited to one the suite does not give",
         r"claims\[0\] has the unknown verdict '<script>'",
         lambda r: report_command(r, json.dumps({"schema_version": results_module.SCHEMA_VERSION,
                                           "claims": [{"id": "x", "verdict": "<script>"}]}))),
    Case("python -m harness report TMP/run", "a speed claim's chunk times edited to text: the report is drawn "
         "without that claim's own figure", r"report\.html", speed_details(
             lambda details: details["chunk_seconds"].update(bert=["slow", "slower"])), accepted=True),
    Case("python -m harness report TMP/run", "a speed claim's chunk lists of unequal length: the report is drawn "
         "without that claim's own figure", r"report\.html", speed_details(
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
    text = re.sub(r"^__main__\.py: error: ", "pytest: error: ", text, flags=re.MULTILINE)  # argparse's prog varies by pytest
    return status, text.replace("./harness/", "harness/")


def _shown(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in CASES])
def test_bad_input(case, scratch):
    if not installed(case.needs):
        pytest.skip(f"{case.needs} is not installed (an optional extra): the table keeps this case's row as it is")
    status, text = outcome(case, scratch)
    _seen[case.id] = _shown(text)
    assert re.search(case.expected, _shown(text)), text
    assert "Traceback" not in text and "INTERNALERROR" not in text, text
    if case.shape == "said":  # one line the run says, whatever becomes of the run after it
        assert len(text.splitlines()) == 1, text
        return
    if case.shape == "skip":  # the claim skips, saying why and the fix (pytest's short summary); the run goes on
        first, *rest = text.splitlines()
        assert status == 0 and first.startswith("SKIPPED ") and len(rest) == 1 and rest[0].startswith("  fix: "), text
        return
    if case.accepted:
        assert status == 0, text
        return
    assert status != 0
    if case.shape == "check":  # check's findings: what does not follow, what cannot be checked, what was not checked
        assert status == 1 and all(line.startswith(CHECK_LINES) for line in text.splitlines()), text
        return
    if case.shape == "line":  # a run's one closing line
        assert len(text.splitlines()) == 1 and text.startswith(("DistilBERT claims: ", "ERROR: ")), text
        return
    first, *rest = text.splitlines()
    assert first.startswith(("ERROR: ", "error: ", "pytest: error: ")), text
    assert not rest or len(rest) == 1 and rest[0].startswith("  fix: "), f"one line (and its fix) expected:\n{text}"


CHECK_LINES = ("DOES NOT FOLLOW ", "CANNOT CHECK ", "not checked ", "exit status 1: ")


def installed(module: str) -> bool:
    return not module or importlib.util.find_spec(module) is not None


def table() -> str:
    """The table's rows; a case that cannot run here (its extra not installed) keeps the row the file has."""
    rows = ["| command | the mistake | what the user sees |", "|---|---|---|"]
    written = DOCS.read_text(encoding="utf-8").splitlines() if DOCS.is_file() else []
    for case in CASES:
        start = f"| `{case.command}` | {report.markdown_text(case.mistake)} | "
        if case.id in _seen:
            rows.append(f"{start}{report.markdown_text(_seen[case.id])} |")
        else:
            rows.append(next((row for row in written if row.startswith(start)), f"{start}(not run: {case.needs} is not installed) |"))
    return "\n".join(rows)


HEAD = """# Bad inputs: what was tried, and what the user sees

Every mistake below was made on purpose, through the command a user types, by tests/test_bad_inputs.py,
which also writes this file (`DISTILBERT_CLAIMS_WRITE_DOCS=1 pytest tests/test_bad_inputs.py`; the test
fails when it is stale). TMP is a scratch folder. A usage error of pytest is one `ERROR:` line before
anything runs; `python -m harness` prints one `error:` line, with a `fix:` line where there is one, and
exits with status 2. `python -m harness check` verifies or fails: it names each thing that does not follow
(`DOES NOT FOLLOW`), that it cannot check against (`CANNOT CHECK`) or that it did not check (`not checked`),
and exits 1 for any of them (the last accepted only with `--allow-unchecked`); cache keys and digests are shown
as KEY and DIGEST, the Hugging Face Hub cache folder as HF_HUB_CACHE. Data that can never train or score is
refused when it is loaded, before any training, and `python -m harness data` refuses it with the very line a
run gets. A run that is interrupted, or whose `-k` / `-m` selects no claim, ends with one line and writes no
report; of a run that goes on, the line about the mistake is shown (the plan, a warning, a claim's skip and its
fix). TMP/tiny-bert and TMP/data are the tests' tiny checkpoint and data (tests/tiny_models.py); a row whose
optional extra (ray) is not installed is kept as it is. The readers are fuzzed as well
(tests/test_fuzz.py: random bytes, random structure and mutations of the real files for the GLUE TSVs, IMDb
CSV and parquet, SQuAD JSON, the registry, the protocols and results.json): none raises anything but the
suite's own one-line error.

"""


def test_every_case_has_its_own_id():
    assert len({case.id for case in CASES}) == len(CASES)


def test_the_table_in_docs_is_current(scratch):
    for case in CASES:  # a case not run in this process (-k, xdist) is run now
        if case.id not in _seen and installed(case.needs):
            _seen[case.id] = _shown(outcome(case, scratch)[1])
    wanted = HEAD + table() + "\n"
    if WRITE_DOCS:
        DOCS.write_text(wanted, encoding="utf-8")
        pytest.skip(f"rewrote {DOCS}: run again without DISTILBERT_CLAIMS_WRITE_DOCS to check it")
    assert DOCS.is_file() and DOCS.read_text(encoding="utf-8") == wanted, (
        "docs/bad_inputs.md is stale: run DISTILBERT_CLAIMS_WRITE_DOCS=1 pytest tests/test_bad_inputs.py")
