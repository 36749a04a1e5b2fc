"""`python -m harness compare RUN_A RUN_B ...`: runs side by side, each claim's difference judged against their noise.

The first run is the reference; each later run is compared with it, claim by claim (`Difference`: later - first):
  - not compared, with why, where the two cannot be: measured in one run only, another registry row version,
    another protocol (for the speed claim: another pass over STS-B dev);
  - exact (sizes, the paper's own arithmetic): any difference is real;
  - otherwise the 95% interval of the difference adds in quadrature what is known of the noise of both runs:
      seeds            each run's 95% interval of the claim (its judge's account of its seeds: their own spread or the
                       row's published one), as normal standard errors; for a speed claim the timed chunks' bootstrap;
      paired examples  where both caches still hold the per-example predictions of every valid seed the claim read
                       (the cache keys in its details), a paired bootstrap over the same dev examples
                       (harness.judge.significance.replicates: both runs' models on every resample);
    and says which it used; the difference is beyond the noise when that interval excludes 0.
A regression (`--fail-on regression`) is a claim reproduced in the first run that a later run does not reproduce
(not reproduced, inconclusive, or an error), or whose value moved beyond the noise in the wrong direction (down for an
"at least" claim, up for an "at most" one, away from the paper's value for a two-sided one). What differs between the
runs' settings is harness.reporting.compare_settings'. This module reads results and caches; it judges nothing again
(each run's verdict is its own); harness.reporting.compare_report writes the files, harness.cli.compare is the command.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from harness.errors import ClaimsError
from harness.judge import significance
from harness.judge.noise import LEVEL
from harness.judge.verdict import Interval, Status
from harness.measure.finetune.cache import ResultCache
from harness.measure.finetune.rescore import recompute
from harness.measure.measurement import Combination
from harness.paths import DEFAULT_CACHE_DIR
from harness.reporting import results as results_module
from harness.reporting.compare_settings import setting_differences
from harness.reporting.results import ClaimResult, RunResults
from harness.spec.tasks import get_task

LABELS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
EXACT_FAMILIES = ("size", "paper_arithmetic")  # exact measurements: any difference is real
NOT_REPRODUCED = (Status.NOT_REPRODUCED, Status.INCONCLUSIVE, Status.ERROR)  # a reproduced claim lost
Z = NormalDist().inv_cdf((1 + LEVEL) / 2)  # a 95% interval's half-width in standard errors
CACHE_KEY = re.compile(r"[0-9a-f]+/[0-9a-f]+")  # job_id/env_id (harness.measure.finetune.cache.JobKey.id)


@dataclass(frozen=True)
class Run:
    """One run folder: its label (A, B, ...), results and the result cache its predictions are in."""

    label: str
    path: Path
    results: RunResults
    cache: ResultCache
    claims: dict[str, ClaimResult] = field(default_factory=dict)


def load_runs(paths: list[str | Path], cache_dir: Path | None = None) -> list[Run]:
    """Each run folder read (results.read: one line for a folder that is not a run); its cache: --cache-dir, else the
    one its options record, else cache/."""
    if len(paths) > len(LABELS):
        raise ValueError(f"at most {len(LABELS)} runs")
    runs = []
    for label, path in zip(LABELS, paths, strict=False):
        found = results_module.read(path)
        recorded = found.options.get("cache_dir")
        cache = ResultCache(Path(cache_dir or recorded or DEFAULT_CACHE_DIR).expanduser())
        runs.append(Run(label, Path(path), found, cache, {result.claim.id: result for result in found.claims}))
    return runs


@dataclass(frozen=True)
class Difference:
    """A later run's value of a claim minus the first run's, and whether it is beyond their noise."""

    value: float | None
    interval: Interval | None = None
    basis: str = ""  # which noise was used (or why none is known)
    beyond: bool | None = None  # None: not compared, or the noise is unknown
    not_compared: str | None = None  # why the two runs' values cannot be compared

    def reading(self, unit: str = "") -> str:
        """The difference in words: its value, interval, and within or beyond the noise, with the noise used."""
        if self.not_compared:
            return f"not compared: {self.not_compared}"
        unit = f" {unit}" if unit else ""
        text = f"{self.value:+.4g}{unit}"
        if self.interval is not None:
            text += f" [{self.interval[0]:+.4g}, {self.interval[1]:+.4g}]"
        if self.beyond is None:
            return f"{text}: cannot tell ({self.basis})"
        return f"{text}: {'beyond' if self.beyond else 'within'} the noise ({self.basis})"


@dataclass(frozen=True)
class Row:
    """One claim across the runs: each run's result (None where its results lack the claim), each later run's difference."""

    claim_id: str
    results: tuple[ClaimResult | None, ...]
    differences: tuple[Difference, ...]  # runs[1:] against runs[0]
    regressions: tuple[str, ...] = ()

    @property
    def unit(self) -> str:
        return next((r.claim.unit or "" for r in self.results if r is not None), "")


@dataclass(frozen=True)
class Comparison:
    """Every measured claim across the runs, what differs between their settings, and the regressions."""

    runs: tuple[Run, ...]
    rows: tuple[Row, ...]
    settings: tuple[tuple[str, tuple[str, ...]], ...]  # (setting, its value in each run) for the settings that differ
    alike: int  # settings with the same value in every run
    unmeasured: int  # claims no run measured (not shown)

    @property
    def regressions(self) -> list[str]:
        return [line for row in self.rows for line in row.regressions]


def compare(runs: list[Run]) -> Comparison:
    """Compare every claim measured in at least one run; each later run against the first."""
    ids = list(dict.fromkeys(claim_id for run in runs for claim_id in run.claims))
    rows, unmeasured = [], 0
    for claim_id in ids:
        found = tuple(run.claims.get(claim_id) for run in runs)
        if all(r is None or r.verdict.measured is None and r.verdict.status is Status.SKIPPED for r in found):
            unmeasured += 1
            continue
        differences = tuple(difference(runs[0], found[0], run, result) for run, result in zip(runs[1:], found[1:], strict=True))
        lost = tuple(regression(runs[0], found[0], run, result, change)
                     for run, result, change in zip(runs[1:], found[1:], differences, strict=True))
        rows.append(Row(claim_id, found, differences, tuple(line for line in lost if line)))
    settings, alike = setting_differences([run.results for run in runs])
    return Comparison(tuple(runs), tuple(rows), settings, alike, unmeasured)


# ---------------------------------------------------------------------------------------------- one claim, two runs
def protocol_of(run: Run, result: ClaimResult) -> str | None:
    """What a claim was measured under: an accuracy claim's protocol, the speed claim's pass; None for exact claims."""
    details = result.details
    if result.claim.family in EXACT_FAMILIES:
        return None
    if result.claim.family == "speed":
        if "pairs" in details:
            return f"{details.get('protocol')} pass of {details['pairs']} pairs"
        return f"grid of {details['rounds']} rounds per cell" if "rounds" in details else None
    found = sorted({str(value) for value in recorded(details, "protocol")})
    return ", ".join(found) or run.results.options.get("protocol")


def recorded(details: Any, name: str) -> list[Any]:
    """Every value recorded under the key `name`, however deep in a claim's details."""
    if isinstance(details, dict):
        return [v for key, value in details.items() for v in ([value] if key == name else recorded(value, name))]
    return [v for value in details for v in recorded(value, name)] if isinstance(details, list) else []


