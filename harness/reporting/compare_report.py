"""A comparison of runs (harness.reporting.compare) in words: the terminal's lines, compare.md and compare.html.

The same sections in each: the runs; one row per claim (each run's value with its 95% interval, seeds and verdict;
each later run's difference from the first and whether it is beyond their noise, with the noise used, or why the two
cannot be compared); the speed claims (ratio against ratio, with both intervals, and each model's seconds); what
differs between the runs' settings; the regressions. compare.html is one self-contained file with the one figure
(harness.reporting.compare_plots) embedded. Every value read from a results.json is text, never markup: escaped as
harness.reporting.report escapes a run's report (its markdown_text, and HTML escaping of every cell and paragraph).
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import matplotlib
import pandas as pd

from harness.files import atomic_write_bytes, atomic_write_text
from harness.judge.verdict import fmt_interval
from harness.reporting.compare import Comparison, Row
from harness.reporting.compare_plots import figure
from harness.reporting.report import STYLE, _html_table, _md_table, markdown_paragraph, markdown_text
from harness.reporting.results import ClaimResult

COMPARE_MD, COMPARE_HTML, COMPARE_PNG = "compare.md", "compare.html", "compare.png"


def value_text(result: ClaimResult | None) -> str:
    """A run's value of a claim: measured, its 95% interval and the seeds behind it; or why there is none."""
    if result is None:
        return "not in this run's results"
    verdict = result.verdict
    if verdict.measured is None:
        return "not measured"
    text = f"{verdict.measured:.4g}" + (f" {result.claim.unit}" if result.claim.unit else "")
    if verdict.interval is not None:
        text += f" {fmt_interval(verdict.interval)}"
    seeds = verdict.uncertainty.seeds if verdict.uncertainty else {}
    if seeds.get("valid") is not None:
        invalid = seeds.get("invalid") or 0
        text += f"; {seeds['valid']} seed{'s' if seeds['valid'] != 1 else ''}" + (f" ({invalid} invalid)" if invalid else "")
    return text


def verdict_text(result: ClaimResult | None) -> str:
    return "–" if result is None else result.verdict.status.value


def claims_table(comparison: Comparison) -> pd.DataFrame:
    labels = [run.label for run in comparison.runs]
    records = []
    for row in comparison.rows:
        reference = next(r for r in row.results if r is not None)
        record = {"claim": row.claim_id, "paper": _paper(reference)}
        for label, result in zip(labels, row.results, strict=True):
            record[f"{label}: value [95% interval]; seeds"] = value_text(result)
            record[f"{label}: verdict"] = verdict_text(result)
        for label, change in zip(labels[1:], row.differences, strict=True):
            record[f"{label} - {labels[0]}"] = change.reading(row.unit)
        records.append(record)
    return pd.DataFrame(records)


def _paper(result: ClaimResult) -> str:
    paper, unit = result.verdict.paper_value, result.claim.unit or ""
    if paper is None:
        return "–"
    band = result.claim.tolerance.describe() if result.claim.tolerance else ""
    return f"{paper:g} {unit}".strip() + (f" ({band})" if band else "")


def speed_lines(comparison: Comparison) -> list[str]:
    """Each speed claim: every run's ratio with its interval and each model's seconds, then ratio against ratio."""
    lines = []
    first = comparison.runs[0].label
    for row in comparison.rows:
        if _family(row) != "speed":
            continue
        for run, result in zip(comparison.runs, row.results, strict=True):
            if result is None or result.verdict.measured is None:
                continue
            details, seconds = result.details, result.seconds
            text = f"{row.claim_id}, run {run.label}: ratio {value_text(result)}"
            if seconds:
                text += "; " + ", ".join(f"{model} {value:.4g} s" for model, value in seconds.items())
            text += "".join(f"; {details[key]} {name}{'s' if details[key] != 1 else ''}"
                            for key, name in (("threads", "thread"), ("pairs", "pair")) if details.get(key) is not None)
            lines.append(text)
        for run, result, change in zip(comparison.runs[1:], row.results[1:], row.differences, strict=True):
            a = row.results[0]
            if change.not_compared and change.not_compared.startswith("measured in"):
                continue
            ratios = " vs ".join(value_text(r) if r is not None else "–" for r in (a, result))
            lines.append(f"{row.claim_id}, run {run.label} against run {first}: {ratios}: {change.reading('x')}")
    return lines


def _family(row: Row) -> str:
    return next(r.claim.family for r in row.results if r is not None)


def settings_table(comparison: Comparison) -> pd.DataFrame:
    return pd.DataFrame([{"setting": name, **{f"run {run.label}": value for run, value in zip(comparison.runs, values,
                                                                                               strict=True)}}
                         for name, values in comparison.settings])


