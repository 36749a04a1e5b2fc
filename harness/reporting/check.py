"""`python -m harness check RUN_DIR`: does a run's results.json follow from the registry, the cache and its measurements?

A run is checked, not trusted (as MLPerf's submission checker and lm-eval's integrity checks do):
0. its inputs and its wholeness (harness.reporting.integrity): the registry the run read, found by its digest;
   the cache folder; every claim of the registry present, a measured verdict with its `measured`, the
   `summary` counts; the run's options giving the cache keys its claims read;
1. the registry: each claim of results.json against its registry row at the recorded version (a row whose
   version moved since the run is named: results.json cannot be checked against another definition);
2. the cache: every fine-tuning job a claim read (the cache keys in its details) against its own content
   digests (harness.measure.finetune.cache), and its stored metrics against its stored predictions scored with
   today's metric code (harness.measure.finetune.rescore);
3. the measurements: each accuracy value recomputed from the cached per-example predictions through the
   claims' own AccuracyRunner, read-only (nothing trains); each CPU speedup from its recorded chunk times;
   each size from the architectures; each paper check from the registry's figures;
4. the verdicts: each judged again from the recomputed measurement (or, where none could be recomputed,
   from the one results.json records), and its message written again from the recorded measurement and interval;
5. the errors: a fine-tuning claim that ended in `error` (its runs failed) is measured again from the cache, read-only,
   and must end in the same error, with the same message and no summary; another family's error cannot be
   reproduced here and is said so (not checked).
Every value that does not follow is named with what results.json says and what follows; what could not be
checked is said with why. The command exits 1 when anything does not follow, and when anything could not be
checked unless told that is acceptable (--allow-unchecked); 0 when the run checks out. This module writes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import ClaimsError, MissingInput, first_line
from harness.judge.verdict import Status, Verdict, judge, judge_measurement
from harness.measure.measurement import Measurement
from harness.paths import PROJECT_ROOT
from harness.reporting import integrity
from harness.reporting.results import ClaimResult, RunResults
from harness.spec import families
from harness.spec.registry import Claim, Registry

DEFINITION = ("statement", "source", "paper_value", "unit", "model", "task", "metric", "tolerance", "seed_spread",
              "paper_seeds", "known_discrepancy", "out_of_scope", "params")  # what a row's version pins
RELATIVE = 1e-6  # values agree when within this share (a recomputed measurement: its family's `agreement`)
JOB_OPTIONS = ("protocol", "protocols", "seeds", "bert_checkpoint", "distilbert_checkpoint", "max_train_samples", "device", "data_dir")


def close(a: float | None, b: float | None, relative: float = RELATIVE) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=relative, abs_tol=relative)


class Check:
    """The findings (values that do not follow) and notes (what could not be checked) of one run."""

    def __init__(self, run: RunResults, registry: Registry, cache_dir: Path):
        from harness.measure.finetune.cache import ResultCache

        self.run, self.registry, self.cache = run, registry, ResultCache(cache_dir)
        self.findings: list[str] = []
        self.notes: list[str] = []
        self.recomputed = 0
        self.errors_reproduced = 0  # fine-tuning claims whose error follows again from the cache
        self._runner: Any = None

    # ------------------------------------------------------------------ the parts
    def all(self) -> Check:
        self.findings += integrity.whole(self.run, self.registry)
        rows = {claim.id: claim for claim in self.registry.claims}
        for result in self.run.claims:
            row = rows.get(result.claim.id)
            if row is None:
                self.findings.append(f"{result.claim.id}: not a claim of the registry {self.registry.path}")
            elif row.version != result.claim.version:
                self.notes.append(f"{result.claim.id}: recorded at version {result.claim.version}, the registry's row is "
                                  f"at version {row.version}: check it with the registry of that version (--registry)")
            else:
                self.definition(result, row)
                self.verdict(result, row)
        for key_id in dict.fromkeys(key for result in self.run.claims for key in cache_keys(result.details)):
            self.cache_entry(key_id)
        return self

    def definition(self, result: ClaimResult, row: Claim) -> None:
        for name in DEFINITION:
            recorded, registered = getattr(result.claim, name), getattr(row, name)
            if recorded != registered:
                self.findings.append(f"{row.id}: results.json says {name} {recorded!r}, its registry row at the same "
                                     f"version says {registered!r}")

    def verdict(self, result: ClaimResult, row: Claim) -> None:
        recorded = result.verdict
        if recorded.status is Status.ERROR:
            self.error(result, row)
            return
        if recorded.status is Status.SKIPPED or recorded.measured is None:
            return  # a measured verdict without `measured` is integrity.whole's finding
        if not self.options_give_its_jobs(result, row):
            return
        found = len(self.findings)
        self.judged_again(result, row)
        if len(self.findings) == found:  # the values follow: so must the words written from them
            said = judge(row, recorded.measured, recorded.uncertainty, not_judged=recorded.not_judged).message
            if said != recorded.message:
                self.findings.append(f"{row.id}: results.json's message says {recorded.message!r}, its recorded measurement "
                                     f"and interval give {said!r}")

    def error(self, result: ClaimResult, row: Claim) -> None:
        """An error of the run (no measurement): a fine-tuning claim's is reproduced from the cache, read-only (the same
        error must follow, with the same message and no summary); any other cannot be reproduced here."""
        recorded = result.verdict
        if not families.get(row.family).fine_tuned:
            self.notes.append(f"{row.id}: an error of the run ({first_line(recorded.message or '', 120)!r}) that check "
                              "cannot reproduce: its message is not checked")
            return
        if not self.options_give_its_jobs(result, row, ended_early=True):
            return
        try:
            measurement = self.measurement(result, row)
        except MissingInput as missing:
            self.notes.append(f"{row.id}: its error not reproduced ({missing.what})")
            return
        except ClaimsError as error:
            self.errors_reproduced += 1
            follows = f"{row.id}: {error}"
            if follows != recorded.message:
                self.findings.append(f"{row.id}: results.json's message says {recorded.message!r}, "
                                     f"{families.get(row.family).recomputed_from} give {follows!r}")
            if result.summary is not None:
                self.findings.append(f"{row.id}: results.json's summary says {result.summary!r}, but the claim ended in an "
                                     "error, which has none")
            return
        self.findings.append(f"{row.id}: results.json says 'error' ({first_line(recorded.message or '', 120)!r}), "
                             f"{families.get(row.family).recomputed_from} give measured {measurement.value!r}")

    def judged_again(self, result: ClaimResult, row: Claim) -> None:
        """The measurement recomputed (or, where it cannot be, the recorded one) and judged again."""
        recorded = result.verdict
        try:
            measurement = self.measurement(result, row)
        except MissingInput as missing:
            measurement = None
            self.notes.append(f"{row.id}: measurement not recomputed ({missing.what}); its verdict is judged again "
                              "from the recorded measurement")
        except ClaimsError as error:
            self.findings.append(f"{row.id}: its measurement cannot be recomputed: {error.what}")
            return
        if measurement is None:
            again = judge(row, recorded.measured, recorded.uncertainty, not_judged=recorded.not_judged)
        else:
            self.recomputed += 1
            relative = families.get(row.family).agreement
            if not close(measurement.value, recorded.measured, relative):
                self.findings.append(f"{row.id}: results.json says measured {recorded.measured!r}, "
                                     f"{families.get(row.family).recomputed_from} give {measurement.value!r}")
            if measurement.summary and result.summary is not None and measurement.summary != result.summary:
                self.findings.append(f"{row.id}: results.json's summary says {result.summary!r}, "
                                     f"{families.get(row.family).recomputed_from} give {measurement.summary!r}")
            again = judge_measurement(row, measurement, self.registry)
        self.compare(row, recorded, again)

    def options_give_its_jobs(self, result: ClaimResult, row: Claim, *, ended_early: bool = False) -> bool:
        """Whether the jobs the run's recorded options plan for a fine-tuning row are the ones its claim read (its
        details' cache keys): an option edited after the run (the protocol, the seeds, a checkpoint) gives others. A claim
        that ended in an error (ended_early) may have stopped before it read them all: each it read must be planned."""
        recorded = set(cache_keys(result.details))
        if not recorded or not families.get(row.family).fine_tuned:
            return True
        from harness.measure.finetune.job import job_key

        try:
            planned = [job_key(job).id for job in self.accuracy_runner().planned_jobs([row])]
        except ClaimsError:  # an input to the keys is not here: the recomputation says so
            return True
        options = ", ".join(f"{name} {self.option(name)!r}" for name in JOB_OPTIONS if self.option(name) is not None)
        if ended_early:
            stray = sorted(recorded.difference(planned))
            if stray:
                self.findings.append(f"{row.id}: results.json's options ({options}) do not give {len(stray)} job(s) its "
                                     f"claim read (cache key {stray[0]}): options edited after the run?")
            return not stray
        unread = [key for key in planned if key not in recorded]
        if unread:
            self.findings.append(f"{row.id}: results.json's options ({options}) give {len(unread)} job(s) its claim did not "
                                 f"read (cache key {unread[0]}): options edited after the run?")
        return not unread

    def compare(self, row: Claim, recorded: Verdict, again: Verdict) -> None:
        if again.status is not recorded.status:
            self.findings.append(f"{row.id}: results.json says {recorded.status.value!r}, the judge gives "
                                 f"{again.status.value!r} ({again.message})")
        for name in ("interval", "difference", "detectable"):
            said, follows = (getattr(v.uncertainty, name, None) if v.uncertainty else None for v in (recorded, again))
            pairs = zip(said or (), follows or (), strict=False) if isinstance(said, tuple) else [(said, follows)]
            if (said is None) != (follows is None) or not all(close(a, b, 1e-3) for a, b in pairs):
                self.findings.append(f"{row.id}: results.json says {name} {said!r}, the judge gives {follows!r}")

    def measurement(self, result: ClaimResult, row: Claim) -> Measurement:
        """The claim's measurement recomputed from what it rests on, by its family's `recompute` (harness.spec.families;
        MissingInput: that is not here)."""
        family = families.get(row.family)
        if family.recompute is None:
            raise MissingInput(f"the {row.family} family has no measurement to recompute")
        return families.resolve(family.recompute)(self, result, row)

    def cache_entry(self, key_id: str) -> None:
        """A job's entry against its digests, and its metrics against its predictions scored with today's code."""
        from harness.measure.finetune.rescore import recompute

        found = self.cache.read(self.cache.root.joinpath(*key_id.split("/")), recompute)
        if found.absent:
            self.notes.append(f"cache entry {key_id}: not in {self.cache.root}, so not checked")
        elif found.problem:
            self.findings.append(f"cache entry {found.folder}: {found.problem}")
        elif found.unscored is not None:
            self.notes.append(f"cache entry {key_id}: {found.unscored.what}")
        elif found.scores_differ:
            self.findings.append(f"cache entry {found.folder}: its metrics {found.entry.get('metrics')} differ from its "
                                 f"predictions scored with today's metric code, {found.scores['metrics']} "
                                 "(`python -m harness rescore` rewrites them after a metric fix)")

    # ------------------------------------------------------------------ the run's options
    def option(self, name: str) -> Any:
        return self.run.options.get(name)

    def accuracy_runner(self) -> Any:
        """The AccuracyRunner the run's recorded options describe, reading from the cache only."""
        if self._runner is None:
            from harness.measure.accuracy import AccuracyRunner

            self._runner = AccuracyRunner.from_options(self.run.options, PROJECT_ROOT, self.cache, read_only=True)
        return self._runner


