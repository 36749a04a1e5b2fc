"""The report's PNG plots, drawn from a results document: GLUE scores, sizes, speedups and retention.

Each plot puts the paper's value (a black tick), its tolerance band (dark shade) and noise band
(light shade) beside the measured value (a coloured dot) for every claim of a family. A claim with no
measurement (skipped, or an error) keeps its paper tick and band and gets no dot, so a run that
measured nothing still draws. This module only draws; the tables and pages are harness.report's job.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402

Entry = dict[str, Any]
COLOURS = {"bert": "#1f77b4", "distilbert": "#ff7f0e", "distilbert_d": "#d62728", "both": "#2ca02c"}
MODEL_LABELS = {"bert": "BERT-base", "distilbert": "DistilBERT", "distilbert_d": "DistilBERT (D)", "both": "both models"}
TASK_NAMES = {"cola": "CoLA", "mnli": "MNLI", "mrpc": "MRPC", "qnli": "QNLI", "qqp": "QQP", "rte": "RTE",
              "sst2": "SST-2", "stsb": "STS-B", "wnli": "WNLI", "imdb": "IMDb", "squad": "SQuAD"}
GLUE_ORDER = ("cola", "mnli", "mrpc", "qnli", "qqp", "rte", "sst2", "stsb", "wnli")
PLOTS = ("glue_scores.png", "size.png", "speedup.png", "retention.png")


def _number(value: Any) -> float | None:
    """A finite float, or None for a missing or non-numeric value (a hand-edited results.json)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _band(entry: Entry, key: str) -> tuple[float | None, float | None] | None:
    band = entry.get(key)
    interval = band.get("interval") if isinstance(band, dict) else None
    if not isinstance(interval, list) or len(interval) != 2:
        return None
    return _number(interval[0]), _number(interval[1])


def _draw_claim(ax: Any, x: float, entry: Entry, colour: str, width: float = 0.3) -> bool:
    """Bands, paper tick and measured dot of one claim at x; True when a measurement was drawn."""
    paper, measured = _number(entry.get("paper_value")), _number(entry.get("measured"))
    low_limit, high_limit = ax.get_ylim()
    for key, alpha in (("noise_band", 0.12), ("tolerance", 0.3)):
        band = _band(entry, key)
        if band is None or paper is None:
            continue
        low = band[0] if band[0] is not None else min(low_limit, paper)
        high = band[1] if band[1] is not None else max(high_limit, paper)
        ax.add_patch(plt.Rectangle((x - width / 2, low), width, high - low, color=colour, alpha=alpha, linewidth=0))
    if paper is not None:
        ax.plot([x - width / 2, x + width / 2], [paper, paper], color="black", linewidth=2)
    if measured is not None:
        ax.plot([x], [measured], "o", color=colour, markeredgecolor="black", markersize=7, zorder=5)
    return measured is not None


def _limits(entries: list[Entry], extra: list[float] = ()) -> tuple[float, float]:
    """y limits that show every paper value, measurement and closed band edge, with a margin."""
    values = list(extra)
    for entry in entries:
        values += [v for v in (_number(entry.get("paper_value")), _number(entry.get("measured"))) if v is not None]
        for key in ("tolerance", "noise_band"):
            values += [v for v in (_band(entry, key) or ()) if v is not None]
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    margin = max(0.08 * (high - low), 0.05 * abs(high), 0.5)
    return low - margin, high + margin


def _legend(ax: Any, measured_any: bool, labels: dict[str, str], extra: tuple[Any, ...] = ()) -> None:
    handles = [*extra,plt.Line2D([], [], color="black", linewidth=2, label="paper"),
               plt.Rectangle((0, 0), 1, 1, color="grey", alpha=0.4, label="tolerance"),
               plt.Rectangle((0, 0), 1, 1, color="grey", alpha=0.15, label="noise band (inconclusive)")]
    handles += [plt.Line2D([], [], marker="o", linestyle="", color=COLOURS.get(key, "grey"), markeredgecolor="black",
                           label=f"measured: {label}") for key, label in labels.items()]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), framealpha=0.9)
    if not measured_any:
        ax.text(0.5, 0.96, "not measured in this run", transform=ax.transAxes,
                ha="center", va="top", fontsize=9, color="#a00", bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0})


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _claims_axis(ax: Any, entries: list[Entry], label_of: Callable[[Entry], str], title: str, ylabel: str,
                 extra: list[float] = ()) -> None:
    """One x position per claim, coloured by model."""
    ax.set_ylim(*_limits(entries, list(extra)))
    measured_any = False
    models: dict[str, str] = {}
    for x, entry in enumerate(entries):
        model = _model(entry)
        models.setdefault(model, MODEL_LABELS.get(model, model))
        measured_any |= _draw_claim(ax, x, entry, COLOURS.get(model, "grey"), width=0.5)
    ax.set_xticks(range(len(entries)), [label_of(e) for e in entries], fontsize=8)
    ax.set_xlim(-0.7, max(len(entries), 1) - 0.3)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    _legend(ax, measured_any, models)


def _model(entry: Entry) -> str:
    """bert, distilbert, distilbert_d (the id's last part) or both."""
    last = str(entry.get("id", "")).rsplit(".", 1)[-1]
    return last if last in COLOURS else str(entry.get("model") or "both")