def not_comparable(first: Run, a: ClaimResult | None, later: Run, b: ClaimResult | None) -> str | None:
    """Why a claim's values in two runs cannot be compared, or None."""
    measured = [run.label for run, r in ((first, a), (later, b)) if r is not None and r.verdict.measured is not None]
    if len(measured) < 2:
        return f"measured in run {measured[0]} only" if measured else "measured in neither run"
    if a.claim.version != b.claim.version:
        return f"registry row version {a.claim.version} in run {first.label}, {b.claim.version} in run {later.label}"
    protocols = protocol_of(first, a), protocol_of(later, b)
    if protocols[0] != protocols[1]:
        return f"protocol {protocols[0]} in run {first.label}, {protocols[1]} in run {later.label}"
    return None


def difference(first: Run, a: ClaimResult | None, later: Run, b: ClaimResult | None) -> Difference:
    """later - first for one claim, with the interval of the noise both runs carry (see the module docstring)."""
    why = not_comparable(first, a, later, b)
    if why:
        return Difference(None, not_compared=why)
    value = b.verdict.measured - a.verdict.measured
    if a.claim.family in EXACT_FAMILIES:
        return Difference(value, (value, value), "exact measurements", not math.isclose(value, 0.0, abs_tol=1e-9))
    errors, basis, unknown = [], [], []
    halves = [_half_width(r) for r in (a, b)]
    if all(h is not None for h in halves):
        errors += [h / Z for h in halves]
        basis.append("timed chunks" if a.claim.family == "speed" else "seeds")
    else:
        unknown.append(f"{'timing' if a.claim.family == 'speed' else 'seed'} noise unknown: no interval in run " + " or ".join(
            run.label for run, h in zip((first, later), halves, strict=True) if h is None))
    try:
        errors.append(paired_sd(first, a, later, b))
        basis.append("paired examples")
    except significance.NoPredictions as error:
        if a.claim.family != "speed":
            unknown.append(f"not paired over the examples: {error}")
    if not basis:
        return Difference(value, None, "; ".join(unknown))
    half = Z * math.sqrt(sum(e * e for e in errors))
    text = " + ".join(basis) + ("" if not unknown else "; " + "; ".join(unknown))
    return Difference(value, (value - half, value + half), text, not (value - half <= 0.0 <= value + half))


