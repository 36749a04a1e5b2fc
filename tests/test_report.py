"""The report: report.md, report.html and plots from results.json, the rebuild command, bad input, and a
real claims run that leaves a complete run directory (checked in headless Chromium where installed).

Synthetic results are made with harness.reporting.results.build from the real registry and real
Verdicts, so they have exactly the schema a claims run writes.
"""

import base64
import json
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from harness.errors import ClaimsError
from harness.judge.verdict import Verdict, judge
from harness.reporting import plots, report
from harness.reporting import results as results_module
from harness.reporting import sections as report_sections
from harness.spec import registry as registry_module

REGISTRY = registry_module.load()
PLOT_FILES = plots.PLOTS
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SPEED_FIGURE = "speed_speed.cpu.stsb_speedup.png"  # the timed speed claim's own figure (harness.reporting.speed_plots)


def judged(claim_id: str, measured: float, **details) -> results_module.ClaimResult:
    claim = REGISTRY.get(claim_id)
    return results_module.ClaimResult(claim, f"claims/test_x.py::t[{claim_id}]", judge(claim, measured), details=details,
                                      outcome="passed")


def document(results: list[results_module.ClaimResult], reason: str = "needs --run-slow: full fine-tuning") -> results_module.RunResults:
    """A results document of the real registry: the given results, every other claim skipped with `reason`."""
    done = {r.claim.id for r in results}
    rest = [results_module.not_run(c, reason) for c in REGISTRY.claims if c.id not in done]
    environment = {"cpu": "test CPU", "cpu_count": 2, "gpus": [], "libraries": {"torch": "0"}, "git_commit": "abc"}
    return results_module.build(results + rest, REGISTRY, environment, {"markexpr": "size or speed", "run_slow": False})


def every_verdict() -> results_module.RunResults:
    claim = REGISTRY.get("glue.mnli.bert")
    error = results_module.ClaimResult(claim, "claims/test_x.py::t[glue.mnli.bert]",
                                       Verdict.error(claim, "RuntimeError: out of memory"))
    return document([
        judged("size.bert.parameters", 109.48224),  # reproduced
        judged("glue.rte.distilbert", 95.0),  # not reproduced (far above: one run below the paper may be a near-failed one)
        judged("glue.cola.bert", 60.3, seeds=[1, 2, 3]),  # inconclusive: outside ±3, within one seed's noise (sigma 1.7)
        judged("speed.cpu.stsb_speedup", 1.9, seconds={"bert": 30.2, "distilbert": 15.9}, speedup=1.9,
               chunk_seconds={"bert": [15.0, 15.2], "distilbert": [8.0, 7.9]}),
        judged("retention.with_wnli", 96.4),
        error,
    ])


@pytest.fixture
def run_dir(tmp_path):
    results_module.write(tmp_path, every_verdict())
    return tmp_path


class _Links(HTMLParser):
    """Every tag name and every src/href value of a page."""

    def __init__(self):
        super().__init__()
        self.tags, self.links = set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.links += [value for name, value in attrs if name in ("src", "href")]


# --- rendering from synthetic results -----------------------------------------------------------------


def test_render_writes_markdown_html_and_every_plot(run_dir):
    written = report.render(run_dir)
    assert {p.name for p in written} == {"report.md", "report.html", *PLOT_FILES, SPEED_FIGURE}
    for name in (*PLOT_FILES, SPEED_FIGURE):
        assert (run_dir / name).read_bytes().startswith(PNG_SIGNATURE)


def test_every_verdict_kind_shows_with_its_reason(run_dir):
    report.render(run_dir)
    for name in ("report.md", "report.html"):
        text = (run_dir / name).read_text()
        for verdict in ("reproduced", "not reproduced", "inconclusive", "skipped", "error"):
            assert verdict in text, (name, verdict)
        assert "RuntimeError: out of memory" in text
        assert "needs --run-slow: full fine-tuning" in text
    html_text = (run_dir / "report.html").read_text()
    for css_class in ("v-reproduced", "v-not-reproduced", "v-inconclusive", "v-skipped", "v-error"):
        assert f'class="{css_class}"' in html_text


