"""What the report says: its sections, each a title, paragraphs, a pandas table and plot names.

The summary (claims and the checks of the paper's own arithmetic counted apart), the paper's Tables 1, 2
and 3 beside the measured values (deltas, 95% intervals, seeds, verdicts, each cell's metric, ELMo's
reference row), the retention, the paired comparisons of the two models (bootstrap and McNemar), the
paper's own inconsistencies, the out-of-scope claims with reasons, every claim, the metrics and the
environment, all read from the typed results of a run
(harness.reporting.results.RunResults). Cells are formatted text, so Markdown and HTML show the same
figures. Task names and the GLUE row order come from harness/spec/tasks.yaml, model names from
harness.spec.registry.MODEL_LABELS. Writing the files is harness.reporting.report's job.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from harness.judge.verdict import Status, noise_parts
from harness.reporting.plots import glue_rows
from harness.reporting.results import ClaimResult, RunResults, check_outcome, kind_of
from harness.reporting.speed_plots import figure_name as speed_figure_name
from harness.spec.registry import METRICS, MODEL_LABELS


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


def paper_text(value: float | None) -> str:
    """The paper's figure as printed there (89.0 stays 89.0), or an en dash."""
    return "–" if value is None else str(float(value))


def measured_text(result: ClaimResult | None) -> str:
    """'measured (Δ delta)' or an en dash."""
    if result is None or result.verdict.measured is None:
        return "–"
    delta = result.verdict.delta
    return fmt(result.verdict.measured) + ("" if delta is None else f" (Δ {delta:+.2f})")


def verdict_text(result: ClaimResult | None) -> str:
    return "–" if result is None else result.verdict.status.value


def interval_text(result: ClaimResult | None) -> str:
    """The measurement's 95% interval, or an en dash (exact, not measured, or noise unknown)."""
    interval = None if result is None else result.verdict.interval
    return "–" if interval is None else f"[{fmt(interval[0])}, {fmt(interval[1])}]"


def seeds_text(result: ClaimResult | None) -> str:
    """'3 valid' or '2 valid, 1 invalid' for a claim measured over seeds; an en dash otherwise."""
    uncertainty = None if result is None else result.verdict.uncertainty
    seeds = uncertainty.seeds if uncertainty else {}
    if not seeds.get("runs"):
        return "–"
    return f"{seeds['valid']} valid" + (f", {seeds['invalid']} invalid" if seeds.get("invalid") else "")


def noise_text(result: ClaimResult) -> str:
    """Where the interval comes from, the smallest detectable difference, the dev set's sampling error."""
    uncertainty = result.verdict.uncertainty
    if uncertainty is None:
        return "exact" if result.verdict.measured is not None else "–"
    parts = noise_parts(uncertainty, number=fmt, with_seeds=False)  # the seeds have their own column
    return "; ".join(parts[name] for name in ("source", "difference", "detectable", "dev_set", "two_sided") if name in parts)


def reason_text(result: ClaimResult) -> str:
    """Why a claim was skipped, errored or not judged, or the paper's known discrepancy; empty for a plain verdict."""
    if result.verdict.status in (Status.SKIPPED, Status.ERROR, Status.NOT_JUDGED):
        return result.verdict.message
    if result.claim.known_discrepancy:
        return f"known discrepancy of the paper: {result.claim.known_discrepancy}"
    return ""


def accepted_text(result: ClaimResult) -> str:
    """The tolerance as the registry states it, and the interval it gives around the paper's value."""
    if result.claim.tolerance is None:
        return "–"
    low, high = result.verdict.tolerance_interval or (-math.inf, math.inf)
    return (f"{result.claim.tolerance.describe()} → [{fmt(low) if math.isfinite(low) else '-inf'}, "
            f"{fmt(high) if math.isfinite(high) else 'inf'}]")


def counts(claims: tuple[ClaimResult, ...]) -> dict[Status, int]:
    """How many claims got each verdict (every verdict listed, zeros included); the paper checks are not claims."""
    tally = dict.fromkeys(Status, 0)
    for result in claims:
        if kind_of(result.claim) == "claim":
            tally[result.verdict.status] += 1
    return tally


