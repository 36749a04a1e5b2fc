"""A measurement's uncertainty, assembled for the judge: its 95% interval, the intervals of its difference from the
paper's figure (95%, and 90% for the equivalence test "reproduced" needs), the smallest difference the run could
detect, the seeds behind it, the dev set's sampling error and the paired comparisons of the two models.

Per family, by its `noise` in harness.spec.families (`assess`):
  - an accuracy cell (Tables 1 and 2): the seed level of every counted run (harness.judge.noise: the median over
    all runs, failed ones included; the published seed_spread pooled with the run's own valid seeds, weighted by
    whether the runs used the checkpoint and protocol it was measured for; at least FLOOR_SHARE of the dev set's
    sampling sd), the paper's own seeds on the other side of the difference (Claim.paper_seeds); the dev set's
    bootstrap beside it, which does not widen the comparison with the paper (same examples) beyond that floor;
  - a macro score: its cells' seed levels combined (noise.combine);
  - a comparison of the two models (the IMDb and SQuAD gaps, the retention): the seed levels combined
    plus the paired bootstrap over the same examples (both models on every resample) in quadrature: these
    are statements about the two models, not about one sample of examples; McNemar's exact test and the
    paired bootstrap of BERT - DistilBERT per task go beside them;
  - the speed ratios: replicated interleaved sub-passes (the CPU pass) or each GPU cell's rounds, with a floor for
    what one pass cannot see (harness.judge.speed_interval), and the two-sided reading against 1.63x;
  - size and the paper's arithmetic: exact (None).
A one-sided claim (at_least, at_most) states a bound, so the paper's own seeds do not enter its difference.
The seed level is `complete` when it is known for every cell: otherwise the judge says neither "not
reproduced" nor "reproduced". Each cell's bootstrap and each McNemar test is computed once a process, however
many claims read the cell. Everything here is JSON-ready, so results.json reads back into the same Uncertainty.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.judge import noise, significance, speed_interval
from harness.measure.measurement import Cell, Measurement
from harness.spec import families
from harness.spec.registry import Claim, Registry, SeedSpread
from harness.spec.tasks import get_task

ONE_SIDED = ("at_least", "at_most")
Interval = tuple[float, float]  # low, high; -inf / inf for an open side


@dataclass(frozen=True)
class Uncertainty:
    """What the judge knows of a measurement's noise (intervals at 95%, in the claim's unit)."""

    interval: Interval | None  # the measurement's
    difference: Interval | None  # of measured - paper (the paper's own seeds included for a two-sided claim)
    detectable: float | None  # the smallest difference beyond the tolerance called "not reproduced" with 80% power
    complete: bool  # the seed level is known: only then can the verdict be "not reproduced"
    source: str  # where the noise comes from, one line
    seeds: dict[str, Any] = field(default_factory=dict)  # {"valid": n, "invalid": n, "runs": [...]}
    dev_set: dict[str, Any] | None = None  # the bootstrap over the examples: sd, interval, resamples (or why none)
    comparisons: dict[str, Any] = field(default_factory=dict)  # paired tests per task; the speed's two-sided reading
    equivalence: Interval | None = None  # the 90% interval of measured - paper: "reproduced" needs it inside the tolerance

    def to_json(self) -> dict[str, Any]:
        return {"interval": _listed(self.interval), "difference": _listed(self.difference),
                "equivalence": _listed(self.equivalence), "detectable": self.detectable,
                "complete": self.complete, "source": self.source, "seeds": self.seeds, "dev_set": self.dev_set,
                "comparisons": self.comparisons}

    @classmethod
    def from_json(cls, raw: Any) -> Uncertainty | None:
        """Read leniently (results.json): None for anything that is not a mapping."""
        if not isinstance(raw, dict):
            return None

        def mapping(value: Any) -> dict[str, Any]:
            return value if isinstance(value, dict) else {}

        detectable = raw.get("detectable")
        return cls(_pair(raw.get("interval")), _pair(raw.get("difference")),
                   float(detectable) if _finite(detectable) else None, raw.get("complete") is True,
                   str(raw.get("source") or ""), mapping(raw.get("seeds")),
                   raw.get("dev_set") if isinstance(raw.get("dev_set"), dict) else None, mapping(raw.get("comparisons")),
                   _pair(raw.get("equivalence")))


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _listed(interval: Interval | None) -> list[float] | None:
    return None if interval is None else [float(interval[0]), float(interval[1])]


def _pair(raw: Any) -> Interval | None:
    """[low, high] read back; an open side is -inf or inf (one run alone is open above), NaN is refused."""
    def end(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)

    if isinstance(raw, (list, tuple)) and len(raw) == 2 and all(map(end, raw)) and raw[0] <= raw[1] \
            and (math.isfinite(raw[0]) or math.isfinite(raw[1])):
        return float(raw[0]), float(raw[1])
    return None


def margin(claim: Claim) -> float:
    """The tolerance's half-width on the side a difference is judged (relative: of the paper's value)."""
    tolerance = claim.tolerance
    return tolerance.value * abs(claim.paper_value) if tolerance.kind == "relative" else tolerance.value


def paper_seeds(claim: Claim) -> int:
    """The paper's runs behind its figure in a comparison: none for a one-sided claim (a bound, not a measurement)."""
    return 0 if claim.tolerance and claim.tolerance.kind in ONE_SIDED else claim.paper_seeds


