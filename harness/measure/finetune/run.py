"""Running a fine-tuning job, or reading it back: `run_job` returns the job's result from the cache when it
holds one, else trains it (harness.measure.finetune.training) and stores it, holding the job's lock so that
processes sharing a cache train each job once; `cached_result` reads a job back and never trains. Both read
the cache through its one read path (ResultCache.read, with harness.measure.finetune.rescore's `recompute`).
While it runs, a job shows its progress (harness.measure.finetune.progress: nothing unless this process has a
listener) and Trainer reports to this process's tracking (harness.measure.finetune.tracking: --report-to);
neither is part of its key.
"""

from __future__ import annotations

import logging
import warnings

from harness.errors import ClaimsError, MissingInput
from harness.measure.finetune import progress, tracking
from harness.measure.finetune.cache import CacheWarning, ResultCache
from harness.measure.finetune.job import Job, JobResult, job_key
from harness.measure.finetune.rescore import recompute
from harness.measure.finetune.training import fine_tune

LOG = logging.getLogger(__name__)


def run_job(job: Job, cache: ResultCache | None = None, *, refresh: bool = False, callbacks: tuple = (),
            need_model: bool = False) -> JobResult:
    """The job's result: from the cache when it holds it (unless refresh), else fine-tuned and stored.

    Checks the cache, takes the job's lock, checks again (another process may have finished the job while
    this one waited), trains, stores, releases. need_model: the fine-tuned model must be in the cache too (a
    teacher); if it was deleted, train again.
    """
    cache = cache or ResultCache()
    key = job_key(job)
    entry = None if refresh else cache.peek(key)
    if entry is not None and (not need_model or cache.has_model(key)):
        LOG.info("cache hit for %s: %s", job.describe(), cache.entry_path(key))
        return progress.read_back(JobResult(job, key, entry, cached=True, cache=cache))
    teacher_dir = None
    if job.teacher is not None:
        teacher_dir = cache.model_dir(run_job(job.teacher, cache, need_model=True).key)
    with cache.lock(key):
        if refresh:
            cache.forget(key)
        else:
            entry = cache.load(key, recompute)
            if entry is not None and (not need_model or cache.has_model(key)):
                cache.discard_checkpoints(key)  # left by a run killed after writing its entry
                return progress.read_back(JobResult(job, key, entry, cached=True, cache=cache))
            if entry is not None:
                warnings.warn(CacheWarning(f"{cache.folder(key)}: the fine-tuned model DistilBERT (D) needs as its teacher "
                                           f"is missing; training {job.describe()} again"), stacklevel=2)
        entry = fine_tune(job, key, cache, teacher_dir, (*callbacks, *progress.callbacks(job, key.id)), tracking.current(),
                          tracking.run_name(job, key))
    return progress.finished(JobResult(job, key, entry, cached=False, cache=cache))


def cached_result(job: Job, cache: ResultCache) -> JobResult:
    """The job's result read from the cache and never trained, its scores recomputed from its stored predictions
    with today's metric code (in memory: the cache is not written). For `python -m harness check`.

    A MissingInput when the cache holds no entry for the job; a ClaimsError when its entry cannot be used.
    """
    key = job_key(job)
    found = cache.read(key, recompute)
    if found.absent:
        raise MissingInput(f"{job.describe()} is not in the cache {cache.root}",
                           "check the run with the cache it was measured with (--cache-dir)")
    if found.refused:
        raise ClaimsError(f"{found.folder}: {found.refused}", "run the claims again: the job is trained again and replaced")
    if found.unscored is not None:  # no predictions, or predictions that cannot be read or scored
        raise found.unscored
    assert found.entry is not None and found.scores is not None
    return JobResult(job, key, {**found.entry, **found.scores}, cached=True, cache=cache, stored_predictions=found.predictions)
