"""The report's overview plots, drawn from the typed results of a run: GLUE scores, sizes, speedups and retention.

Each plot puts the paper's value (a black tick) and its tolerance band (shade) beside the measured
value (a coloured dot) with its 95% interval (a whisker: the seeds' for accuracy, the timed chunks'
for speed) for every claim of a family; a claim that was not judged (a quick run) has a hollow dot. A
claim with no measurement (skipped, or an error) keeps its paper tick and band and gets no dot, so a
run that measured nothing still draws. Task names and the GLUE order come from harness/spec/tasks.yaml, model
names from harness.spec.registry.MODEL_LABELS; the colours of the models and the PNG encoding live
here (harness.reporting.speed_plots uses them for each speed claim's own figure). This module only
draws; the tables and pages are harness.reporting.report's job.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

import matplotlib

from harness.judge.verdict import Status
from harness.reporting.results import ClaimResult, RunResults, finite_number
from harness.spec import tasks
from harness.spec.registry import MODEL_LABELS

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {"bert": "#1f77b4", "distilbert": "#ff7f0e", "distilbert_d": "#d62728", "both": "#2ca02c"}
PLOTS = ("glue_scores.png", "size.png", "speedup.png", "retention.png")


def glue_rows() -> list[tuple[str, str]]:
    """Table 1's rows, (key, display name): the GLUE tasks in tasks.yaml's order, then the macro score."""
    return [(name, tasks.get_task(name).display_name) for name in tasks.glue_task_names()] + [("score", "Score")]


def png(fig: Any) -> bytes:
    """A figure as PNG bytes (no software stamp, so the same results give the same bytes); the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _draw_claim(ax: Any, x: float, result: ClaimResult, colour: str, width: float = 0.3) -> bool:
    """Bands, paper tick and measured dot of one claim at x; True when a measurement was drawn."""
    paper, measured, interval = result.verdict.paper_value, result.verdict.measured, result.verdict.tolerance_interval
    low_limit, high_limit = ax.get_ylim()
    if interval is not None and paper is not None:
        low = interval[0] if math.isfinite(interval[0]) else min(low_limit, paper)
        high = interval[1] if math.isfinite(interval[1]) else max(high_limit, paper)
        ax.add_patch(plt.Rectangle((x - width / 2, low), width, high - low, color=colour, alpha=0.3, linewidth=0))
    if paper is not None:
        ax.plot([x - width / 2, x + width / 2], [paper, paper], color="black", linewidth=2)
    if measured is not None:
        spread = result.verdict.interval
        if spread is not None:
            ax.plot([x, x], spread, color="black", linewidth=1.2, zorder=4)
        hollow = result.verdict.status is Status.NOT_JUDGED
        ax.plot([x], [measured], "o", color="white" if hollow else colour, markeredgecolor=colour if hollow else "black",
                markeredgewidth=1.5 if hollow else 1.0, markersize=7, zorder=5)
    return measured is not None


def _limits(results: list[ClaimResult], extra: list[float] = ()) -> tuple[float, float]:
    """y limits that show every paper value, measurement and closed band edge, with a margin."""
    values = list(extra)
    for result in results:
        verdict = result.verdict
        values += [v for v in (verdict.paper_value, verdict.measured) if v is not None]
        values += [v for interval in (verdict.tolerance_interval, verdict.interval) if interval
                   for v in interval if math.isfinite(v)]
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    margin = max(0.08 * (high - low), 0.05 * abs(high), 0.5)
    return low - margin, high + margin


def _legend(ax: Any, measured_any: bool, labels: dict[str, str], extra: tuple[Any, ...] = ()) -> None:
    handles = [*extra, plt.Line2D([], [], color="black", linewidth=2, label="paper"),
               plt.Rectangle((0, 0), 1, 1, color="grey", alpha=0.4, label="tolerance"),
               plt.Line2D([], [], color="black", linewidth=1.2, label="95% interval of the measurement"),
               plt.Line2D([], [], marker="o", linestyle="", color="white", markeredgecolor="grey", label="not judged (quick run)")]
    handles += [plt.Line2D([], [], marker="o", linestyle="", color=COLOURS.get(key, "grey"), markeredgecolor="black",
                           label=f"measured: {label}") for key, label in labels.items()]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), framealpha=0.9)
    if not measured_any:
        ax.text(0.5, 0.96, "not measured in this run", transform=ax.transAxes,
                ha="center", va="top", fontsize=9, color="#a00", bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0})


def _claims_axis(ax: Any, results: list[ClaimResult], label_of: Callable[[ClaimResult], str], title: str, ylabel: str,
                 extra: list[float] = ()) -> None:
    """One x position per claim, coloured by model."""
    ax.set_ylim(*_limits(results, list(extra)))
    measured_any = False
    models: dict[str, str] = {}
    for x, result in enumerate(results):
        models.setdefault(result.variant, MODEL_LABELS.get(result.variant, result.variant))
        measured_any |= _draw_claim(ax, x, result, COLOURS.get(result.variant, "grey"), width=0.5)
    ax.set_xticks(range(len(results)), [label_of(r) for r in results], fontsize=8)
    ax.set_xlim(-0.7, max(len(results), 1) - 0.3)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    _legend(ax, measured_any, models)