def _half_width(result: ClaimResult) -> float | None:
    interval = result.verdict.interval
    if interval is None or not all(map(math.isfinite, interval)):
        return None
    return (interval[1] - interval[0]) / 2


def regression(first: Run, a: ClaimResult | None, later: Run, b: ClaimResult | None, change: Difference) -> str | None:
    """The line `--fail-on regression` fails on, when a claim reproduced in the first run is lost in the later one."""
    if a is None or a.verdict.status is not Status.REPRODUCED or b is None:
        return None
    if b.verdict.status in NOT_REPRODUCED:
        return (f"{a.claim.id}: reproduced in run {first.label} ({a.verdict.measured:.4g}), {b.verdict.status.value} in "
                f"run {later.label}" + ("" if b.verdict.measured is None else f" ({b.verdict.measured:.4g})"))
    if not change.beyond or a.claim.tolerance is None or a.claim.paper_value is None:
        return None
    kind, paper = a.claim.tolerance.kind, a.claim.paper_value
    worse = {"at_least": change.value < 0, "at_most": change.value > 0}.get(
        kind, abs(b.verdict.measured - paper) > abs(a.verdict.measured - paper))
    if not worse:
        return None
    return (f"{a.claim.id}: moved beyond the noise in the wrong direction from run {first.label} to run {later.label}: "
            f"{a.verdict.measured:.4g} -> {b.verdict.measured:.4g} ({change.basis}; paper {paper:g})")