def summary_section(run: RunResults) -> Section:
    claims = tuple(r for r in run.claims if kind_of(r.claim) == "claim")
    tally = counts(claims)
    paper, options = run.paper, run.options
    paragraphs = [
        f"Paper: {paper.get('authors', '?')}, “{paper.get('title', '?')}”, arXiv:{paper.get('arxiv', '?')} "
        f"{paper.get('version', '')}. Run of {run.created or '?'}, git commit "
        f"{run.environment.get('git_commit') or 'unknown'}; marker expression "
        f"{options.get('markexpr') or '(none)'}; --run-slow {options.get('run_slow')}.",
        f"{len(claims)} claims: " + ", ".join(f"{n} {verdict.value}" for verdict, n in tally.items() if n) + ".",
    ]
    if run.paper_checks:
        paragraphs.append("Checks of the paper's own arithmetic (not claims, not counted above): "
                          + ", ".join(f"{n} {outcome}" for outcome, n in run.paper_checks.items()) + ".")
    if tally[Status.NOT_JUDGED]:
        quick = tally[Status.NOT_JUDGED]
        paragraphs.append(f"Not judged: {quick} claim{'s were' if quick != 1 else ' was'} measured by a quick run (a quick "
                          "protocol or --max-train-samples): values and intervals are reported, the paper is not judged by them.")
    if claims and tally[Status.SKIPPED] == len(claims):
        paragraphs.append("Every claim was skipped in this run: nothing was measured. The reasons are in the table of "
                          "every claim below.")
    if tally[Status.ERROR]:
        paragraphs.append(f"Claims that ended in an error of the run (no verdict): {tally[Status.ERROR]}; "
                          "their reasons are below.")
    table = None
    if claims:
        by_family = pd.crosstab(pd.Series([r.claim.family for r in claims], name="family"),
                                pd.Series([r.verdict.status.value for r in claims], name="verdict"))
        table = by_family.reset_index().rename_axis(None, axis=1).astype(str)
    return Section("Summary", tuple(paragraphs), table)


def _cells(result: ClaimResult | None, label: str) -> dict[str, str]:
    """The paper / measured / interval / seeds / verdict cells of one claim under a column label."""
    return {f"{label} paper": paper_text(None if result is None else result.claim.paper_value),
            f"{label} measured (Δ)": measured_text(result), f"{label} 95% interval": interval_text(result),
            f"{label} seeds": seeds_text(result), f"{label} verdict": verdict_text(result)}


def _summaries(results: list[ClaimResult]) -> tuple[str, ...]:
    """Each claim's own one-line account of what it measured (its details' `summary`), where it left one."""
    return tuple(f"{r.claim.id}: {r.summary}" for r in results if r.summary)


def _claim_row(result: ClaimResult) -> dict[str, str]:
    """One claim as a row: paper, measured (Δ), its interval and seeds, the accepted interval, the verdict and its reason."""
    return {"claim": result.claim.id, "statement": result.claim.statement, "paper": paper_text(result.claim.paper_value),
            "measured (Δ)": measured_text(result), "95% interval": interval_text(result), "seeds": seeds_text(result),
            "tolerance → accepted": accepted_text(result), "noise": noise_text(result),
            "verdict": verdict_text(result), "reason": reason_text(result)}


def _claim_rows(results: list[ClaimResult]) -> pd.DataFrame | None:
    return pd.DataFrame([_claim_row(result) for result in results]) if results else None


