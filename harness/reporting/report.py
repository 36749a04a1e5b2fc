"""A run's report files: report.md, report.html (one self-contained file) and the PNG plots.

Built from results.json alone (harness.report_sections says what the report contains, harness.plots
draws the figures); this module writes them and is the `python -m harness report RUN_DIR` command,
which rebuilds a report without running anything. The HTML has its CSS inline and its images as
base64 data URIs, with no script and no external link, so it can be mailed or archived as one file.
"""

from __future__ import annotations

import argparse
import base64
import html
import re
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import ClaimsError
from harness.files import atomic_write_bytes, atomic_write_text
from harness.reporting import plots
from harness.reporting import results as results_module
from harness.reporting.sections import VERDICTS, Section, claim_record, counts, sections

REPORT_MD = "report.md"
REPORT_HTML = "report.html"


def load(run_dir: str | Path) -> dict[str, Any]:
    """Read a run's results.json and check every claim entry has the keys the report needs."""
    document = results_module.read(run_dir)
    for index, entry in enumerate(document["claims"]):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not isinstance(entry.get("verdict"), str):
            raise ClaimsError(f"{run_dir}: results.json claims[{index}] lacks a string 'id' or 'verdict'",
                              "rerun the claims to write it again (results.json is written by the suite, not by hand)")
    for key, kind in (("environment", dict), ("options", dict), ("references", list)):
        if not isinstance(document.get(key, kind()), kind):
            raise ClaimsError(f"{run_dir}: results.json '{key}' is not a {kind.__name__}", "rerun the claims to write it again")
    return document


def _md_table(table: pd.DataFrame) -> str:
    clean = table.map(lambda cell: str(cell).replace("|", "\\|").replace("\n", " "))
    return clean.to_markdown(index=False, disable_numparse=True)


def to_markdown(document: dict[str, Any], parts: list[Section]) -> str:
    lines = ["# DistilBERT claims report", ""]
    for section in parts:
        lines += [f"## {section.title}", ""]
        lines += [line for paragraph in section.paragraphs for line in (paragraph, "")]
        if section.table is not None and not section.table.empty:
            lines += [_md_table(section.table), ""]
        lines += [line for image in section.images for line in (f"![{section.title}]({image})", "")]
    lines += ["## Every claim in full", ""]
    for entry in document["claims"]:
        lines += [f"### {entry['id']}", ""]
        for label, text in claim_record(entry):
            lines += [f"- {label}:", "", "```", text, "```", ""] if label == "details" else [f"- {label}: {text}"]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:2em auto;max-width:1300px;
color:#222;padding:0 1em;line-height:1.4}
h1{border-bottom:3px solid #444}h2{margin-top:2em;border-bottom:1px solid #bbb}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.85em}th,td{border:1px solid #ccc;padding:3px 7px;
text-align:left;vertical-align:top}th{background:#eee}tr:nth-child(even) td{background:#fafafa}
.v-reproduced{background:#d4f4d4!important;font-weight:600}.v-not-reproduced{background:#f8d0d0!important;
font-weight:600}.v-inconclusive{background:#fbeec0!important}.v-skipped{background:#e6e6e6!important;color:#555}
.v-error{background:#f0b0f0!important;font-weight:600}img{max-width:100%;border:1px solid #ddd;margin:0.5em 0}
details{margin:0.3em 0}summary{cursor:pointer}pre{background:#f4f4f4;padding:0.5em;white-space:pre-wrap;overflow-wrap:anywhere;font-size:0.8em}
.badge{display:inline-block;padding:2px 8px;border-radius:4px;margin-right:6px}
"""


def _html_table(table: pd.DataFrame) -> str:
    text = table.to_html(index=False, escape=True, border=0)
    pattern = "|".join(re.escape(v) for v in VERDICTS)
    return re.sub(f"<td>({pattern})</td>", lambda m: f'<td class="v-{m.group(1).replace(" ", "-")}">{m.group(1)}</td>', text)


def to_html(document: dict[str, Any], parts: list[Section], images: dict[str, bytes]) -> str:
    badges = "".join(f'<span class="badge v-{v.replace(" ", "-")}">{n} {html.escape(v)}</span>'
                     for v, n in counts(document["claims"]).items() if n)
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
    for entry in document["claims"]:
        record = "".join(f"<dt>{label}</dt><dd><pre>{html.escape(text)}</pre></dd>" if label == "details"
                         else f"<dt>{label}</dt><dd>{html.escape(text)}</dd>" for label, text in claim_record(entry))
        body.append(f'<details id="{html.escape(entry["id"])}"><summary>{html.escape(entry["id"])}: '
                    f"{html.escape(str(entry.get('verdict')))}</summary><dl>{record}</dl></details>")
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>DistilBERT claims report</title>'
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def render(run_dir: str | Path, document: dict[str, Any] | None = None) -> list[Path]:
    """Write report.md, report.html and the plots into the run directory; return their paths."""
    run_dir = Path(run_dir)
    document = load(run_dir) if document is None else document
    images = plots.render_all(document)
    parts = sections(document)
    written = []
    for name, data in images.items():
        atomic_write_bytes(run_dir / name, data)
        written.append(run_dir / name)
    atomic_write_text(run_dir / REPORT_MD, to_markdown(document, parts))
    atomic_write_text(run_dir / REPORT_HTML, to_html(document, parts, images))
    return [run_dir / REPORT_MD, run_dir / REPORT_HTML, *written]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", nargs="?", default="reports/latest", metavar="RUN_DIR",
                        help="a run directory holding results.json (written by a claims run)")


def run(args: argparse.Namespace) -> int:
    for path in render(args.run_dir):
        print(path)
    return 0