def glue_scores(run: RunResults) -> bytes:
    """Table 1: each GLUE task and the macro score, BERT and DistilBERT side by side, ELMo as reference."""
    claims = run.family("glue", "macro")
    elmo = run.reference("reference.elmo.table1")
    rows = glue_rows()
    fig, ax = plt.subplots(figsize=(11, 4.5), layout="constrained")
    ax.set_ylim(*_limits(claims, [v for v in elmo.values() if v is not None]))
    measured_any = False
    for x, (row, _) in enumerate(rows):
        for offset, model in ((-0.2, "bert"), (0.2, "distilbert")):
            for result in claims:
                key = "score" if result.claim.family == "macro" else result.claim.task
                if key == row and result.claim.model == model:
                    measured_any |= _draw_claim(ax, x + offset, result, COLOURS[model])
        if elmo.get(row) is not None:
            ax.plot([x], [elmo[row]], "x", color="grey", markersize=7)
    ax.set_xticks(range(len(rows)), [name for _, name in rows])
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylabel("points (0-100)")
    ax.set_title("Table 1, GLUE dev: paper vs measured (left BERT-base, right DistilBERT; x = ELMo, reported)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    elmo_handle = plt.Line2D([], [], marker="x", linestyle="", color="grey", label="ELMo (reported, not run)")
    _legend(ax, measured_any, {m: MODEL_LABELS[m] for m in ("bert", "distilbert")}, (elmo_handle,))
    return png(fig)


def size(run: RunResults) -> bytes:
    """Table 3's parameter counts and the '40% smaller' reduction."""
    claims = run.family("size")
    counts = [r for r in claims if r.claim.metric == "parameters_millions"]
    others = [r for r in claims if r.claim.metric != "parameters_millions"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [max(len(counts), 1), max(len(others), 1)]},
                             layout="constrained")
    _claims_axis(axes[0], counts, lambda r: MODEL_LABELS.get(r.variant, r.variant), "Table 3: parameters", "millions")
    _claims_axis(axes[1], others, lambda r: r.claim.id, "Reduction", "% fewer parameters")
    return png(fig)


def speedup(run: RunResults) -> bytes:
    """Table 3's speed claims: the speedup against its band, and each model's measured time."""
    claims = run.family("speed")
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    _claims_axis(axes[0], claims, lambda r: r.claim.id.removeprefix("speed."), "Speedup t(BERT) / t(DistilBERT)", "x",
                 extra=[1.0])
    axes[0].axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    ax = axes[1]
    bars = [(f"{r.claim.id.removeprefix('speed.')}\n{model}", seconds, model)
            for r in claims for model, seconds in r.seconds.items()]
    if bars:
        ax.bar(range(len(bars)), [b[1] for b in bars], color=[COLOURS.get(b[2], "grey") for b in bars])
        ax.set_xticks(range(len(bars)), [b[0] for b in bars], fontsize=7)
        for x, (_, seconds, _) in enumerate(bars):
            ax.annotate(f"{seconds:.3g} s", (x, seconds), ha="center", va="bottom", fontsize=8)
    else:
        ax.set_xticks([])
        ax.text(0.5, 0.5, "no timing in this run", transform=ax.transAxes, ha="center", va="center", color="#a00")
    ax.set_title("Measured time per model (this machine; the paper's 668 s / 410 s were on a Xeon)", fontsize=9)
    ax.set_ylabel("seconds")
    return png(fig)


def retention(run: RunResults) -> bytes:
    """The 97% retention, with and without WNLI, with the paper's own ratios as dotted lines."""
    claims = run.family("retention")
    own = [finite_number(r.claim.params.get("paper_own_figures_percent")) for r in claims]
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    _claims_axis(ax, claims, lambda r: r.claim.id.removeprefix("retention."), "Retention: 100 * macro(DistilBERT) / macro(BERT)",
                 "%", extra=[v for v in own if v is not None])
    for x, value in enumerate(own):
        if value is not None:
            ax.plot([x - 0.3, x + 0.3], [value, value], color="black", linestyle=":", linewidth=1.5)
            ax.annotate(f"paper's own\nfigures {value:g}%", (x + 0.3, value), fontsize=7, ha="left", va="center")
    return png(fig)


def render_all(run: RunResults) -> dict[str, bytes]:
    """Every overview plot as PNG bytes, keyed by its file name (PLOTS)."""
    return dict(zip(PLOTS, (glue_scores(run), size(run), speedup(run), retention(run)), strict=True))