def glue_scores(document: dict[str, Any]) -> bytes:
    """Table 1: each GLUE task and the macro score, BERT and DistilBERT side by side, ELMo as reference."""
    claims = [c for c in document["claims"] if c.get("family") in ("glue", "macro")]
    elmo = next((r.get("values", {}) for r in document.get("references", []) if r.get("id") == "reference.elmo.table1"), {})
    rows = list(GLUE_ORDER) + ["score"]
    fig, ax = plt.subplots(figsize=(11, 4.5), layout="constrained")
    ax.set_ylim(*_limits(claims, [v for v in map(_number, elmo.values()) if v is not None]))
    measured_any = False
    for x, row in enumerate(rows):
        for offset, model in ((-0.2, "bert"), (0.2, "distilbert")):
            for entry in claims:
                key = "score" if entry.get("family") == "macro" else entry.get("task")
                if key == row and entry.get("model") == model:
                    measured_any |= _draw_claim(ax, x + offset, entry, COLOURS[model])
        if _number(elmo.get(row)) is not None:
            ax.plot([x], [elmo[row]], "x", color="grey", markersize=7)
    ax.set_xticks(range(len(rows)), [TASK_NAMES.get(r, "Score") for r in rows])
    ax.set_xlim(-0.6, len(rows) - 0.4)
    ax.set_ylabel("points (0-100)")
    ax.set_title("Table 1, GLUE dev: paper vs measured (left BERT-base, right DistilBERT; x = ELMo, reported)", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    elmo_handle = plt.Line2D([], [], marker="x", linestyle="", color="grey", label="ELMo (reported, not run)")
    _legend(ax, measured_any, {m: MODEL_LABELS[m] for m in ("bert", "distilbert")}, (elmo_handle,))
    return _png(fig)


def size(document: dict[str, Any]) -> bytes:
    """Table 3's parameter counts and the '40% smaller' reduction."""
    claims = [c for c in document["claims"] if c.get("family") == "size"]
    counts = [c for c in claims if c.get("metric") == "parameters_millions"]
    others = [c for c in claims if c.get("metric") != "parameters_millions"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [max(len(counts), 1), max(len(others), 1)]}, layout="constrained")
    _claims_axis(axes[0], counts, lambda e: MODEL_LABELS.get(_model(e), _model(e)), "Table 3: parameters", "millions")
    _claims_axis(axes[1], others, lambda e: str(e.get("id")), "Reduction", "% fewer parameters")
    return _png(fig)


def seconds_of(entry: Entry) -> dict[str, float]:
    """Per-model measured seconds from a speed claim's details ({'seconds': {'bert': ..}} or '<model>_seconds')."""
    details = entry.get("details") if isinstance(entry.get("details"), dict) else {}
    nested = details.get("seconds")
    if isinstance(nested, dict):
        return {str(k): v for k, v in nested.items() if _number(v) is not None}
    return {key.removesuffix("_seconds"): value for key, value in details.items()
            if key.endswith("_seconds") and _number(value) is not None}


def speedup(document: dict[str, Any]) -> bytes:
    """Table 3's speed claims: the speedup against its band, and each model's measured time."""
    claims = [c for c in document["claims"] if c.get("family") == "speed"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    _claims_axis(axes[0], claims, lambda e: str(e.get("id")).removeprefix("speed."), "Speedup t(BERT) / t(DistilBERT)",
                 "x", extra=[1.0])
    axes[0].axhline(1.0, color="grey", linewidth=0.8, linestyle=":")
    ax = axes[1]
    bars = [(f"{str(c.get('id')).removeprefix('speed.')}\n{model}", seconds, model)
            for c in claims for model, seconds in seconds_of(c).items()]
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
    return _png(fig)


def retention(document: dict[str, Any]) -> bytes:
    """The 97% retention, with and without WNLI, with the paper's own ratios as dotted lines."""
    claims = [c for c in document["claims"] if c.get("family") == "retention"]
    own = [_number((c.get("params") or {}).get("paper_own_figures_percent")) for c in claims]
    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    _claims_axis(ax, claims, lambda e: str(e.get("id")).removeprefix("retention."), "Retention: 100 * macro(DistilBERT) / macro(BERT)",
                 "%", extra=[v for v in own if v is not None])
    for x, value in enumerate(own):
        if value is not None:
            ax.plot([x - 0.3, x + 0.3], [value, value], color="black", linestyle=":", linewidth=1.5)
            ax.annotate(f"paper's own\nfigures {value:g}%", (x + 0.3, value), fontsize=7, ha="left", va="center")
    return _png(fig)


def speed_figure_name(entry: Entry) -> str | None:
    """speed_<claim id>.png for a speed claim whose details hold its timings (harness.speed_plots draws it)."""
    details = entry.get("details")
    if entry.get("family") != "speed" or not isinstance(details, dict):
        return None
    chunks = details.get("chunk_seconds")
    cpu = isinstance(chunks, dict) and all(isinstance(chunks.get(role), list) and chunks[role] for role in ("bert", "distilbert"))
    grid = isinstance(details.get("cells"), list) and any(isinstance(c, dict) and c.get("speedup") is not None
                                                           for c in details["cells"])
    return f"speed_{entry['id']}.png" if cpu or grid else None


def speed_figures(document: dict[str, Any]) -> dict[str, bytes]:
    """Each timed speed claim's own figure: per-chunk speedups on CPU, or the GPU grid."""
    from harness.reporting import speed_plots

    figures = {}
    for entry in document["claims"]:
        name = speed_figure_name(entry)
        if name is not None:
            draw = speed_plots.cpu_figure if "chunk_seconds" in entry["details"] else speed_plots.grid_figure
            threshold = (_band(entry, "tolerance") or (None, None))[0]
            figures[name] = draw(entry["details"], _number(entry.get("paper_value")), threshold)
    return figures


def render_all(document: dict[str, Any]) -> dict[str, bytes]:
    """Every plot as PNG bytes, keyed by its file name: PLOTS, then one per timed speed claim."""
    overview = dict(zip(PLOTS, (glue_scores(document), size(document), speedup(document), retention(document)), strict=True))
    return overview | speed_figures(document)
