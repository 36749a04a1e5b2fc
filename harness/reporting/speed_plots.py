"""PNG plots of one speed claim's measurement, drawn from the details it records (so results.json can redraw them).

cpu_figure: the speedup of every interleaved chunk along the pass, against the paper's 1.63 and the
claim's threshold, and each model's cumulative time (drift shows as a bend, hitting both alike).
grid_figure: the speedup of every GPU cell (batch size x sequence length) and each model's throughput.
`figure_name` says which speed claims have such a figure (speed_<claim id>.png), `render_all` draws
them. The report's overview plot (harness.reporting.plots.speedup) shows the claims side by side; these
show one claim's inside. This module only draws.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from harness.reporting.plots import COLOURS, plt, png  # pyplot as plots set it up: files only (Agg)
from harness.reporting.results import ClaimResult, RunResults, finite_number
from harness.spec.registry import MODEL_LABELS


def chunk_times(details: dict[str, Any]) -> dict[str, list[float]] | None:
    """Both models' per-chunk seconds when the details hold them whole (equal, non-empty lists of positive
    numbers), else None: a hand-edited results.json draws no figure rather than crashing the report."""
    chunks = details.get("chunk_seconds")
    if not isinstance(chunks, dict):
        return None
    times = {role: chunks.get(role) for role in ("bert", "distilbert")}
    if not all(isinstance(values, list) and values for values in times.values()):
        return None
    if len(times["bert"]) != len(times["distilbert"]):
        return None
    if not all((finite_number(value) or 0) > 0 for values in times.values() for value in values):
        return None
    return times


def grid_cells(details: dict[str, Any]) -> list[dict[str, Any]]:
    """The GPU cells that were measured and are recorded whole (numbers where numbers belong)."""
    cells = details.get("cells")
    if not isinstance(cells, list):
        return []

    def whole(cell: Any) -> bool:
        rates = cell.get("sequences_per_second") if isinstance(cell, dict) else None
        return (isinstance(rates, dict) and all(finite_number(cell.get(key)) is not None
                                                 for key in ("batch_size", "seq_length", "speedup"))
                and all((finite_number(rates.get(role)) or 0) > 0 for role in ("bert", "distilbert")))

    return [cell for cell in cells if whole(cell)]


def figure_name(result: ClaimResult) -> str | None:
    """speed_<claim id>.png for a speed claim whose details hold its timings, else None."""
    if result.claim.family != "speed" or not (chunk_times(result.details) or grid_cells(result.details)):
        return None
    return f"speed_{result.claim.id}.png"


def render_all(run: RunResults) -> dict[str, bytes]:
    """Each timed speed claim's own figure, keyed by its file name: per-chunk speedups on CPU, or the GPU grid."""
    figures = {}
    for result in run.family("speed"):
        name = figure_name(result)
        if name is not None:
            draw = cpu_figure if chunk_times(result.details) else grid_figure
            low = (result.verdict.tolerance_interval or (-math.inf,))[0]
            figures[name] = draw(result.details, result.verdict.paper_value, low if math.isfinite(low) else None)
    return figures


def _reference_lines(ax: Any, paper: float | None, threshold: float | None, measured: float | None) -> None:
    for value, style, label in ((paper, "-", "paper"), (threshold, "--", "threshold (at least)"), (measured, ":", "measured")):
        if value is not None:
            ax.axhline(value, color="black" if label != "measured" else "#2ca02c", linestyle=style, linewidth=1.2,
                       label=f"{label} {value:.3g}x")


def cpu_figure(details: dict[str, Any], paper: float | None = None, threshold: float | None = None) -> bytes:
    """Per-chunk speedups along the pass, and cumulative seconds of each model."""
    chunk_seconds = chunk_times(details) or {"bert": [], "distilbert": []}
    bert, distilbert = chunk_seconds["bert"], chunk_seconds["distilbert"]
    speedups = [b / d for b, d in zip(bert, distilbert, strict=True)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    ax = axes[0]
    ax.plot(range(len(speedups)), speedups, ".", color="grey", markersize=4, label="one chunk")
    whole_pass, median = finite_number(details.get("speedup")), finite_number(details.get("chunk_speedup_median"))
    _reference_lines(ax, paper, threshold, whole_pass)
    ax.set_xlabel(f"chunk ({details.get('chunk_size', '?')} pairs each, in the dataset's order)")
    ax.set_ylabel("t(BERT) / t(DistilBERT)")
    ax.set_title(f"Speedup per chunk: median {median if median is not None else math.nan:.3g}x, "
                 f"whole pass {whole_pass if whole_pass is not None else math.nan:.3g}x", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ax = axes[1]
    for role, times in chunk_seconds.items():
        ax.plot(range(1, len(times) + 1), list(itertools.accumulate(times)), color=COLOURS.get(role),
                label=f"{MODEL_LABELS.get(role, role)}: {sum(times):.1f} s")
    ax.set_xlabel("chunks done")
    ax.set_ylabel("cumulative seconds")
    inputs = details.get("inputs") if isinstance(details.get("inputs"), dict) else {}
    ax.set_title(f"{inputs.get('pairs', '?')} pairs, batch size 1, {details.get('threads', '?')} threads "
                 f"({inputs.get('source', '?')} inputs)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return png(fig)


def grid_figure(details: dict[str, Any], paper: float | None = None, threshold: float | None = None) -> bytes:
    """Speedup per GPU cell (grouped by sequence length) and each model's sequences per second."""
    cells = grid_cells(details)
    labels = [f"b{c['batch_size']}\ns{c['seq_length']}" for c in cells]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    ax = axes[0]
    ax.bar(range(len(cells)), [c["speedup"] for c in cells], color="#2ca02c")
    _reference_lines(ax, paper, threshold, None)
    ax.set_xticks(range(len(cells)), labels, fontsize=8)
    ax.set_ylabel("t(BERT) / t(DistilBERT)")
    ax.set_title(f"Speedup per cell, {details.get('dtype', '?')} on {details.get('gpu', 'GPU')}", fontsize=10)
    ax.legend(fontsize=7)
    ax = axes[1]
    width = 0.4
    for offset, role in ((-width / 2, "bert"), (width / 2, "distilbert")):
        ax.bar([x + offset for x in range(len(cells))], [c["sequences_per_second"][role] for c in cells], width,
               color=COLOURS[role], label=MODEL_LABELS[role])
    ax.set_yscale("log")
    ax.set_xticks(range(len(cells)), labels, fontsize=8)
    ax.set_ylabel("sequences per second")
    ax.set_title("Throughput (b = batch size, s = sequence length)", fontsize=10)
    ax.legend(fontsize=8)
    return png(fig)