def summary(comparison: Comparison) -> list[str]:
    """The opening paragraphs: the runs, what was compared, the regressions."""
    runs = [f"run {run.label}: {run.path} (created {run.results.created or 'unknown'}, git commit "
            f"{run.results.environment.get('git_commit') or 'not recorded'})" for run in comparison.runs]
    compared = sum(1 for row in comparison.rows for change in row.differences if not change.not_compared)
    beyond = sum(1 for row in comparison.rows for change in row.differences if change.beyond)
    lost = comparison.regressions
    return [*runs, f"{_count(len(comparison.rows), 'claim')} measured in at least one run ({comparison.unmeasured} in none, "
            f"not shown); {_count(compared, 'difference')} compared with the noise, {beyond} beyond it; "
            f"{_count(len(lost), 'regression')} (a claim reproduced in run {comparison.runs[0].label} and lost later)"]


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def terminal(comparison: Comparison) -> str:
    """What `python -m harness compare` prints: every part, one line each (control characters made visible)."""
    labels = [run.label for run in comparison.runs]
    lines = [*summary(comparison), ""]
    for row in comparison.rows:
        lines.append(f"{row.claim_id}: paper {_paper(next(r for r in row.results if r is not None))}")
        lines += [f"  {label}  {value_text(r)}  {verdict_text(r)}" for label, r in zip(labels, row.results, strict=True)]
        lines += [f"  {label} - {labels[0]}: {change.reading(row.unit)}" for label, change in zip(labels[1:], row.differences,
                                                                                                  strict=True)]
    speed = speed_lines(comparison)
    lines += ["", "speed:", *[f"  {line}" for line in speed]] if speed else []
    lines += ["", f"settings that differ ({comparison.alike} alike):"]
    lines += [f"  {name}: " + " | ".join(f"{label} {value}" for label, value in zip(labels, values, strict=True))
              for name, values in comparison.settings] or ["  none"]
    lines += ["", "regressions:", *[f"  REGRESSION  {line}" for line in comparison.regressions]] if comparison.regressions else []
    return "\n".join("".join(c if c.isprintable() else repr(c)[1:-1] for c in line) for line in lines) + "\n"


def to_markdown(comparison: Comparison) -> str:
    lines = ["# DistilBERT claims: runs compared", ""]
    lines += [line for paragraph in summary(comparison) for line in (markdown_paragraph(paragraph), "")]
    lines += ["## Claims", "", _md_table(claims_table(comparison)), "", f"![claims compared]({COMPARE_PNG})", ""]
    speed = speed_lines(comparison)
    if speed:
        lines += ["## Speed", "", *[f"- {markdown_text(line)}" for line in speed], ""]
    lines += ["## Settings that differ", "", markdown_paragraph(f"{comparison.alike} settings are alike in every run."), ""]
    if comparison.settings:
        lines += [_md_table(settings_table(comparison)), ""]
    if comparison.regressions:
        lines += ["## Regressions", "", *[f"- {markdown_text(line)}" for line in comparison.regressions], ""]
    return "\n".join(lines).rstrip() + "\n"


def to_html(comparison: Comparison, image: bytes) -> str:
    body = ["<h1>DistilBERT claims: runs compared</h1>"]
    body += [f"<p>{html.escape(paragraph)}</p>" for paragraph in summary(comparison)]
    body += ["<h2>Claims</h2>", _html_table(claims_table(comparison)),
             f'<img alt="claims compared" src="data:image/png;base64,{base64.b64encode(image).decode("ascii")}">']
    speed = speed_lines(comparison)
    if speed:
        body += ["<h2>Speed</h2><ul>", *[f"<li>{html.escape(line)}</li>" for line in speed], "</ul>"]
    body += ["<h2>Settings that differ</h2>", f"<p>{comparison.alike} settings are alike in every run.</p>"]
    if comparison.settings:
        body.append(_html_table(settings_table(comparison)))
    if comparison.regressions:
        body += ["<h2>Regressions</h2><ul>", *[f"<li>{html.escape(line)}</li>" for line in comparison.regressions], "</ul>"]
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>DistilBERT claims: runs compared</title>'
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write(comparison: Comparison, output: Path) -> list[Path]:
    """compare.md, compare.html and compare.png into the output folder; their paths."""
    output.mkdir(parents=True, exist_ok=True)
    labels = [run.label for run in comparison.runs]
    with matplotlib.rc_context({"text.parse_math": False}):  # a `$` in a claim id is text, not TeX
        image = figure([(row.claim_id, row.results) for row in comparison.rows], labels)
    atomic_write_bytes(output / COMPARE_PNG, image)
    atomic_write_text(output / COMPARE_MD, to_markdown(comparison))
    atomic_write_text(output / COMPARE_HTML, to_html(comparison, image))
    return [output / COMPARE_MD, output / COMPARE_HTML, output / COMPARE_PNG]
