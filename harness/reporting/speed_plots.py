"""PNG plots of one speed claim's measurement, drawn from the details it records (so results.json can redraw them).

cpu_figure: the speedup of every interleaved chunk along the pass, against the paper's 1.63 and the
claim's threshold, and each model's cumulative time (drift shows as a bend, hitting both alike).
grid_figure: the speedup of every GPU cell (batch size x sequence length) and each model's throughput.
The report's overview plot (harness.plots.speedup) shows the claims side by side; these show one
claim's inside. This module only draws.
"""

from __future__ import annotations

import io
import itertools
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {"bert": "#1f77b4", "distilbert": "#ff7f0e"}
LABELS = {"bert": "BERT-base", "distilbert": "DistilBERT"}


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buffer.getvalue()


def _reference_lines(ax: Any, paper: float | None, threshold: float | None, measured: float | None) -> None:
    for value, style, label in ((paper, "-", "paper"), (threshold, "--", "threshold (at least)"), (measured, ":", "measured")):
        if value is not None:
            ax.axhline(value, color="black" if label != "measured" else "#2ca02c", linestyle=style, linewidth=1.2,
                       label=f"{label} {value:.3g}x")


def cpu_figure(details: dict[str, Any], paper: float | None = None, threshold: float | None = None) -> bytes:
    """Per-chunk speedups along the pass, and cumulative seconds of each model."""
    chunk_seconds: dict[str, list[float]] = details["chunk_seconds"]
    bert, distilbert = chunk_seconds["bert"], chunk_seconds["distilbert"]
    speedups = [b / d for b, d in zip(bert, distilbert, strict=True)]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    ax = axes[0]
    ax.plot(range(len(speedups)), speedups, ".", color="grey", markersize=4, label="one chunk")
    _reference_lines(ax, paper, threshold, details.get("speedup"))
    ax.set_xlabel(f"chunk ({details.get('chunk_size', '?')} pairs each, in the dataset's order)")
    ax.set_ylabel("t(BERT) / t(DistilBERT)")
    ax.set_title(f"Speedup per chunk: median {details.get('chunk_speedup_median', float('nan')):.3g}x, "
                 f"whole pass {details.get('speedup', float('nan')):.3g}x", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    ax = axes[1]
    for role, times in chunk_seconds.items():
        ax.plot(range(1, len(times) + 1), list(itertools.accumulate(times)), color=COLOURS.get(role),
                label=f"{LABELS.get(role, role)}: {sum(times):.1f} s")
    ax.set_xlabel("chunks done")
    ax.set_ylabel("cumulative seconds")
    inputs = details.get("inputs", {})
    ax.set_title(f"{inputs.get('pairs', '?')} pairs, batch size 1, {details.get('threads', '?')} threads "
                 f"({inputs.get('source', '?')} inputs)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def grid_figure(details: dict[str, Any], paper: float | None = None, threshold: float | None = None) -> bytes:
    """Speedup per GPU cell (grouped by sequence length) and each model's sequences per second."""
    cells = [c for c in details["cells"] if c.get("speedup") is not None]
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
               color=COLOURS[role], label=LABELS[role])
    ax.set_yscale("log")
    ax.set_xticks(range(len(cells)), labels, fontsize=8)
    ax.set_ylabel("sequences per second")
    ax.set_title("Throughput (b = batch size, s = sequence length)", fontsize=10)
    ax.legend(fontsize=8)
    return _png(fig)
