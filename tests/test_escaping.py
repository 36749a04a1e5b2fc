"""A crafted results.json cannot put markup into the report: hostile text in every field shows as text.

For each field of a claim's entry (every entry at once) and each top-level key of results.json, every string
(and every mapping key, and every number) under it is replaced by HOSTILE: a script, an attribute break-out,
an event handler, a Markdown heading, table pipes, a code fence, a javascript link, a remote image, an
entity, TeX and a path out of the folder. The report is built from it (harness.reporting.report) and read
back: report.html through an HTML parser, report.md through a CommonMark renderer (markdown-it-py, with
tables), and each must hold only the report's own tags and attributes (no script, no event handler, no
link, no image but the embedded or local figures), the same number of claim sections, and, for the fields
the report shows, HOSTILE as plain text. One full render with every field hostile draws the plots too
(matplotlib must not read `$...$` as TeX) and writes nothing outside the run directory.
"""

from __future__ import annotations

import copy
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from sample_results import sample_results_document

from harness.errors import ClaimsError
from harness.reporting import report
from harness.reporting import results as results_module
from harness.reporting.sections import sections

HOSTILE = ("<script>alert(1)</script>\" onmouseover=\"alert(2)' ><img src=x onerror=alert(3)>\n# injected heading\n"
           "| x | y |\n```\n~~~\n[link](javascript:alert(4)) ![image](http://example.com/x.png) <http://example.com> "
           "&lt;b&gt; $\\frac{x}$ ../../escape *em* \\")
SHOWN_AS_TEXT = "<script>alert(1)</script>"  # what a reader must see wherever HOSTILE is shown

# The report's own markup: what may appear in report.html, and in report.md once rendered.
HTML_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "span", "table", "thead", "tbody", "tr",
             "th", "td", "img", "details", "summary", "dl", "dt", "dd", "pre"}
MARKDOWN_TAGS = {"h1", "h2", "h3", "p", "ul", "li", "table", "thead", "tbody", "tr", "th", "td", "pre", "code", "img",
                 "em", "strong"}
COMMONMARK = MarkdownIt("commonmark").enable("table")  # raw HTML allowed, as most renderers of .md files do
ATTRIBUTES = {"lang", "charset", "class", "style", "alt", "src", "id", "border"}
# The claim fields the report shows (the others are checked for safety only: nodeid, outcome, version, ...).
SHOWN_FIELDS = {"id", "statement", "source", "metric", "metric_reason", "tolerance_reason", "known_discrepancy",
                "out_of_scope", "notes", "message", "details", "family", "environment", "options", "references"}


DOCUMENT = sample_results_document()
CLAIM_FIELDS = sorted({key for entry in DOCUMENT["claims"] for key in entry})
TOP_FIELDS = sorted(key for key in DOCUMENT if key not in ("claims", "schema_version"))


def hostile(node: Any) -> Any:
    """Every string, number and mapping key under `node` replaced by HOSTILE (a mapping also gains a HOSTILE key)."""
    if isinstance(node, dict):
        return {**{key: hostile(value) for key, value in node.items()}, HOSTILE: HOSTILE}
    if isinstance(node, list):
        return [hostile(item) for item in node] or [HOSTILE]
    return HOSTILE if node is None or isinstance(node, (str, int, float)) else node


def with_hostile(field: str) -> dict[str, Any]:
    document = copy.deepcopy(DOCUMENT)
    if field in TOP_FIELDS:
        document[field] = hostile(document[field])
    else:
        for entry in document["claims"]:
            entry[field] = hostile(entry.get(field))
    return document