def default(claim: Claim, measured: float) -> Uncertainty | None:
    """A bare value with no seeds behind it: one run with the row's prior for an accuracy cell (as measured: on the
    prior's checkpoint and protocol), unknown for the other accuracy claims, exact (None) for every family whose noise
    is not the seeds' (harness.spec.families)."""
    if families.get(claim.family).noise != "seeds":
        return None
    cell = families.is_cell(claim.family, claim.task, claim.metric)
    level = noise.seed_noise([measured], claim.seed_spread if cell else None, paper_seeds(claim) if cell else 0)
    return of_seed_level(claim, level, {"valid": 1, "invalid": 0, "runs": []})


def assess(claim: Claim, measurement: Measurement, registry: Registry | None = None) -> Uncertainty | None:
    """The uncertainty of a claim's measurement (see the module docstring); None: exact."""
    if families.get(claim.family).noise == "timing":
        return _speed(claim, measurement.details)
    if not measurement.cells:
        return default(claim, measurement.value)
    cells, combination = measurement.cells, measurement.combination
    priors = [claim.seed_spread if combination.kind == "cell" else prior_of(registry, cell) for cell in cells]
    replicates, unavailable = _replicates(cells)
    floors = [None] * len(cells) if replicates is None else \
        [noise.FLOOR_SHARE * float(np.std(values[np.isfinite(values)], ddof=1)) for values in replicates]
    parts = [_seed_level(cell, prior, paper_seeds(claim), floor) for cell, prior, floor in zip(cells, priors, floors, strict=True)]
    dev_set = {"unavailable": unavailable} if replicates is None else \
        significance.Spread.of(combination.value(np.stack(replicates, axis=1))).to_json()
    comparisons = _comparisons(cells, replicates) if combination.kind in ("difference", "ratio") else {}
    if combination.kind == "cell":
        return of_seed_level(claim, parts[0], _seeds([cells[0]]), dev_set, comparisons)
    extra = dev_set["sd"] if comparisons and "sd" in dev_set else 0.0  # a comparison of the models: the examples too
    combined = noise.combine(measurement.value, parts, combination.gradient([c.median for c in cells]), extra)
    sources = sorted({part.source.split(" (")[0] for part in parts})
    source = "; ".join(sources) + (f"; plus the paired bootstrap over the examples (sd {extra:.3g})" if extra else "")
    return of_combined(claim, combined, f"{len(cells)} cells: {source}", _seeds(cells), dev_set, comparisons)


def _seed_level(cell: Cell, prior: SeedSpread | None, paper: int, floor: float | None) -> noise.SeedNoise:
    """A cell's seed level from its counted runs (failed ones included), its prior weighted by where the runs ran."""
    counted = cell.counted
    values = [math.nan if run.value is None else run.value for run in counted]
    weight, why = noise.prior_weight(cell.role, cell.checkpoint, cell.protocol)
    return noise.seed_noise(values, prior, paper, valid=[run.valid for run in counted], weight=weight, weight_reason=why,
                            floor=floor if floor and math.isfinite(floor) else None)