def table1(run: RunResults) -> list[Section]:
    """Table 1 (GLUE dev, one row per task and the macro score), then the retention claims."""
    cells = {(r.claim.task, r.claim.model): r for r in run.family("glue")}
    cells |= {("score", r.claim.model): r for r in run.family("macro")}
    elmo = run.reference("reference.elmo.table1")
    rows = []
    for task, task_name in glue_rows():
        pair = [cells.get((task, model)) for model in ("bert", "distilbert")]
        metrics = sorted({str(result.claim.metric) for result in pair if result})
        row = {"task": task_name, "metric": " / ".join(metrics) or "–", "ELMo (reported)": fmt(elmo.get(task))}
        for model, result in zip(("bert", "distilbert"), pair, strict=True):
            row |= _cells(result, MODEL_LABELS[model])
        rows.append(row)
    paragraphs = ("GLUE dev sets; the paper's BERT-base and DistilBERT figures are medians of 5 seeds, and so are "
                  "ours over the valid seeds run. Score: the unweighted mean of the nine tasks, WNLI included. ELMo's "
                  "row is the paper's, reported by ELMo's authors and never run here. Δ = measured - paper; the 95% "
                  "interval is the seed level's (docs/verdicts.md).",
                  *_summaries(run.family("glue", "macro")))
    retention = run.family("retention")
    own = [(r.claim.id, r.claim.params.get("paper_own_figures_percent")) for r in retention]
    five_seed = run.reference("reference.reproduction.five_seed").get("retention_percent")
    notes = tuple(f"{claim_id}: the paper's own figures give {value}%." for claim_id, value in own if value is not None)
    notes += (f"A published five-seed reproduction (reference, not run) retains {five_seed}%.",) if five_seed else ()
    return [Section("Table 1: GLUE dev, paper vs measured", paragraphs, pd.DataFrame(rows) if cells else None,
                    ("glue_scores.png",)),
            Section("Retention of BERT's score", ("100 * macro(DistilBERT) / macro(BERT), with and without WNLI.", *notes,
                                                  *_summaries(retention)),
                    _claim_rows(retention), ("retention.png",))]


def table2(run: RunResults) -> list[Section]:
    """Table 2 (IMDb test accuracy, SQuAD v1.1 dev EM and F1), then the gaps the text states."""
    downstream = run.family("downstream")
    grid: dict[str, dict[str, ClaimResult]] = {}
    for result in downstream:
        if result.claim.metric != "points_behind":
            grid.setdefault(f"{result.task_name} {result.claim.metric}", {})[result.variant] = result
    variants = [v for v in MODEL_LABELS if any(v in row for row in grid.values())]
    rows = [{"cell": label} | {k: v for variant in variants for k, v in _cells(row.get(variant), MODEL_LABELS[variant]).items()}
            for label, row in grid.items()]
    paragraphs = ("IMDb: test accuracy; SQuAD v1.1: dev exact match and F1. DistilBERT (D): a second distillation step "
                  "during SQuAD fine-tuning, with a BERT fine-tuned on SQuAD as the teacher.", *_summaries(downstream))
    gaps = [r for r in downstream if r.claim.metric == "points_behind"]
    return [Section("Table 2: downstream tasks, paper vs measured", paragraphs, pd.DataFrame(rows) if rows else None),
            Section("Table 2: gaps stated in the text", ("Points behind BERT-base, as Section 4.2 states them.",),
                    _claim_rows(gaps))]


