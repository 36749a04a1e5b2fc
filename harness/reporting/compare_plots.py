"""The comparison's one figure: per claim, each run's value and 95% interval beside the paper's value and tolerance.

One small panel per compared claim (each on its own scale: parameters, points and ratios do not share an axis),
one line per run: the paper's value (a black line), its tolerance (shade), each run's measurement (a dot, hollow when
not judged) with its interval (a whisker); a run that did not measure the claim says so. Colours and the PNG encoding
are harness.reporting.plots'. This module only draws.
"""

from __future__ import annotations

import math
from typing import Any

from harness.judge.verdict import Status
from harness.reporting.plots import plt, png
from harness.reporting.results import ClaimResult

MAX_PANELS = 40  # claims drawn; the tables list every one
RUN_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def _limits(results: list[ClaimResult | None]) -> tuple[float, float]:
    values = []
    for result in results:
        if result is None:
            continue
        verdict = result.verdict
        values += [v for v in (verdict.paper_value, verdict.measured) if v is not None]
        values += [v for interval in (verdict.tolerance_interval, verdict.interval) if interval for v in interval
                   if math.isfinite(v)]
    if not values:
        return 0.0, 1.0
    low, high = min(values), max(values)
    margin = max(0.08 * (high - low), 0.02 * abs(high), 1e-3)
    return low - margin, high + margin


def _panel(ax: Any, claim_id: str, results: tuple[ClaimResult | None, ...], labels: list[str]) -> None:
    low, high = _limits(list(results))
    ax.set_xlim(low, high)
    reference = next((r for r in results if r is not None), None)
    band = reference.verdict.tolerance_interval if reference else None
    paper = reference.verdict.paper_value if reference else None
    if band is not None:
        ax.axvspan(band[0] if math.isfinite(band[0]) else low, band[1] if math.isfinite(band[1]) else high,
                   color="grey", alpha=0.25, linewidth=0)
    if paper is not None:
        ax.axvline(paper, color="black", linewidth=2)
    for row, result in enumerate(results):
        colour = RUN_COLOURS[row % len(RUN_COLOURS)]
        if result is None or result.verdict.measured is None:
            ax.text(low + 0.02 * (high - low), row, "not measured", va="center", fontsize=7, color="#a00")
            continue
        if result.verdict.interval is not None:
            ends = [min(max(v, low), high) for v in result.verdict.interval]
            ax.plot(ends, [row, row], color="black", linewidth=1.2, zorder=4)
        hollow = result.verdict.status is Status.NOT_JUDGED
        ax.plot([result.verdict.measured], [row], "o", color="white" if hollow else colour,
                markeredgecolor=colour if hollow else "black", markersize=6, zorder=5)
    ax.set_yticks(range(len(labels)), [f"run {label}" for label in labels], fontsize=7)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    unit = f" ({reference.claim.unit})" if reference and reference.claim.unit else ""
    ax.set_title(f"{claim_id}{unit}", fontsize=8, loc="left")
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="x", alpha=0.3)


def figure(rows: list[tuple[str, tuple[ClaimResult | None, ...]]], labels: list[str]) -> bytes:
    """The figure of up to MAX_PANELS claims (claim id, each run's result), as PNG bytes."""
    shown = rows[:MAX_PANELS]
    height = max(1, len(shown)) * (0.35 * len(labels) + 0.7) + 0.6
    fig, axes = plt.subplots(max(1, len(shown)), 1, figsize=(8, height), layout="constrained", squeeze=False)
    for ax, (claim_id, results) in zip(axes[:, 0], shown, strict=False):
        _panel(ax, claim_id, results, labels)
    if not shown:
        axes[0, 0].text(0.5, 0.5, "no claim was measured in any run", ha="center", va="center")
        axes[0, 0].set_axis_off()
    more = f"; {len(rows) - len(shown)} more in the table" if len(rows) > len(shown) else ""
    fig.suptitle(f"each run's value (dot; hollow: not judged) and 95% interval; paper (black line) and tolerance "
                 f"(shade){more}", fontsize=8)
    return png(fig)