def of_seed_level(claim: Claim, level: noise.SeedNoise, seeds: dict[str, Any], dev_set: dict[str, Any] | None = None,
                  comparisons: dict[str, Any] | None = None) -> Uncertainty:
    """The Uncertainty of one cell's seed level (harness.judge.noise.seed_noise), as the judge reads it."""
    if bool(level.error):
        return Uncertainty(None, None, None, False, "half or more of the runs failed: no measurement", seeds, dev_set,
                           comparisons or {})
    detectable = level.detectable(margin(claim))
    return Uncertainty(_floats(level.interval()), _floats(level.difference(claim.paper_value)),
                       None if detectable is None else float(detectable), level.known, level.source, seeds, dev_set,
                       comparisons or {}, _floats(level.equivalence(claim.paper_value)))


def of_combined(claim: Claim, combined: noise.Combined, source: str, seeds: dict[str, Any],
                dev_set: dict[str, Any] | None = None, comparisons: dict[str, Any] | None = None) -> Uncertainty:
    """The Uncertainty of a value combined from cells (harness.judge.noise.combine), as the judge reads it."""
    detectable = combined.detectable(margin(claim))
    return Uncertainty(_floats(combined.interval()), _floats(combined.difference(claim.paper_value)),
                       None if detectable is None else float(detectable), combined.standard_error is not None, source,
                       seeds, dev_set, comparisons or {}, _floats(combined.equivalence(claim.paper_value)))


def _floats(interval: tuple[Any, Any] | None) -> Interval | None:
    return None if interval is None else (float(interval[0]), float(interval[1]))


def prior_of(registry: Registry | None, cell: Cell) -> SeedSpread | None:
    """The published seed spread of a cell, from its own row of the registry (Tables 1 and 2), if any."""
    if registry is None:
        return None
    distilled = cell.role.endswith("(D)")
    for claim in registry.claims:
        if families.is_cell(claim.family, claim.task, claim.metric) \
                and (claim.task, claim.model, claim.metric) == (cell.task, cell.role.split()[0], cell.metric) \
                and bool(claim.params.get("distillation")) == distilled:
            return claim.seed_spread
    return None


def _seeds(cells: tuple[Cell, ...] | list[Cell]) -> dict[str, Any]:
    runs = [{"cell": cell.label, "seed": run.seed, "valid": run.valid, "reason": run.reason}
            for cell in cells for run in cell.runs]
    valid = sum(run["valid"] for run in runs) if runs else sum(len(cell.values) for cell in cells)
    return {"valid": valid, "invalid": sum(not run["valid"] for run in runs), "runs": runs}


# Each cell's bootstrap and each seed pair's McNemar test, computed once a process however many claims read them
# (a GLUE cell: its row, its macro score, both retentions). Keyed by what they depend on, the predictions by id:
# an entry keeps its predictions alive, so no id is reused while it stands; bounded, oldest out first.
_MEMO: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = {}
MEMO_LIMIT = 1024


def _key(kind: str, parts: tuple[Any, ...], predictions: tuple[Any, ...]) -> tuple[Any, ...]:
    return (kind, *parts, *map(id, predictions))


def _remember(key: tuple[Any, ...], predictions: tuple[Any, ...], value: Any) -> Any:
    while len(_MEMO) >= MEMO_LIMIT:
        del _MEMO[next(iter(_MEMO))]
    _MEMO[key] = (predictions, value)
    return value


def _replicates(cells: tuple[Cell, ...]) -> tuple[list[np.ndarray] | None, str | None]:
    """Each cell's bootstrap over its task's examples (every cell of a task on the same resamples), or why there are none.

    A cell's replicates depend on its predictions, its task and metric and the example order its task's cells are
    aligned to (significance.aligned: the first predictions'), nothing else: they are memoised under those, and a
    task whose cells are not all known yet is computed whole, as one paired bootstrap."""
    if any(len(cell.predictions) != len(cell.values) for cell in cells):
        return None, "no stored per-example predictions for every valid seed"
    by_task: dict[tuple[str, str], list[int]] = {}
    for index, cell in enumerate(cells):
        by_task.setdefault((cell.task, cell.metric), []).append(index)
    out: list[np.ndarray | None] = [None] * len(cells)
    try:
        for (task, metric), indices in by_task.items():
            groups = [tuple(cells[i].predictions) for i in indices]
            order = tuple(str(example) for example in groups[0][0].example_ids)
            keys = [_key("replicates", (task, metric, order), group) for group in groups]
            if any(key not in _MEMO for key in keys):
                for key, group, values in zip(keys, groups, significance.replicates(get_task(task), metric, groups), strict=True):
                    values.flags.writeable = False  # shared by every claim that reads the cell
                    _remember(key, group, values)
            for index, key in zip(indices, keys, strict=True):
                out[index] = _MEMO[key][1]
    except significance.NoPredictions as error:
        return None, str(error)
    return out, None


