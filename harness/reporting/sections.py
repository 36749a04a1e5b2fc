"""What the report says: its sections, each a title, paragraphs, a pandas table and plot names.

The summary, the paper's Tables 1, 2 and 3 beside the measured values (deltas, verdicts, each cell's
metric, ELMo's reference row), the retention, the paper's own inconsistencies, the out-of-scope claims
with reasons, every claim, the metrics and the environment, all read from a results document. Cells
are formatted text, so Markdown and HTML show the same figures. Writing the files is harness.report's job.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from harness.reporting.plots import GLUE_ORDER, MODEL_LABELS, TASK_NAMES, seconds_of, speed_figure_name
from harness.spec.registry import METRICS, TOLERANCE_KINDS, Tolerance

VERDICTS = ("reproduced", "not reproduced", "inconclusive", "skipped", "error")
Entry = dict[str, Any]


@dataclass(frozen=True)
class Section:
    """One titled part of the report: paragraphs, then an optional table, then optional plots."""

    title: str
    paragraphs: tuple[str, ...] = ()
    table: pd.DataFrame | None = None
    images: tuple[str, ...] = ()


def fmt(value: Any) -> str:
    """A number as the report prints it: 4 significant figures; missing values as an en dash."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–" if value is None else str(value)
    if not math.isfinite(value):
        return "–"
    return f"{value:,.0f}" if abs(value) >= 10000 else f"{value:.4g}"