def test_table1_puts_measured_beside_paper_with_delta_metric_and_elmo():
    table = report_sections.table1(every_verdict())[0].table.set_index("task")
    assert table.loc["CoLA", "metric"] == "matthews_correlation"
    assert table.loc["CoLA", "BERT-base paper"] == "56.3"
    assert table.loc["CoLA", "BERT-base measured (Δ)"] == "60.3 (Δ +4.00)"
    assert table.loc["CoLA", "BERT-base verdict"] == "inconclusive"
    assert table.loc["RTE", "DistilBERT verdict"] == "not reproduced"
    assert table.loc["STS-B", "DistilBERT measured (Δ)"] == "–"
    assert table.loc["Score", "ELMo (reported)"] == "68.7"
    assert list(table.index) == ["CoLA", "MNLI", "MRPC", "QNLI", "QQP", "RTE", "SST-2", "STS-B", "WNLI", "Score"]


def test_table3_shows_parameters_and_the_measured_times():
    table = report_sections.table3(every_verdict())[0].table.set_index("model")
    assert table.loc["ELMo (reported)", "parameters paper (M)"] == "180"
    assert table.loc["ELMo (reported)", "inference paper (s)"] == "895"
    assert table.loc["BERT-base", "parameters measured (Δ)"] == "109.5 (Δ -0.52)"
    assert table.loc["BERT-base", "inference paper (s)"] == "668"
    assert table.loc["DistilBERT", "measured (s), speed.cpu.stsb_speedup"] == "15.9"


def test_the_papers_inconsistencies_and_out_of_scope_claims_are_reported(run_dir):
    report.render(run_dir)
    text = (run_dir / "report.md").read_text()
    assert "glue.mnli.bert: Probably a typo for 84.7" in text  # the row's note
    assert "paper.table1.bert_score_is_row_mean" in text
    for claim in REGISTRY.family("out_of_scope"):
        assert claim.id in text and claim.out_of_scope.split(";")[0].split(".")[0] in text


def test_a_run_where_every_claim_was_skipped_renders_and_says_so(tmp_path):
    results_module.write(tmp_path, document([]))
    report.render(tmp_path)
    for name in ("report.md", "report.html"):
        assert "Every claim was skipped in this run" in (tmp_path / name).read_text()
    for name in PLOT_FILES:
        assert (tmp_path / name).read_bytes().startswith(PNG_SIGNATURE)
    assert not (tmp_path / SPEED_FIGURE).exists()


def test_missing_values_and_keys_do_not_crash_tables_or_plots(tmp_path):
    minimal = {"schema_version": results_module.SCHEMA_VERSION, "claims": [
        {"id": "glue.cola.bert", "verdict": "reproduced", "family": "glue", "task": "cola", "model": "bert"},
        {"id": "speed.cpu.x", "verdict": "error", "family": "speed", "details": {"seconds": {"bert": None}}},
        {"id": "size.bert.parameters", "verdict": "skipped", "family": "size", "metric": "parameters_millions",
         "tolerance": {"kind": "at_least", "value": 1, "interval": [None, None]}, "measured": float("nan")},
    ]}
    (tmp_path / results_module.RESULTS_FILE).write_text(json.dumps(minimal))
    report.render(tmp_path)
    assert "glue.cola.bert" in (tmp_path / "report.html").read_text()


def test_results_json_reads_back_into_the_verdicts_it_was_written_from(run_dir):
    written = every_verdict()
    read = results_module.read(run_dir)
    assert [r.verdict for r in read.claims] == [r.verdict for r in written.claims]
    assert json.loads(json.dumps(read.to_json())) == json.loads((run_dir / results_module.RESULTS_FILE).read_text())


def test_the_same_results_give_the_same_report(run_dir, tmp_path):
    report.render(run_dir)
    first = {name: (run_dir / name).read_bytes() for name in ("report.md", "report.html", *PLOT_FILES)}
    report.render(run_dir)
    assert first == {name: (run_dir / name).read_bytes() for name in first}


def test_html_is_one_self_contained_file(run_dir):
    report.render(run_dir)
    page = _Links()
    page.feed((run_dir / "report.html").read_text())
    assert "script" not in page.tags and "link" not in page.tags
    images = [link for link in page.links if link.startswith("data:image/png;base64,")]
    assert len(images) == len(PLOT_FILES) + 1  # and the speed claim's own figure
    assert all(link.startswith(("data:", "#")) for link in page.links), page.links
    for link in images:
        assert base64.b64decode(link.split(",", 1)[1]).startswith(PNG_SIGNATURE)


# --- the rebuild command and bad input ------------------------------------------------------------------


