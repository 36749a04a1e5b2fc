"""A run's report files: report.md, report.html (one self-contained file) and the PNG plots.

Built from results.json alone, read (typed) by harness.reporting.results: harness.reporting.sections
says what the report contains, plots and speed_plots draw the figures; this module writes the files
and is the `python -m harness report RUN_DIR` command, which rebuilds a report without running
anything. The HTML has its CSS inline and its images as base64 data URIs, with no script and no
external link, so it can be mailed or archived as one file.

Every value read from results.json is text to show, never markup: the HTML escapes it (element text and
attributes), the Markdown escapes it (`markdown_text`: the characters that start markup, line breaks and
block markers; code fences longer than any run of backticks inside), figure file names keep only safe
characters (a claim id names a speed claim's figure), and matplotlib does not parse `$...$` in labels.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import matplotlib
import pandas as pd

from harness.files import atomic_write_bytes, atomic_write_text, digest
from harness.judge.verdict import Status
from harness.reporting import plots, speed_plots
from harness.reporting import results as results_module
from harness.reporting.results import RunResults
from harness.reporting.sections import Section, claim_record, counts, sections

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
MAX_FILE_NAME = 120  # characters of a figure's file name (file systems allow 255 bytes, with room for a temporary suffix)
LINE_BREAK = re.compile(r"\r\n|\r|\n")  # CommonMark's line endings
MARKUP = re.compile(r"([\\`*<>\[\]|&])")  # what starts markup or an entity inside a line (`_` is literal inside words)
BLOCK_START = re.compile(r"^[!-/:-@\[\]-`{-~]")  # ASCII punctuation but the backslash: what may open a block (#, -, ~, ...)


def markdown_text(value: object) -> str:
    """A value as inline Markdown that shows as written: one line, the characters that start markup escaped."""
    return MARKUP.sub(r"\\\1", " ".join(LINE_BREAK.split(str(value))).strip())


def markdown_paragraph(value: object) -> str:
    """markdown_text that cannot open a block either (a heading, a list, a fence, a rule): its first mark escaped."""
    text = markdown_text(value)
    text = re.sub(r"^(\d+)([.)])(?=\s|$)", r"\1\\\2", text, count=1)  # "1. " would start a numbered list
    return BLOCK_START.sub(lambda mark: "\\" + mark[0], text, count=1)


def _code_block(text: str) -> list[str]:
    """Text in a fenced code block whose fence no run of backticks in the text can close."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return [fence, text, fence]


def file_name(name: str) -> str:
    """A figure's name as a plain file of the run directory: no folder, no leading dot, only [A-Za-z0-9._-], and short
    enough for any file system (a long one keeps its start, a digest of the whole and its suffix)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "_"
    if len(safe) <= MAX_FILE_NAME:
        return safe
    suffix = Path(safe).suffix if len(Path(safe).suffix) <= 8 else ""
    return f"{safe[:MAX_FILE_NAME // 2]}-{digest(name)[:16]}{suffix}"


def _md_table(table: pd.DataFrame) -> str:
    clean = table.map(markdown_text)
    clean.columns = [markdown_text(column) for column in table.columns]
    return clean.to_markdown(index=False, disable_numparse=True)


def to_markdown(run: RunResults, parts: list[Section]) -> str:
    lines = ["# DistilBERT claims report", ""]
    for section in parts:
        lines += [f"## {markdown_text(section.title)}", ""]
        lines += [line for paragraph in section.paragraphs for line in (markdown_paragraph(paragraph), "")]
        if section.table is not None and not section.table.empty:
            lines += [_md_table(section.table), ""]
        lines += [line for image in section.images for line in (f"![{markdown_text(section.title)}]({file_name(image)})", "")]
    lines += ["## Every claim in full", ""]
    for result in run.claims:
        lines += [f"### {markdown_text(result.claim.id)}", ""]
        for label, text in claim_record(result):
            lines += ([f"- {label}:", "", *_code_block(text), ""] if label == "details"
                      else [f"- {label}: {markdown_text(text)}"])
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


VERDICT_STYLE = {  # each verdict's colour, in the tables and the badges
    Status.REPRODUCED: "background:#d4f4d4!important;font-weight:600",
    Status.NOT_REPRODUCED: "background:#f8d0d0!important;font-weight:600",
    Status.INCONCLUSIVE: "background:#fbeec0!important",
    Status.SKIPPED: "background:#e6e6e6!important;color:#555",
    Status.ERROR: "background:#f0b0f0!important;font-weight:600",
    Status.NOT_JUDGED: "background:#dfe8f7!important;color:#234",
}


def _css_class(status: Status) -> str:
    return f"v-{status.value.replace(' ', '-')}"


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:2em auto;max-width:1300px;
color:#222;padding:0 1em;line-height:1.4}
h1{border-bottom:3px solid #444}h2{margin-top:2em;border-bottom:1px solid #bbb}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.85em}th,td{border:1px solid #ccc;padding:3px 7px;
text-align:left;vertical-align:top}th{background:#eee}tr:nth-child(even) td{background:#fafafa}
img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}
details{margin:0.3em 0}summary{cursor:pointer}
pre{background:#f4f4f4;padding:0.5em;white-space:pre-wrap;overflow-wrap:anywhere;font-size:0.8em}
.badge{display:inline-block;padding:2px 8px;border-radius:4px;margin-right:6px}
""" + "".join(f".{_css_class(status)}{{{style}}}\n" for status, style in VERDICT_STYLE.items())