def _mcnemar(spec: Any, ours: Any, theirs: Any, seed: int) -> significance.McNemar:
    """McNemar's exact test of one seed pair, memoised like the replicates."""
    key = _key("mcnemar", (spec.name, seed), (ours, theirs))
    return _MEMO[key][1] if key in _MEMO else _remember(key, (ours, theirs), significance.mcnemar(spec, ours, theirs, [seed, seed]))


def _valid_seeds(cell: Cell) -> list[int]:
    """The seeds of a cell's values and predictions, in order."""
    return [run.seed for run in cell.runs if run.valid] or list(range(len(cell.values)))


def _comparisons(cells: tuple[Cell, ...], replicates: list[np.ndarray] | None) -> dict[str, Any]:
    """Per task: BERT - DistilBERT (paired bootstrap over the same examples) and McNemar's exact test per seed pair."""
    tasks: dict[str, Any] = {}
    for task in dict.fromkeys(cell.task for cell in cells):
        pair = {cell.role: i for i, cell in enumerate(cells) if cell.task == task}
        if not {"bert", "distilbert"} <= set(pair):
            continue
        bert, distilbert = cells[pair["bert"]], cells[pair["distilbert"]]
        entry: dict[str, Any] = {"metric": bert.metric, "difference": bert.median - distilbert.median}
        if replicates is not None:
            entry["paired_bootstrap"] = significance.Spread.of(replicates[pair["bert"]] - replicates[pair["distilbert"]]).to_json()
        spec = get_task(task)
        if spec.kind != "regression" and bert.predictions and distilbert.predictions:
            theirs = dict(zip(_valid_seeds(distilbert), distilbert.predictions, strict=True))
            try:
                entry["mcnemar"] = [_mcnemar(spec, ours, theirs[seed], seed).to_json()
                                    for seed, ours in zip(_valid_seeds(bert), bert.predictions, strict=True) if seed in theirs]
            except significance.NoPredictions as error:
                entry["mcnemar"] = {"unavailable": str(error)}
        tasks[task] = entry
    return {"tasks": tasks} if tasks else {}


def _speed(claim: Claim, details: dict[str, Any]) -> Uncertainty | None:
    """A speed ratio's intervals from its recorded timings (CPU: the sub-passes; GPU: each cell's rounds, the smallest
    cell's), and the two-sided reading against the paper's ratio; None where nothing was timed."""
    chunks = details.get("chunk_seconds")
    if isinstance(chunks, dict) and chunks.get("bert") and len(chunks["bert"]) == len(chunks.get("distilbert", ())):
        groups = details.get("sub_pass_of_chunk")
        groups = groups if isinstance(groups, list) and len(groups) == len(chunks["bert"]) else None
        found = speed_interval.ratio_interval(chunks["bert"], chunks["distilbert"], groups)
        what = f"{found.groups if found else 1} sub-passes of the {len(chunks['bert'])} timed chunks"
    elif isinstance(details.get("cells"), list) and details["cells"]:
        rounds = [cell.get("round_seconds") for cell in details["cells"] if "speedup" in cell]
        if not rounds or not all(isinstance(r, dict) and r.get("bert") and r.get("distilbert") for r in rounds):
            return None
        found = speed_interval.smallest_of([(r["bert"], r["distilbert"]) for r in rounds])
        what = f"the timed rounds of each of {len(rounds)} cells (Bonferroni over the cells)"
    else:
        return None
    if found is None:
        return Uncertainty(None, None, None, False, f"{what}: fewer than 2 replicates, no interval")
    paper = claim.paper_value
    reading = ("consistent with" if found.low <= paper <= found.high else "above" if found.low > paper else "below")
    two_sided = {"paper": paper, "interval": [found.low, found.high], "reading": reading,
                 "sentence": f"the ratio's 95% interval [{found.low:.3f}, {found.high:.3f}] is {reading} the paper's "
                             f"{paper:g}x" + ("" if reading == "consistent with" else " (two-sided: differs)")}
    return Uncertainty((found.low, found.high), (found.low - paper, found.high - paper), None, True,
                       f"{what}, plus {100 * speed_interval.RUN_TO_RUN:g}% between passes", {}, None,
                       {"two_sided": two_sided}, (found.equivalence_low - paper, found.equivalence_high - paper))