def paper_text(value: Any) -> str:
    """The paper's figure as printed there (89.0 stays 89.0), or an en dash."""
    return str(float(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else "–"


def measured_text(entry: Entry | None) -> str:
    """'measured (Δ delta)' or an en dash."""
    if entry is None or not isinstance(entry.get("measured"), (int, float)):
        return "–"
    delta = entry.get("delta")
    return fmt(entry["measured"]) + (f" (Δ {delta:+.2f})" if isinstance(delta, (int, float)) else "")


def verdict_text(entry: Entry | None) -> str:
    return "–" if entry is None else str(entry.get("verdict"))


def reason_text(entry: Entry) -> str:
    """Why a claim was skipped or errored, or the paper's known discrepancy; empty for a plain verdict."""
    if entry.get("verdict") in ("skipped", "error"):
        return str(entry.get("message", ""))
    if entry.get("known_discrepancy"):
        return f"known discrepancy of the paper: {entry['known_discrepancy']}"
    return ""


def accepted_text(entry: Entry) -> str:
    """The tolerance as the registry states it, and the interval it gives around the paper's value."""
    tolerance = entry.get("tolerance")
    if not isinstance(tolerance, dict):
        return "–"
    low, high = (tolerance.get("interval") or [None, None])[:2]
    kind, value = tolerance.get("kind"), tolerance.get("value")
    valid = kind in TOLERANCE_KINDS and isinstance(value, (int, float))
    described = Tolerance(kind, float(value)).describe() if valid else f"{kind} {value}"
    return f"{described} → [{'-inf' if low is None else fmt(low)}, {'inf' if high is None else fmt(high)}]"


def counts(claims: list[Entry]) -> dict[str, int]:
    """How many claims got each verdict (every verdict listed, zeros included)."""
    tally = {verdict: 0 for verdict in VERDICTS}
    for entry in claims:
        tally[entry["verdict"]] = tally.get(entry["verdict"], 0) + 1
    return tally


def summary_section(document: dict[str, Any]) -> Section:
    claims = document["claims"]
    tally = counts(claims)
    paper = document.get("paper", {})
    options = document.get("options", {})
    paragraphs = [
        f"Paper: {paper.get('authors', '?')}, “{paper.get('title', '?')}”, arXiv:{paper.get('arxiv', '?')} "
        f"{paper.get('version', '')}. Run of {document.get('created', '?')}, git commit "
        f"{document.get('environment', {}).get('git_commit') or 'unknown'}; marker expression "
        f"{options.get('markexpr') or '(none)'}; --run-slow {options.get('run_slow')}.",
        f"{len(claims)} claims: " + ", ".join(f"{n} {verdict}" for verdict, n in tally.items() if n) + ".",
    ]
    if claims and tally["skipped"] == len(claims):
        paragraphs.append("Every claim was skipped in this run: nothing was measured. The reasons are in the table of "
                          "every claim below.")
    if tally["error"]:
        paragraphs.append(f"Claims that ended in an error of the run (no verdict): {tally['error']}; their reasons are below.")
    by_family = pd.crosstab(pd.Series([e.get("family") for e in claims], name="family"),
                            pd.Series([e["verdict"] for e in claims], name="verdict")) if claims else pd.DataFrame()
    table = by_family.reset_index().rename_axis(None, axis=1).astype(str) if claims else None
    return Section("Summary", tuple(paragraphs), table)


def _family(document: dict[str, Any], *families: str) -> list[Entry]:
    return [e for e in document["claims"] if e.get("family") in families]


def _reference(document: dict[str, Any], reference_id: str) -> dict[str, Any]:
    """The values of one reference row of results.json (ELMo's), or {} when absent."""
    for reference in document.get("references", []):
        if isinstance(reference, dict) and reference.get("id") == reference_id:
            return reference.get("values") or {}
    return {}


def _variant(entry: Entry) -> str:
    """bert, distilbert or distilbert_d: the last part of the id (the model column of Tables 1-3)."""
    return str(entry["id"]).rsplit(".", 1)[-1]


def _cells(entry: Entry | None, label: str) -> dict[str, str]:
    """The paper / measured / verdict cells of one claim under a column label."""
    return {f"{label} paper": paper_text(None if entry is None else entry.get("paper_value")),
            f"{label} measured (Δ)": measured_text(entry), f"{label} verdict": verdict_text(entry)}


def _summaries(entries: list[Entry]) -> tuple[str, ...]:
    """Each claim's own one-line account of what it measured (its details' `summary`), where it left one."""
    return tuple(f"{e['id']}: {e['details']['summary']}" for e in entries
                 if isinstance(e.get("details"), dict) and e["details"].get("summary"))


def _claim_rows(entries: list[Entry]) -> pd.DataFrame | None:
    rows = [{"claim": e["id"], "statement": e.get("statement"), "paper": paper_text(e.get("paper_value")),
             "measured (Δ)": measured_text(e), "tolerance → accepted": accepted_text(e), "verdict": verdict_text(e),
             "reason": reason_text(e)} for e in entries]
    return pd.DataFrame(rows) if rows else None


def table1(document: dict[str, Any]) -> list[Section]:
    """Table 1 (GLUE dev, one row per task and the macro score), then the retention claims."""
    cells = {(e.get("task"), e.get("model")): e for e in _family(document, "glue")}
    cells |= {("score", e.get("model")): e for e in _family(document, "macro")}
    elmo = _reference(document, "reference.elmo.table1")
    rows = []
    for task in (*GLUE_ORDER, "score"):
        pair = [cells.get((task, model)) for model in ("bert", "distilbert")]
        metrics = sorted({str(entry.get("metric")) for entry in pair if entry})
        row = {"task": TASK_NAMES.get(task, "Score"), "metric": " / ".join(metrics) or "–", "ELMo (reported)": fmt(elmo.get(task))}
        for model, entry in zip(("bert", "distilbert"), pair, strict=True):
            row |= _cells(entry, MODEL_LABELS[model])
        rows.append(row)
    paragraphs = ("GLUE dev sets; the paper's BERT-base and DistilBERT figures are medians of 5 seeds. Score: the "
                  "unweighted mean of the nine tasks, WNLI included. ELMo's row is the paper's, reported by ELMo's "
                  "authors and never run here. Δ = measured - paper.",
                  *_summaries(_family(document, "glue", "macro")))
    retention = _family(document, "retention")
    own = [(e["id"], (e.get("params") or {}).get("paper_own_figures_percent")) for e in retention]
    five_seed = _reference(document, "reference.reproduction.five_seed").get("retention_percent")
    notes = tuple(f"{claim_id}: the paper's own figures give {value}%." for claim_id, value in own if value is not None)
    notes += (f"A published five-seed reproduction (reference, not run) retains {five_seed}%.",) if five_seed else ()
    return [Section("Table 1: GLUE dev, paper vs measured", paragraphs, pd.DataFrame(rows) if cells else None,
                    ("glue_scores.png",)),
            Section("Retention of BERT's score", ("100 * macro(DistilBERT) / macro(BERT), with and without WNLI.", *notes,
                                                  *_summaries(retention)),
                    _claim_rows(retention), ("retention.png",))]


def table2(document: dict[str, Any]) -> list[Section]:
    """Table 2 (IMDb test accuracy, SQuAD v1.1 dev EM and F1), then the gaps the text states."""
    downstream = _family(document, "downstream")
    grid: dict[str, dict[str, Entry]] = {}
    for entry in downstream:
        if entry.get("metric") != "points_behind":
            label = f"{TASK_NAMES.get(str(entry.get('task')), entry.get('task'))} {entry.get('metric')}"
            grid.setdefault(label, {})[_variant(entry)] = entry
    variants = [v for v in MODEL_LABELS if any(v in row for row in grid.values())]
    rows = [{"cell": label} | {k: v for variant in variants for k, v in _cells(row.get(variant), MODEL_LABELS[variant]).items()}
            for label, row in grid.items()]
    paragraphs = ("IMDb: test accuracy; SQuAD v1.1: dev exact match and F1. DistilBERT (D): a second distillation step "
                  "during SQuAD fine-tuning, with a BERT fine-tuned on SQuAD as the teacher.", *_summaries(downstream))
    gaps = [e for e in downstream if e.get("metric") == "points_behind"]
    return [Section("Table 2: downstream tasks, paper vs measured", paragraphs, pd.DataFrame(rows) if rows else None),
            Section("Table 2: gaps stated in the text", ("Points behind BERT-base, as Section 4.2 states them.",),
                    _claim_rows(gaps))]


def table3(document: dict[str, Any]) -> list[Section]:
    """Table 3 (parameters and CPU inference time per model), then the size reduction and speed claims."""
    sizes = {e.get("model"): e for e in _family(document, "size") if e.get("metric") == "parameters_millions"}
    speed = _family(document, "speed")
    paper_seconds = next(((e.get("params") or {}).get("paper_seconds") for e in speed
                          if (e.get("params") or {}).get("paper_seconds")), {}) or {}
    elmo = _reference(document, "reference.elmo.table3")
    rows = []
    for model, label in (("elmo", "ELMo (reported)"), ("bert", "BERT-base"), ("distilbert", "DistilBERT")):
        entry = sizes.get(model)
        if model == "elmo":
            paper_parameters, seconds = elmo.get("parameters_millions"), paper_seconds.get(model, elmo.get("inference_seconds"))
        else:
            paper_parameters, seconds = entry and entry.get("paper_value"), paper_seconds.get(model)
        row = {"model": label, "parameters paper (M)": fmt(paper_parameters), "parameters measured (Δ)": measured_text(entry),
               "parameters verdict": verdict_text(entry), "inference paper (s)": fmt(seconds)}
        for claim in speed:
            if seconds_of(claim) or (claim.get("params") or {}).get("paper_seconds"):
                row[f"measured (s), {claim['id']}"] = fmt(seconds_of(claim).get(model))
        rows.append(row)
    hardware = sorted({str((e.get("params") or {}).get("paper_hardware")) for e in speed if (e.get("params") or {}).get("paper_hardware")})
    paragraphs = ("Parameters: the bare encoders, counted exactly from the architectures. Inference: one pass over the "
                  "STS-B dev set, batch size 1; the paper timed on " + ("; ".join(hardware) or "an unstated CPU")
                  + f", this run on {document.get('environment', {}).get('cpu', 'an unrecorded machine')}: compare the "
                  "speedups, not the seconds.",)
    others = [e for e in _family(document, "size") if e.get("metric") != "parameters_millions"] + speed
    return [Section("Table 3: size and inference speed, paper vs measured", paragraphs, pd.DataFrame(rows), ("size.png",)),
            Section("Table 3: size reduction and speedup", ("The headline ratios: '40% smaller', '60% faster'.",
                                                             *_summaries(_family(document, "size") + speed)),
                    _claim_rows(others), ("speedup.png", *filter(None, map(speed_figure_name, speed))))]


def references_section(document: dict[str, Any]) -> Section:
    rows = [{"reference": r.get("id"), "source": r.get("source"), "model": r.get("model"), "note": r.get("note"),
             "values": ", ".join(f"{k} {fmt(v)}" for k, v in (r.get("values") or {}).items())}
            for r in document.get("references", []) if isinstance(r, dict)]
    return Section("References (reported by others, never run here)", (), pd.DataFrame(rows) if rows else None)


def all_claims_section(document: dict[str, Any]) -> Section:
    rows = [{"claim": e["id"], "family": e.get("family"), "metric": e.get("metric"), "paper": paper_text(e.get("paper_value")),
             "measured (Δ)": measured_text(e), "tolerance → accepted": accepted_text(e), "verdict": verdict_text(e),
             "reason": reason_text(e)} for e in document["claims"]]
    return Section("Every claim", ("One row per claim of the registry, in registry order. Skipped claims give their "
                                   "reason; a known discrepancy of the paper is a strict xfail.",), pd.DataFrame(rows))


def arithmetic_section(document: dict[str, Any]) -> Section:
    claims = [e for e in document["claims"] if e.get("family") == "paper_arithmetic"]
    rows = [{"claim": e["id"], "statement": e.get("statement"), "paper": paper_text(e.get("paper_value")),
             "recomputed (Δ)": measured_text(e), "verdict": verdict_text(e), "note": reason_text(e)} for e in claims]
    notes = tuple(f"{e['id']}: {e['notes']}" for e in document["claims"] if e.get("notes"))
    return Section("The paper's own inconsistencies",
                   ("The paper's figures recomputed from its other figures (no model involved).",) + notes,
                   pd.DataFrame(rows) if rows else None)


def out_of_scope_section(document: dict[str, Any]) -> Section:
    rows = [{"claim": e["id"], "statement": e.get("statement"), "paper": paper_text(e.get("paper_value")) + f" {e.get('unit', '')}",
             "why it is not measured": e.get("out_of_scope")} for e in document["claims"] if e.get("out_of_scope")]
    return Section("Out of scope", ("Claims listed, never measured here, with the reason.",), pd.DataFrame(rows) if rows else None)


def metrics_section(document: dict[str, Any]) -> Section:
    used = sorted({str(e.get("metric")) for e in document["claims"]})
    rows = [{"metric": m, "what it measures": METRICS.get(m, "(not in this harness's list)")} for m in used]
    return Section("Metrics", ("The metric of each cell; each claim's reason for its metric is in its full record.",),
                   pd.DataFrame(rows))


def environment_section(document: dict[str, Any]) -> Section:
    environment = dict(document.get("environment", {}))
    libraries = environment.pop("libraries", {}) or {}
    gpus = environment.pop("gpus", []) or []
    rows = [{"key": k, "value": json.dumps(v) if isinstance(v, (dict, list)) else str(v)} for k, v in environment.items()]
    rows.append({"key": "gpus", "value": "; ".join(f"{g.get('name')} ({g.get('memory_gib')} GiB)" for g in gpus
                                                   if isinstance(g, dict)) or "none"})
    rows += [{"key": f"library {name}", "value": str(version)} for name, version in libraries.items()]
    rows += [{"key": f"option {name}", "value": str(value)} for name, value in document.get("options", {}).items()]
    return Section("Environment", ("Hardware, library versions, git commit and the options of the run.",), pd.DataFrame(rows))


def sections(document: dict[str, Any]) -> list[Section]:
    """Every section of the report, in order."""
    return [summary_section(document), *table1(document), *table2(document), *table3(document),
            arithmetic_section(document), out_of_scope_section(document), references_section(document),
            all_claims_section(document), metrics_section(document), environment_section(document)]


def claim_record(entry: Entry) -> list[tuple[str, str]]:
    """One claim in full, as (label, text) pairs."""
    return [("statement", str(entry.get("statement"))), ("source", str(entry.get("source"))),
            ("metric", f"{entry.get('metric')}: {entry.get('metric_reason', '')}"),
            ("tolerance", accepted_text(entry) + (f": {entry['tolerance_reason']}" if entry.get("tolerance_reason") else "")),
            ("verdict", f"{entry.get('verdict')}: {entry.get('message', '')}"),
            ("details", details_text(entry.get("details")))]


def details_text(details: Any) -> str:
    """A claim's details, one top-level key a line with its value as compact JSON (long timing lists stay one line)."""
    if not isinstance(details, dict) or not details:
        return "(none)"
    return "\n".join(f"{key}: {json.dumps(value, sort_keys=True, default=str)}" for key, value in sorted(details.items()))