class Page(HTMLParser):
    """The tags, attributes and text of a page."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += [(name, value or "") for name, value in attrs]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_page(page: Page, allowed_tags: set[str], local_images: bool) -> None:
    """Only the report's own tags and attributes; images embedded (HTML) or the run's own figure files (Markdown)."""
    assert set(page.tags) <= allowed_tags, set(page.tags) - allowed_tags
    assert {name for name, _ in page.attributes} <= ATTRIBUTES, page.attributes
    for name, value in page.attributes:
        if name == "src":
            assert value.startswith("data:image/png;base64,") or local_images and value == report.file_name(value), value
        if name == "style":  # pandas' table header; a Markdown table's column alignment
            assert value in ("text-align: right;", "text-align:left", "text-align:right", "text-align:center"), value


def render_both(document: dict[str, Any], tmp_path: Path) -> tuple[str, str, int]:
    """report.md and report.html from the document (no plots), and the number of claims read."""
    (tmp_path / results_module.RESULTS_FILE).write_text(json.dumps(document), encoding="utf-8")
    run = results_module.read(tmp_path)
    parts = sections(run)
    images = {report.file_name(image): b"" for part in parts for image in part.images}
    return report.to_markdown(run, parts), report.to_html(run, parts, images), len(run.claims)


@pytest.mark.parametrize("field", [*CLAIM_FIELDS, *TOP_FIELDS])
def test_hostile_text_in_a_field_shows_as_text(field, tmp_path):
    document = with_hostile(field)
    try:
        markdown, html_page, claims = render_both(document, tmp_path)
    except ClaimsError as error:  # a field the reader checks (the verdict): refused in one line, nothing rendered
        assert "\n" not in error.what, error.what
        assert field in ("verdict", "kind"), f"{field}: {error.what}"
        return
    page = Page(html_page)
    check_page(page, HTML_TAGS, local_images=False)
    assert page.tags.count("details") == claims and page.tags.count("style") == 1
    rendered = Page(COMMONMARK.render(markdown))
    check_page(rendered, MARKDOWN_TAGS, local_images=True)
    assert rendered.tags.count("h3") == claims, "a claim's heading was broken or one was injected"
    if field in SHOWN_FIELDS:
        assert SHOWN_AS_TEXT in "".join(page.text), f"{field} is not shown in the HTML"
        assert SHOWN_AS_TEXT in "".join(rendered.text), f"{field} is not shown in the Markdown"


def test_ids_and_figure_names_cannot_leave_their_place():
    assert report.file_name("speed_../../etc/x.png") == "speed_.._.._etc_x.png"
    assert report.file_name("..") == "_" and report.file_name(".hidden.png") == "hidden.png"
    assert report.html_id('a b"<c>') == 'a_b"<c>'  # then escaped where it is written: html.escape
    assert report.markdown_paragraph("# not a heading") == "\\# not a heading"
    assert report.markdown_paragraph("1. not a list") == "1\\. not a list"
    assert report.markdown_paragraph("109.5 stays a number") == "109.5 stays a number"


@pytest.mark.filterwarnings("ignore:constrained_layout not applied:UserWarning")  # the labels are HOSTILE-long
def test_a_fully_hostile_results_json_renders_plots_and_stays_in_its_folder(tmp_path):
    document = copy.deepcopy(DOCUMENT)
    for entry in document["claims"]:
        for field in ("id", "model", "task", "statement", "message", "family"):
            if field == "family" and entry[field] in ("speed", "size", "glue"):
                continue  # keep the families whose plots would otherwise be empty
            entry[field] = HOSTILE if field != "id" else f"{entry['id']}{HOSTILE}"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / results_module.RESULTS_FILE).write_text(json.dumps(document), encoding="utf-8")
    written = report.render(run_dir)
    assert all(path.parent == run_dir for path in written), written
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]  # nothing written beside the folder
    assert [p for p in run_dir.iterdir() if p.is_dir()] == []
    speed_figure = [p.name for p in written if p.name.startswith("speed_")]
    assert len(speed_figure) == 1 and speed_figure[0] == report.file_name(speed_figure[0])
    page = Page((run_dir / report.REPORT_HTML).read_text(encoding="utf-8"))
    check_page(page, HTML_TAGS, local_images=False)
    assert SHOWN_AS_TEXT in "".join(page.text)