# ------------------------------------------------------------------ how each family is recomputed (harness.spec.families)
def recompute_accuracy(check: Check, result: ClaimResult, row: Claim) -> Measurement:
    """An accuracy row from the cached predictions, through the claims' own AccuracyRunner, read-only: nothing trains,
    nothing warns, a damaged entry raises."""
    return check.accuracy_runner().measure(row)


def recompute_speed(check: Check, result: ClaimResult, row: Claim) -> Measurement:
    """A speed row from its recorded timings: its value, whether it is judged (a quick pass or grid is not), and its
    summary line written again from its recorded details (the CPU row's from its chunk times, a GPU row's from its grid's
    cells; one whose details lack a part of it is not compared)."""
    from harness.measure.speed.runner import cpu_summary, gpu_summary, quick_reason

    details = result.details
    try:
        if isinstance(details.get("chunk_seconds"), dict):
            summary = cpu_summary(details)
        else:
            summary = gpu_summary(details, row.paper_value) if isinstance(details.get("cells"), list) else ""
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        summary = ""
    try:
        not_judged = quick_reason(details, row.params)
    except (KeyError, TypeError):
        raise ClaimsError("its details do not say how many pairs or rounds were timed (`pairs`, `rounds`)") from None
    return Measurement(speedup_of(details), details, summary, not_judged=not_judged)