# ---------------------------------------------------------------------------------------------- paired examples
def cells_of(details: Any) -> tuple[list[dict[str, Any]], Combination] | None:
    """The cells an accuracy claim's details record (harness.measure.accuracy) and how its value combines them."""
    if not isinstance(details, dict):
        return None
    if isinstance(details.get("cache_keys"), list):
        return [details], Combination("cell")
    if isinstance(details.get("cell_details"), dict):
        cells = [cell for cell in details["cell_details"].values() if isinstance(cell, dict)]
        return cells, Combination("mean", (tuple(range(len(cells))),))
    bert, distilbert = cells_of(details.get("bert")), cells_of(details.get("distilbert"))
    if bert is None or distilbert is None or bert[1].kind != distilbert[1].kind:
        return None
    k, n = len(bert[0]), len(bert[0]) + len(distilbert[0])
    if bert[1].kind == "cell":  # a gap: BERT - DistilBERT on one task
        return bert[0] + distilbert[0], Combination("difference", ((0,), (1,)))
    return bert[0] + distilbert[0], Combination("ratio", (tuple(range(k, n)), tuple(range(k))))  # the retention


def cell_predictions(run: Run, cell: dict[str, Any]) -> list[Any]:
    """The stored per-example predictions of a cell's valid seeds, from the run's cache (NoPredictions: why none)."""
    seeds, keys, valid = cell.get("seeds"), cell.get("cache_keys"), set(cell.get("valid_seeds") or ())
    if not isinstance(seeds, list) or not isinstance(keys, list) or len(seeds) != len(keys) or not valid:
        raise significance.NoPredictions(f"run {run.label} recorded no cache entry for each valid seed")
    found = []
    for seed, key in zip(seeds, keys, strict=True):
        if seed not in valid:
            continue
        folder = run.cache.root.joinpath(*str(key).split("/")) if CACHE_KEY.fullmatch(str(key)) else None
        stored = run.cache.read(folder, recompute) if folder is not None else None  # the cache's one read: checked, parsed
        if stored is None or stored.refused:
            why = "an unreadable key" if stored is None else stored.refused
            raise significance.NoPredictions(f"run {run.label}'s cache {run.cache.root} no longer holds {key} ({why})")
        split = str(cell.get("split"))
        if stored.predictions is None or split not in stored.predictions:
            why = f" ({stored.unscored.what})" if stored.unscored is not None else ""
            raise significance.NoPredictions(f"run {run.label}'s cache holds no predictions of {key}{why}")
        found.append(stored.predictions[split])
    return found


def paired_sd(first: Run, a: ClaimResult, later: Run, b: ClaimResult) -> float:
    """The sd of (later - first) over a paired bootstrap of the same dev examples (NoPredictions: why there is none)."""
    structures = cells_of(a.details), cells_of(b.details)
    if structures[0] is None or structures[1] is None:
        raise significance.NoPredictions("no per-example predictions recorded for this claim")
    (cells_a, combination), (cells_b, _) = structures
    names = [[(c.get("task"), c.get("metric"), c.get("split")) for c in cells] for cells in (cells_a, cells_b)]
    if not all(isinstance(name, str) for cell in names[0] + names[1] for name in cell):
        raise significance.NoPredictions("the claim's details do not name each cell's task, metric and split")
    if names[0] != names[1]:
        raise significance.NoPredictions("the two runs' claims read different cells")
    groups = [cell_predictions(first, cell) for cell in cells_a] + [cell_predictions(later, cell) for cell in cells_b]
    cells = cells_a + cells_b
    replicates: list[np.ndarray | None] = [None] * len(cells)
    by_task: dict[tuple[str, str], list[int]] = {}
    for index, cell in enumerate(cells):
        by_task.setdefault((str(cell["task"]), str(cell["metric"])), []).append(index)
    for (task, metric), indices in by_task.items():  # every cell of a task, of both runs, on the same resamples
        try:
            spec = get_task(task)
        except ClaimsError as error:
            raise significance.NoPredictions(error.what) from None
        drawn = significance.replicates(spec, metric, [groups[i] for i in indices])
        for index, values in zip(indices, drawn, strict=True):
            replicates[index] = values
    k = len(cells_a)
    values = [combination.value(np.stack(replicates[start:start + k], axis=1)) for start in (0, k)]
    return significance.Spread.of(values[1] - values[0]).sd