def _html_table(table: pd.DataFrame) -> str:
    text = table.to_html(index=False, escape=True, border=0)
    pattern = "|".join(re.escape(status.value) for status in Status)
    return re.sub(f"<td>({pattern})</td>", lambda m: f'<td class="{_css_class(Status(m.group(1)))}">{m.group(1)}</td>', text)


def to_html(run: RunResults, parts: list[Section], images: dict[str, bytes]) -> str:
    badges = "".join(f'<span class="badge {_css_class(status)}">{n} {html.escape(status.value)}</span>'
                     for status, n in counts(run.claims).items() if n)
    body = [f"<h1>DistilBERT claims report</h1><p>{badges}</p>"]
    for section in parts:
        body.append(f"<h2>{html.escape(section.title)}</h2>")
        body += [f"<p>{html.escape(paragraph)}</p>" for paragraph in section.paragraphs]
        if section.table is not None and not section.table.empty:
            body.append(_html_table(section.table))
        for image in section.images:
            data = base64.b64encode(images.get(file_name(image), images.get(image, b""))).decode("ascii")
            body.append(f'<img alt="{html.escape(section.title)}" src="data:image/png;base64,{data}">')
    body.append("<h2>Every claim in full</h2>")
    for result in run.claims:
        fields = "".join(f"<dt>{html.escape(label)}</dt><dd><pre>{html.escape(text)}</pre></dd>" if label == "details"
                         else f"<dt>{html.escape(label)}</dt><dd>{html.escape(text)}</dd>"
                         for label, text in claim_record(result))
        claim_id = html.escape(result.claim.id)
        body.append(f'<details id="{html.escape(html_id(result.claim.id))}"><summary>{claim_id}: '
                    f"{html.escape(result.verdict.status.value)}</summary><dl>{fields}</dl></details>")
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>DistilBERT claims report</title>'
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def html_id(text: str) -> str:
    """An HTML id for a claim id (ids hold no whitespace); the caller escapes it for the attribute."""
    return re.sub(r"\s", "_", text) or "_"


def render(run_dir: str | Path) -> list[Path]:
    """Write report.md, report.html and the plots of a run's results.json beside it; return their paths.

    `run_dir` is the run directory or its results.json."""
    path = Path(run_dir)
    run = results_module.read(path)
    run_dir = path.parent if path.is_file() else path
    with matplotlib.rc_context({"text.parse_math": False}):  # a `$` in a claim id or model is text, not TeX
        drawn = plots.render_all(run) | speed_plots.render_all(run)
    images = {file_name(name): data for name, data in drawn.items()}
    parts = sections(run)
    written = []
    for name, data in images.items():
        atomic_write_bytes(run_dir / name, data)
        written.append(run_dir / name)
    atomic_write_text(run_dir / REPORT_MD, to_markdown(run, parts))
    atomic_write_text(run_dir / REPORT_HTML, to_html(run, parts, images))
    return [run_dir / REPORT_MD, run_dir / REPORT_HTML, *written]
