"""Scores from stored predictions, for a fresh job and for `python -m harness rescore` alike: metrics and validity.

`scores(spec, predictions, nonfinite_loss_step)` is the one place a job's per-example predictions become
the metrics and the validity its cache entry holds: harness.measure.finetune.training calls it after training,
and every read of a cache entry (ResultCache.read, given `recompute`) when a job's entry was edited by hand,
when `python -m harness check` scores it again, and in the rescore command for every entry of a cache after a
fix to the metric code, which is not part of any cache key
(harness.measure.finetune.identity). The command trains nothing: it recomputes each entry's scores with today's
code, rewrites (atomically, under the job's lock) only the entries whose scores changed, and says what
changed; an entry without predictions (written by an older harness) is named and left as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.measure.finetune.cache import ResultCache
from harness.measure.finetune.predictions import SplitPredictions, metrics_of
from harness.measure.finetune.validity import Validity, judge
from harness.spec.tasks import TaskSpec, get_task


def scores(spec: TaskSpec, predictions: Mapping[str, SplitPredictions], nonfinite_loss_step: int | None) -> dict[str, Any]:
    """{"metrics": {split: {metric: points or None}}, "validity": {...}} of a job's stored predictions."""
    metrics = {split: metrics_of(spec, split_predictions) for split, split_predictions in predictions.items()}
    if spec.paper_split in predictions:
        validity = judge(spec, predictions[spec.paper_split], nonfinite_loss_step)
    else:
        validity = Validity(False, f"no predictions on {spec.paper_split}, the paper's split")
    return {"metrics": metrics, "validity": validity.to_json()}


def recompute(entry: Mapping[str, Any], predictions: Mapping[str, SplitPredictions]) -> dict[str, Any]:
    """A stored entry's scores recomputed from its predictions with today's metric code."""
    return scores(get_task(entry["configuration"]["task"]["name"]), predictions, entry.get("nonfinite_loss_step"))


def _differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    changes = []
    splits = sorted(set(old.get("metrics") or {}) | set(new["metrics"]))
    for split in splits:
        before, after = (old.get("metrics") or {}).get(split, {}), new["metrics"].get(split, {})
        for name in sorted(set(before) | set(after)):
            if before.get(name) != after.get(name):
                changes.append(f"{split} {name} {_text(before.get(name))} -> {_text(after.get(name))}")
    if old.get("validity") != new["validity"]:
        was = old.get("validity") or {}
        changes.append(f"validity {_valid_text(was)} -> {_valid_text(new['validity'])} ({new['validity']['reason']})")
    return changes


def _text(value: Any) -> str:
    return "absent" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def _valid_text(validity: Mapping[str, Any]) -> str:
    return "unchecked" if "valid" not in validity else "valid" if validity["valid"] else "invalid"


def rescore_cache(cache: ResultCache) -> dict[str, list[str]]:
    """Recompute every entry's scores; {"changed": lines, "unchanged": folders, "left": lines} (nothing trained)."""
    report: dict[str, list[str]] = {"changed": [], "unchanged": [], "left": []}
    for folder in cache.entries():
        with cache.lock_folder(folder):
            found = cache.read(folder, recompute)
            name = folder.relative_to(cache.root).as_posix()
            if found.refused or found.unscored is not None:
                report["left"].append(f"{name}: {found.refused or found.unscored.what}")
                continue
            assert found.entry is not None and found.scores is not None
            changes = _differences(found.entry, found.scores)
            if not changes and not found.problem:
                report["unchanged"].append(name)
                continue
            cache.rewrite_scores(folder, found.entry, found.scores)
            job = found.entry.get("job", "")
            report["changed"].append(f"{name} ({job}): " + ("; ".join(changes) or "digest restored, values unchanged"))
    for path in cache.misplaced():
        report["left"].append(f"{path.relative_to(cache.root).as_posix()}: a file where a cache folder belongs, not an entry "
                              "(a run that needs it removes it and trains the job)")
    return report