def test_rebuild_command_writes_the_report_from_results_json_alone(run_dir, repo_root):
    done = subprocess.run([sys.executable, "-m", "harness", "report", str(run_dir)], cwd=repo_root,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (run_dir / "report.html").is_file() and (run_dir / "report.md").is_file()
    assert str(run_dir / "report.html") in done.stdout


@pytest.mark.parametrize("content, expected", [
    ('{"schema_version": 99, "claims": []}', "schema version 99"),
    ('{"schema_version": 1, "claims": [', "not valid JSON"),
    ('{"schema_version": 1, "claims": [{"verdict": "skipped"}]}', "claims[0] lacks a string 'id'"),
    ('{"schema_version": 1, "claims": [], "environment": []}', "'environment' is not a dict"),
    ("[]", "schema version None"),
])
def test_bad_results_file_is_a_claims_error(tmp_path, content, expected):
    (tmp_path / "results.json").write_text(content)
    with pytest.raises(ClaimsError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        report.render(tmp_path)


def test_render_takes_the_results_file_itself_and_writes_beside_it(run_dir):
    written = report.render(run_dir / results_module.RESULTS_FILE)
    assert {path.parent for path in written} == {run_dir} and (run_dir / "report.html").is_file()


@pytest.mark.parametrize("content, expected", [
    (b"\xff\xfe{}", r"is not UTF-8 text \(byte 0\)"),
    (b"[" * 100_000 + b"]" * 100_000, r"nests its JSON too deeply"),
])
def test_an_unreadable_results_file_is_one_line(tmp_path, content, expected):
    (tmp_path / "results.json").write_bytes(content)
    with pytest.raises(ClaimsError, match=expected) as error:
        report.render(tmp_path)
    assert "\n" not in error.value.what


def test_rebuild_command_reports_a_bad_file_in_one_line(tmp_path, repo_root):
    (tmp_path / "results.json").write_text('{"schema_version": 2, "claims": []}')
    done = subprocess.run([sys.executable, "-m", "harness", "report", str(tmp_path)], cwd=repo_root,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "schema version 2" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "report.html").exists()


# --- a real claims run (end to end) ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def claims_run(tmp_path_factory, repo_root):
    """`pytest claims -m "size or paper" --report-dir DIR`: the offline claims, run once for this module."""
    run_dir = tmp_path_factory.mktemp("claims_run") / "run"
    done = subprocess.run([sys.executable, "-m", "pytest", "claims", "-m", "size or paper", "--report-dir", str(run_dir),
                           "-p", "no:cacheprovider", "-q"], cwd=repo_root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return run_dir, done.stdout


def test_a_claims_run_leaves_a_complete_run_directory(claims_run):
    run_dir, stdout = claims_run
    for name in ("results.json", "report.md", "report.html", "junit.xml", *PLOT_FILES):
        assert (run_dir / name).is_file(), name
    suites = ET.parse(run_dir / "junit.xml").getroot()
    assert len(suites.findall(".//testcase")) >= len(REGISTRY.family("size", "paper_arithmetic"))
    assert f"report: {run_dir}" in stdout
    assert "REPRODUCED      size.bert.parameters" in stdout


def test_every_registry_claim_is_in_results_and_html(claims_run):
    run_dir, _ = claims_run
    entries = {e["id"]: e for e in json.loads((run_dir / results_module.RESULTS_FILE).read_text())["claims"]}
    html_text = (run_dir / "report.html").read_text()
    for claim in REGISTRY.claims:
        assert claim.id in entries and f'id="{claim.id}"' in html_text, claim.id
    for claim in REGISTRY.claims:
        if claim.marker == "slow":
            assert entries[claim.id]["verdict"] == "skipped"
            assert "needs --run-slow" in entries[claim.id]["message"] and "-m 'size or paper'" in entries[claim.id]["message"]


def test_collect_only_makes_no_run_directory(tmp_path, repo_root):
    done = subprocess.run([sys.executable, "-m", "pytest", "claims/test_paper.py", "--collect-only", "-q", "--report-dir",
                           str(tmp_path / "run"), "-p", "no:cacheprovider"], cwd=repo_root, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-2000:]
    assert not (tmp_path / "run").exists()


# --- pytest-benchmark's JSON goes into the run directory ------------------------------------------------


def test_benchmark_json_goes_into_the_run_directory_only_when_something_was_timed(pytester):
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    pytester.makepyfile(test_timed="def test_timed(benchmark):\n    benchmark(sum, range(100))\n",
                        test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess("--report-dir", str(pytester.path / "timed"), "-p", "no:cacheprovider",
                                           "--benchmark-max-time=0.01", "--benchmark-min-rounds=1", "--benchmark-warmup=off")
    result.assert_outcomes(passed=2)
    timed = json.loads((pytester.path / "timed" / "benchmark.json").read_text())
    assert [b["name"] for b in timed["benchmarks"]] == ["test_timed"]
    result = pytester.runpytest_subprocess("test_plain.py", "--report-dir", str(pytester.path / "plain"), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "plain" / "benchmark.json").exists()
    assert "Not saving anything" not in result.stdout.str() and "Not saving anything" not in result.stderr.str()


# --- in a real browser ----------------------------------------------------------------------------------

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
BROWSER_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars")


@pytest.fixture(scope="module")
def browser():
    found = next((path for path in map(shutil.which, BROWSERS) if path), None)
    if found is None:
        pytest.skip("no headless browser installed (Debian: apt-get install -y chromium)")
    return found


def _browse(browser: str, page: Path, *action: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([browser, *BROWSER_FLAGS, f"--user-data-dir={profile}", *action, page.as_uri()],
                              capture_output=True, text=True, timeout=120)


def test_the_report_renders_in_headless_chromium(browser, claims_run, tmp_path):
    run_dir, _ = claims_run
    shot = tmp_path / "report.png"
    done = _browse(browser, run_dir / "report.html", f"--screenshot={shot}", "--window-size=1400,2400")
    assert shot.is_file(), done.stderr[-2000:]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 2400)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # text, table shading and a plot, not a blank page
    white = max(count for count, colour in colours if colour == (255, 255, 255)) if (255, 255, 255) in {c for _, c in colours} else 0
    assert white < 0.97 * image.size[0] * image.size[1]


def test_the_browser_dom_holds_every_claim(browser, claims_run):
    run_dir, _ = claims_run
    done = _browse(browser, run_dir / "report.html", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("<img") == len(PLOT_FILES)
    for claim in REGISTRY.claims:
        assert f'id="{claim.id}"' in done.stdout, claim.id


# --- intervals, paired comparisons, not judged, the paper's checks apart -------------------------------


def test_the_report_shows_intervals_paired_comparisons_not_judged_and_the_paper_checks_apart(tmp_path):
    from harness.judge.uncertainty import Uncertainty

    comparisons = {"tasks": {"rte": {"metric": "accuracy", "difference": 9.4,
                                     "paired_bootstrap": {"sd": 2.1, "interval": [5.2, 13.5], "resamples": 1000},
                                     "mcnemar": [{"seeds": [42, 42], "first_only": 40, "second_only": 14, "examples": 277,
                                                  "p_value": 0.0005}]}}}
    noise = Uncertainty((95.1, 98.3), (-1.9, 1.3), 3.2, True, "2 cells: the spread of the run's 3 valid seeds",
                        {"valid": 6, "invalid": 1, "runs": [{"cell": "bert rte", "seed": 44, "valid": False,
                                                            "reason": "no better than a constant predictor"}]},
                        {"sd": 0.4, "interval": [95.9, 97.5], "resamples": 1000}, comparisons, equivalence=(-0.9, 0.4))
    retention = REGISTRY.get("retention.with_wnli")
    quick = REGISTRY.get("glue.sst2.bert")
    arithmetic = REGISTRY.get("paper.table1.retention_is_97_percent")
    run = document([
        results_module.ClaimResult(retention, "n::r", judge(retention, 96.7, noise), outcome="passed"),
        results_module.ClaimResult(quick, "n::q", judge(quick, 85.0, not_judged="quick protocol 'minilm-cpu'"),
                                   outcome="passed"),
        results_module.ClaimResult(arithmetic, "n::a", judge(arithmetic, 96.86), outcome="passed"),
    ])
    assert run.summary == {"not judged": 1, "reproduced": 1, "skipped": len(REGISTRY.claims) - 3 - 5}
    assert run.paper_checks == {"holds": 1, "skipped": 5}
    results_module.write(tmp_path, run)
    report.render(tmp_path)
    text = (tmp_path / "report.md").read_text()
    assert "Checks of the paper's own arithmetic (not claims, not counted above): 1 holds, 5 skipped." in text
    assert "Not judged: 1 claim was measured by a quick run" in text and "quick protocol 'minilm-cpu'" in text
    paired = report_sections.comparisons_section(results_module.read(tmp_path)).table.iloc[0]
    assert paired["paired bootstrap 95%"] == "[5.2, 13.5]" and paired["McNemar (seed: BERT only / DistilBERT only, p)"] == \
        "42: 40 / 14, p 0.0005"
    rows = report_sections.table1(results_module.read(tmp_path))[1].table.set_index("claim")
    assert rows.loc["retention.with_wnli", "95% interval"] == "[95.1, 98.3]"
    assert rows.loc["retention.with_wnli", "seeds"] == "6 valid, 1 invalid"