def table3(run: RunResults) -> list[Section]:
    """Table 3 (parameters and CPU inference time per model), then the size reduction and speed claims."""
    sizes = {r.claim.model: r for r in run.family("size") if r.claim.metric == "parameters_millions"}
    speed = run.family("speed")
    paper_seconds = next((r.claim.params["paper_seconds"] for r in speed
                          if isinstance(r.claim.params.get("paper_seconds"), dict)), {})
    elmo = run.reference("reference.elmo.table3")
    rows = []
    for model, label in (("elmo", "ELMo (reported)"), ("bert", "BERT-base"), ("distilbert", "DistilBERT")):
        result = sizes.get(model)
        if model == "elmo":
            paper_parameters, seconds = elmo.get("parameters_millions"), elmo.get("inference_seconds")
        else:
            paper_parameters, seconds = result and result.claim.paper_value, paper_seconds.get(model)
        row = {"model": label, "parameters paper (M)": fmt(paper_parameters), "parameters measured (Δ)": measured_text(result),
               "parameters verdict": verdict_text(result), "inference paper (s)": fmt(seconds)}
        for result in speed:
            if result.seconds or result.claim.params.get("paper_seconds"):
                row[f"measured (s), {result.claim.id}"] = fmt(result.seconds.get(model))
        rows.append(row)
    hardware = sorted({str(r.claim.params["paper_hardware"]) for r in speed if r.claim.params.get("paper_hardware")})
    paragraphs = ("Parameters: the bare encoders, counted exactly from the architectures. Inference: one pass over the "
                  "STS-B dev set, batch size 1; the paper timed on " + ("; ".join(hardware) or "an unstated CPU")
                  + f", this run on {run.environment.get('cpu', 'an unrecorded machine')}: compare the "
                  "speedups, not the seconds.",)
    others = [r for r in run.family("size") if r.claim.metric != "parameters_millions"] + speed
    return [Section("Table 3: size and inference speed, paper vs measured", paragraphs, pd.DataFrame(rows), ("size.png",)),
            Section("Table 3: size reduction and speedup", ("The headline ratios: '40% smaller', '60% faster'.",
                                                             *_summaries(run.family("size") + speed)),
                    _claim_rows(others), ("speedup.png", *filter(None, map(speed_figure_name, speed))))]


def comparisons_section(run: RunResults) -> Section:
    """BERT against DistilBERT on the same examples, per task: the paired bootstrap and McNemar's exact test."""
    rows = []
    for result in run.family("retention", "downstream"):
        uncertainty = result.verdict.uncertainty
        for task, entry in ((uncertainty.comparisons.get("tasks") or {}) if uncertainty else {}).items():
            if not isinstance(entry, dict) or any(row["task"] == task for row in rows):
                continue
            paired = entry.get("paired_bootstrap") or {}
            tests = entry.get("mcnemar") if isinstance(entry.get("mcnemar"), list) else []
            rows.append({"task": task, "metric": str(entry.get("metric")), "BERT - DistilBERT": fmt(entry.get("difference")),
                         "paired bootstrap 95%": f"[{fmt(paired['interval'][0])}, {fmt(paired['interval'][1])}]"
                         if paired.get("interval") else "–",
                         "McNemar (seed: BERT only / DistilBERT only, p)": "; ".join(
                             f"{t['seeds'][0]}: {t['first_only']} / {t['second_only']}, p {t['p_value']:.3g}" for t in tests)
                         or "–", "from claim": result.claim.id})
    return Section("Paired comparisons of the two models",
                   ("Both models on the same examples: BERT - DistilBERT with a paired bootstrap over the examples (every "
                    "seed of both on each resample), and McNemar's exact test on the examples one model gets right and the "
                    "other wrong, per seed pair (classification accuracy; SQuAD exact match). From the claims that "
                    "compare the models (the retention, the IMDb and SQuAD gaps).",),
                   pd.DataFrame(rows) if rows else None)


def references_section(run: RunResults) -> Section:
    rows = [{"reference": r.id, "source": r.source, "model": r.model, "note": r.note,
             "values": ", ".join(f"{k} {fmt(v)}" for k, v in r.values.items())} for r in run.references]
    return Section("References (reported by others, never run here)", (), pd.DataFrame(rows) if rows else None)


def all_claims_section(run: RunResults) -> Section:
    rows = [{"claim": r.claim.id, "family": r.claim.family, "metric": r.claim.metric}
            | {k: v for k, v in _claim_row(r).items() if k not in ("claim", "statement")} for r in run.claims]
    return Section("Every claim", ("One row per claim of the registry, in registry order. Skipped claims give their "
                                   "reason; a known discrepancy of the paper is a strict xfail.",), pd.DataFrame(rows))