def recompute_size(check: Check, result: ClaimResult, row: Claim) -> Measurement:
    """A size row from the architectures of the run's checkpoints."""
    from harness.measure import size
    from harness.measure.models import load_config

    names = {"bert": check.option("bert_checkpoint"), "distilbert": check.option("distilbert_checkpoint")}
    return size.measure(row, size.sizes({role: load_config(name) for role, name in names.items()}))


def recompute_arithmetic(check: Check, result: ClaimResult, row: Claim) -> Measurement:
    """A check of the paper's arithmetic from the registry's figures."""
    from harness.measure.arithmetic import recompute

    return Measurement(recompute(row, check.registry), {}, "")


def speedup_of(details: dict[str, Any]) -> float:
    """A speed row's value from its recorded timings: t(BERT) / t(DistilBERT) over the chunks, or the GPU grid's least."""
    chunks = details.get("chunk_seconds")
    if isinstance(chunks, dict):
        return math.fsum(chunks["bert"]) / math.fsum(chunks["distilbert"])
    cells = [cell["speedup"] for cell in details.get("cells") or () if isinstance(cell, dict) and cell.get("speedup")]
    if not cells:
        raise MissingInput("no recorded timings")
    return min(cells)


def cache_keys(details: Any) -> Iterator[str]:
    """Every cache key id a claim's details name (its cells' `cache_keys`, however deep they nest)."""
    if isinstance(details, dict):
        for name, value in details.items():
            if name == "cache_keys" and isinstance(value, list):
                yield from (key for key in value if isinstance(key, str))
            else:
                yield from cache_keys(value)
    elif isinstance(details, list):
        for value in details:
            yield from cache_keys(value)
