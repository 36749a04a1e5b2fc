"""A run's report files: report.md, report.html (one self-contained file) and the PNG plots.

Built from results.json alone, read (typed) by harness.reporting.results: harness.reporting.sections
says what the report contains, plots and speed_plots draw the figures; this module writes the files
and is the `python -m harness report RUN_DIR` command, which rebuilds a report without running
anything. The HTML has its CSS inline and its images as base64 data URIs, with no script and no
external link, so it can be mailed or archived as one file.
"""

from __future__ import annotations

import argparse
import base64
import html
import re
from pathlib import Path

import pandas as pd

from harness.files import atomic_write_bytes, atomic_write_text
from harness.judge.verdict import Status
from harness.reporting import plots, speed_plots
from harness.reporting import results as results_module
from harness.reporting.results import RunResults
from harness.reporting.sections import Section, claim_record, counts, sections

REPORT_MD = "report.md"
REPORT_HTML = "report.html"


def _md_table(table: pd.DataFrame) -> str:
    clean = table.map(lambda cell: str(cell).replace("|", "\\|").replace("\n", " "))
    return clean.to_markdown(index=False, disable_numparse=True)


def to_markdown(run: RunResults, parts: list[Section]) -> str:
    lines = ["# DistilBERT claims report", ""]
    for section in parts:
        lines += [f"## {section.title}", ""]
        lines += [line for paragraph in section.paragraphs for line in (paragraph, "")]
        if section.table is not None and not section.table.empty:
            lines += [_md_table(section.table), ""]
        lines += [line for image in section.images for line in (f"![{section.title}]({image})", "")]
    lines += ["## Every claim in full", ""]
    for result in run.claims:
        lines += [f"### {result.claim.id}", ""]
        for label, text in claim_record(result):
            lines += [f"- {label}:", "", "```", text, "```", ""] if label == "details" else [f"- {label}: {text}"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


VERDICT_STYLE = {  # each verdict's colour, in the tables and the badges
    Status.REPRODUCED: "background:#d4f4d4!important;font-weight:600",
    Status.NOT_REPRODUCED: "background:#f8d0d0!important;font-weight:600",
    Status.INCONCLUSIVE: "background:#fbeec0!important",
    Status.SKIPPED: "background:#e6e6e6!important;color:#555",
    Status.ERROR: "background:#f0b0f0!important;font-weight:600",
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
            data = base64.b64encode(images[image]).decode("ascii")
            body.append(f'<img alt="{html.escape(section.title)}" src="data:image/png;base64,{data}">')
    body.append("<h2>Every claim in full</h2>")
    for result in run.claims:
        fields = "".join(f"<dt>{label}</dt><dd><pre>{html.escape(text)}</pre></dd>" if label == "details"
                         else f"<dt>{label}</dt><dd>{html.escape(text)}</dd>" for label, text in claim_record(result))
        claim_id = html.escape(result.claim.id)
        body.append(f'<details id="{claim_id}"><summary>{claim_id}: {html.escape(result.verdict.status.value)}</summary>'
                    f"<dl>{fields}</dl></details>")
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>DistilBERT claims report</title>'
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def render(run_dir: str | Path) -> list[Path]:
    """Write report.md, report.html and the plots of the run directory's results.json beside it; return their paths."""
    run_dir = Path(run_dir)
    run = results_module.read(run_dir)
    images = plots.render_all(run) | speed_plots.render_all(run)
    parts = sections(run)
    written = []
    for name, data in images.items():
        atomic_write_bytes(run_dir / name, data)
        written.append(run_dir / name)
    atomic_write_text(run_dir / REPORT_MD, to_markdown(run, parts))
    atomic_write_text(run_dir / REPORT_HTML, to_html(run, parts, images))
    return [run_dir / REPORT_MD, run_dir / REPORT_HTML, *written]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", nargs="?", default="reports/latest", metavar="RUN_DIR",
                        help="a run directory holding results.json (written by a claims run)")


def run(args: argparse.Namespace) -> int:
    for path in render(args.run_dir):
        print(path)
    return 0