def arithmetic_section(run: RunResults) -> Section:
    rows = [{"check": r.claim.id, "statement": r.claim.statement, "paper": paper_text(r.claim.paper_value),
             "recomputed (Δ)": measured_text(r), "the paper's arithmetic": check_outcome(r.verdict.status),
             "verdict": verdict_text(r), "note": reason_text(r)}
            for r in run.family("paper_arithmetic")]
    notes = tuple(f"{r.claim.id}: {r.claim.notes}" for r in run.claims if r.claim.notes)
    return Section("The paper's own inconsistencies",
                   ("The paper's figures recomputed from its other figures (no model involved): checks of the paper, "
                    "counted apart from the claims.",) + notes,
                   pd.DataFrame(rows) if rows else None)


def out_of_scope_section(run: RunResults) -> Section:
    rows = [{"claim": r.claim.id, "statement": r.claim.statement,
             "paper": f"{paper_text(r.claim.paper_value)} {r.claim.unit}", "why it is not measured": r.claim.out_of_scope}
            for r in run.claims if r.claim.out_of_scope]
    return Section("Out of scope", ("Claims listed, never measured here, with the reason.",),
                   pd.DataFrame(rows) if rows else None)


def metrics_section(run: RunResults) -> Section:
    used = sorted({str(r.claim.metric) for r in run.claims})
    rows = [{"metric": m, "what it measures": METRICS.get(m, "(not in this harness's list)")} for m in used]
    return Section("Metrics", ("The metric of each cell; each claim's reason for its metric is in its full record.",),
                   pd.DataFrame(rows))


def environment_section(run: RunResults) -> Section:
    environment = dict(run.environment)
    libraries = environment.pop("libraries", {}) or {}
    gpus = environment.pop("gpus", []) or []
    rows = [{"key": k, "value": json.dumps(v) if isinstance(v, (dict, list)) else str(v)} for k, v in environment.items()]
    rows.append({"key": "gpus", "value": "; ".join(f"{g.get('name')} ({g.get('memory_gib')} GiB)" for g in gpus
                                                   if isinstance(g, dict)) or "none"})
    rows += [{"key": f"library {name}", "value": str(version)} for name, version in libraries.items()]
    rows += [{"key": f"{kind[:-1]} {name}", "value": revision_text(record)}  # checkpoint / dataset
             for kind, records in run.revisions.items() for name, record in sorted(records.items())]
    rows += [{"key": f"option {name}", "value": str(value)} for name, value in run.options.items()]
    return Section("Environment", ("Hardware, library versions, git commit, the commit each Hub checkpoint and dataset "
                                   "resolved to, and the options of the run.",), pd.DataFrame(rows))


def revision_text(record: dict[str, Any]) -> str:
    """A Hub name's revision: `main = 1a2b3c4d5e6f (the Hub)`, or that its commit is unknown and why."""
    commit = str(record.get("commit"))[:12] if record.get("commit") else f"commit unknown: {record.get('unknown', '')}"
    return f"{record.get('revision')} = {commit}" + (f" ({record['source']})" if record.get("source") else "")


def sections(run: RunResults) -> list[Section]:
    """Every section of the report, in order."""
    return [summary_section(run), *table1(run), *table2(run), comparisons_section(run), *table3(run), arithmetic_section(run),
            out_of_scope_section(run), references_section(run), all_claims_section(run), metrics_section(run),
            environment_section(run)]


def claim_record(result: ClaimResult) -> list[tuple[str, str]]:
    """One claim in full, as (label, text) pairs."""
    claim, verdict = result.claim, result.verdict
    return [("statement", claim.statement), ("source", claim.source), ("metric", f"{claim.metric}: {claim.metric_reason}"),
            ("tolerance", accepted_text(result) + (f": {claim.tolerance_reason}" if claim.tolerance_reason else "")),
            ("verdict", f"{verdict.status.value}: {verdict.message}"), ("noise", noise_text(result)),
            ("details", details_text(result.details))]


def details_text(details: dict[str, Any]) -> str:
    """A claim's details, one top-level key a line with its value as compact JSON (long timing lists stay one line)."""
    if not details:
        return "(none)"
    return "\n".join(f"{key}: {json.dumps(value, sort_keys=True, default=str)}" for key, value in sorted(details.items()))
