"""The result cache: every fine-tuning job's metrics and predictions, under a key derived from all that decides them.

Layout under the cache root (default <repo>/cache/, option --cache-dir):
    <job_id>/<env_id>/result.json       metrics, validity, the whole configuration, library versions, device,
                                        wall times, provenance, and the content digests of all of it
    <job_id>/<env_id>/predictions.json  the per-example predictions of every scored split (harness.measure.finetune.predictions)
    <job_id>/<env_id>/trainer/          Trainer checkpoints while the job runs (an interrupted job resumes from the
                                        newest complete one; removed once result.json is written)
    <job_id>/<env_id>/model/            the fine-tuned model, kept only when another job needs it (a teacher)
    <job_id>/<env_id>/job.lock          held (filelock) while the job trains and its entry is written
job_id hashes the job's configuration (harness.measure.finetune.job_key); env_id the library versions.
Files are written atomically, predictions first: result.json is the commit point. Each entry carries
digests of its record, of its scores (metrics and validity) and of its predictions file: an entry whose
record or predictions were edited is refused (the job trains again); one whose scores alone were edited
is recomputed from its intact predictions (`load(key, recompute)`), nothing trained. Any refusal is a
CacheWarning saying why, never a wrong result.

`read(key or folder, recompute)` is the one read of an entry (a StoredEntry): checked against its digests
(and its job), its predictions read, its scores recomputed from them. Every reader uses it and decides what
to do with what it finds: `load`/`peek` (a job about to run), run.cached_result (check's measurements), the
rescore command, the check of each entry. This module stores, checks and finds results; running a job is
harness.measure.finetune.run's, computing scores harness.measure.finetune.rescore's (passed in as `recompute`).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import math
import re
import shutil
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import ClaimsError
from harness.files import atomic_write_text, canonical_json, digest, file_sha256
from harness.measure.finetune import predictions as stored_predictions
from harness.measure.finetune.identity import key_libraries
from harness.measure.finetune.predictions import SplitPredictions
from harness.paths import DEFAULT_CACHE_DIR

SCHEMA_VERSION = 2
RESULT_FILE, PREDICTIONS_FILE, LOCK_FILE = "result.json", "predictions.json", "job.lock"
JOB_ID_LENGTH, ENV_ID_LENGTH = 24, 12  # hex digits of a JobKey's two folder names: KEY = job_id/env_id
MODEL_DIR, TRAINER_DIR = "model", "trainer"  # the fine-tuned model a student needs as its teacher; checkpoints
SCORES = ("metrics", "validity")  # recomputable from the predictions; everything else is the record
CHECKPOINT_FILES = ("trainer_state.json", "optimizer.pt", "scheduler.pt")  # and rng_state*.pth (one per process)
NO_ENTRY = "there is no entry"
NO_PREDICTIONS = "no stored predictions (written by an older harness, or by hand); run its job again to keep them"
LOG = logging.getLogger(__name__)
Recompute = Callable[[dict[str, Any], dict[str, SplitPredictions]], dict[str, Any]]


class CacheWarning(UserWarning):
    """A cached result could not be used as it was (corrupt, edited, other library versions): recomputed or rerun."""


@dataclass(frozen=True)
class JobKey:
    """Where one job's result lives: job_id from its configuration, env_id from the library versions."""

    configuration: dict[str, Any]
    libraries: dict[str, str | None] = field(default_factory=key_libraries)

    @property
    def job_id(self) -> str:
        return digest(self.configuration)[:JOB_ID_LENGTH]

    @property
    def env_id(self) -> str:
        return digest(self.libraries)[:ENV_ID_LENGTH]

    @property
    def id(self) -> str:
        return f"{self.job_id}/{self.env_id}"


@dataclass(frozen=True)
class StoredEntry:
    """One entry as `ResultCache.read` found it: what is stored, whether it can be used, its recomputed scores."""

    folder: Path
    entry: dict[str, Any] | None  # as stored; None when absent or unreadable
    problem: str | None = None  # why it cannot be used as it is stored; None: intact
    recomputable: bool = False  # the problem is in its scores alone, and its predictions are intact
    predictions: dict[str, SplitPredictions] | None = field(default=None, repr=False)
    scores: dict[str, Any] | None = None  # {"metrics", "validity"} recomputed from the predictions with today's code
    unscored: ClaimsError | None = None  # why they could not be recomputed (no predictions, unreadable, unscorable)

    @property
    def absent(self) -> bool:
        return self.entry is None and self.problem == NO_ENTRY

    @property
    def intact(self) -> bool:
        return self.entry is not None and self.problem is None

    @property
    def refused(self) -> str | None:
        """Why the entry cannot be used even from its predictions (absent, unreadable, another job's, edited record)."""
        return self.problem if self.entry is None or (self.problem and not self.recomputable) else None

    @property
    def scores_differ(self) -> bool:
        """Whether the recomputed scores differ from the stored ones (a metric fix, or scores edited by hand)."""
        return self.scores is not None and any(self.scores[name] != (self.entry or {}).get(name) for name in SCORES)


def _valid_metrics(metrics: Any) -> bool:
    """{split: {metric: finite float, or None where undefined}} with at least one value."""
    def valid(value: Any) -> bool:
        return value is None or isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    return (isinstance(metrics, dict) and bool(metrics)
            and all(isinstance(values, dict) and values and all(map(valid, values.values())) for values in metrics.values()))


def _json_safe(value: Any) -> Any:
    """A record as strict JSON: non-finite floats become None, paths and other objects their text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value if value is None or isinstance(value, (str, int, bool)) else str(value)


def entry_digests(entry: Mapping[str, Any], predictions_sha256: str | None) -> dict[str, str | None]:
    """The digests an entry carries: of its record (all but scores and digests), its scores, its predictions file."""
    return {"record": _record_digest(entry), "scores": _scores_digest(entry), "predictions": predictions_sha256}


def _record_digest(entry: Mapping[str, Any]) -> str:
    return digest({name: value for name, value in entry.items() if name not in (*SCORES, "digests")})


def _scores_digest(entry: Mapping[str, Any]) -> str:
    return digest({name: entry.get(name) for name in SCORES})


def is_complete_checkpoint(folder: Path) -> bool:
    """Whether Trainer finished writing this checkpoint: it writes trainer_state.json after the weights, optimizer,
    scheduler and RNG states, so a parseable state of the folder's own step (with the files before it) means whole."""
    from harness.measure.models import weight_files

    try:
        step = int(folder.name.rsplit("-", 1)[1])
        state = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
    except (IndexError, ValueError, OSError, UnicodeDecodeError):
        return False
    return (isinstance(state, dict) and state.get("global_step") == step and bool(weight_files(folder))
            and all((folder / name).is_file() for name in CHECKPOINT_FILES) and any(folder.glob("rng_state*.pth")))


class ResultCache:
    """Results of fine-tuning jobs under one root folder."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else DEFAULT_CACHE_DIR

    def folder(self, key: JobKey) -> Path:
        return self.root / key.job_id / key.env_id

    def entry_path(self, key: JobKey) -> Path:
        return self.folder(key) / RESULT_FILE

    def predictions_path(self, key: JobKey) -> Path:
        return self.folder(key) / PREDICTIONS_FILE

    def trainer_dir(self, key: JobKey) -> Path:
        return self.folder(key) / TRAINER_DIR

    def model_dir(self, key: JobKey) -> Path:
        return self.folder(key) / MODEL_DIR

    def has_model(self, key: JobKey) -> bool:
        """Whether the job's fine-tuned model is kept (DistilBERT (D)'s teacher)."""
        return (self.model_dir(key) / "config.json").is_file()

    # ------------------------------------------------------------------ one writer per job across processes
    def lock(self, key: JobKey) -> contextlib.AbstractContextManager[None]:
        """Held while the job trains and its entry is written: one process trains it, the others wait, then read it."""
        return self.lock_folder(self.folder(key))

    @contextlib.contextmanager
    def lock_folder(self, folder: Path) -> Iterator[None]:
        """The lock of one entry's folder (filelock: released by the system if its holder is killed)."""
        from filelock import FileLock, Timeout

        self._clear_the_way(folder)
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(folder / LOCK_FILE)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            LOG.warning("waiting for another process that holds %s", folder / LOCK_FILE)
            lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def _clear_the_way(self, folder: Path) -> None:
        """A file (or broken link) where an entry's folder, or its job's, belongs: no result; removed with a CacheWarning."""
        for part in (folder.parent, folder):
            if part.is_symlink() and not part.exists() or part.exists() and not part.is_dir():
                warnings.warn(CacheWarning(f"cache folder {part} was a file, not a folder: removed; the job runs and stores "
                                           "its result there"), stacklevel=4)
                part.unlink(missing_ok=True)

    # ------------------------------------------------------------------ reading
    def read(self, where: JobKey | Path, recompute: Recompute | None = None) -> StoredEntry:
        """The one read of an entry: checked (digests; its job, given a key); given recompute, its scores recomputed."""
        key = where if isinstance(where, JobKey) else None
        folder = self.folder(key) if key is not None else Path(where)
        found = StoredEntry(folder, *self._inspect(folder, key))
        if recompute is None or found.refused or found.entry is None:
            return found
        if not (found.entry.get("digests") or {}).get("predictions"):
            return replace(found, unscored=ClaimsError(NO_PREDICTIONS, "python -m pytest ... --refresh, or delete its cache folder"))
        try:
            predictions = stored_predictions.read(folder / PREDICTIONS_FILE)
            return replace(found, predictions=predictions, scores=recompute(found.entry, predictions))
        except ClaimsError as error:
            return replace(found, unscored=error)

    def peek(self, key: JobKey) -> dict[str, Any] | None:
        """The stored entry when it is intact, else None; silent and writes nothing (the check before the lock)."""
        found = self.read(key)
        return found.entry if found.intact else None

    def load(self, key: JobKey, recompute: Recompute | None = None) -> dict[str, Any] | None:
        """The stored entry of this job, or None with a CacheWarning when one was there but unusable. Given recompute,
        an entry whose scores alone were edited is rescored and rewritten (call it under the job's lock), nothing trained."""
        found = self.read(key)
        if found.absent:
            self._warn_other_versions(key)
            return None
        if found.intact:
            return found.entry
        if found.recomputable and recompute is not None:
            found = self.read(key, recompute)  # only now are its predictions read and scored
        path = self.entry_path(key)
        if found.entry is not None and found.scores is not None:
            warnings.warn(CacheWarning(f"cached result {path} was edited by hand ({found.problem}); its metrics are "
                                       "recomputed from its intact stored predictions, nothing is trained"), stacklevel=2)
            return self.rewrite_scores(found.folder, found.entry, found.scores)
        problem = found.problem if found.unscored is None else f"{found.problem}; {found.unscored.what}"
        warnings.warn(CacheWarning(f"cached result {path} cannot be used: {problem}; the job runs again and replaces it"),
                      stacklevel=2)
        return None

    def predictions(self, key: JobKey) -> dict[str, SplitPredictions]:
        """The job's stored predictions by split (a ClaimsError when there are none)."""
        return stored_predictions.read(self.predictions_path(key))

    def entries(self) -> list[Path]:
        """The folders of every stored entry under the root, whatever its job or library versions, sorted."""
        return sorted(path.parent for path in self.root.glob(f"*/*/{RESULT_FILE}"))

    def misplaced(self) -> list[Path]:
        """What stands where a job's folder or an entry's folder belongs but is not a folder (a file, a broken link):
        no entry can be read there (a run replaces it, with a CacheWarning)."""
        def shaped(path: Path, length: int) -> bool:  # named as a JobKey names it: a job id, then a library versions' id
            return re.fullmatch(f"[0-9a-f]{{{length}}}", path.name) is not None

        found = []
        for job in sorted(self.root.iterdir()) if self.root.is_dir() else ():
            if shaped(job, JOB_ID_LENGTH):
                found += [job] if not job.is_dir() else \
                    [entry for entry in sorted(job.iterdir()) if shaped(entry, ENV_ID_LENGTH) and not entry.is_dir()]
        return found

    def _inspect(self, folder: Path, key: JobKey | None) -> tuple[dict[str, Any] | None, str | None, bool]:
        path = folder / RESULT_FILE
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None, NO_ENTRY, False
        except NotADirectoryError:  # the entry's folder (or its job's) is a file: no result; lock_folder replaces it
            which = "its job's folder" if folder.parent.exists() and not folder.parent.is_dir() else "its folder"
            return None, f"{which} is a file, not a folder (no result is there)", False
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            return None, f"not readable JSON ({error})", False
        if not isinstance(entry, dict) or entry.get("schema_version") != SCHEMA_VERSION:
            schema = entry.get("schema_version") if isinstance(entry, dict) else None
            return None, f"cache schema {schema!r}, this harness writes {SCHEMA_VERSION}", False
        if key is not None and entry.get("libraries") != key.libraries:
            return None, f"made with {entry.get('libraries')}, this run has {key.libraries}", False
        if key is not None and entry.get("configuration") != json.loads(canonical_json(key.configuration)):
            return None, "its stored configuration differs from this job's (a hash collision or an edited file)", False
        stored = entry.get("digests") if isinstance(entry.get("digests"), dict) else {}
        sha = stored.get("predictions")
        try:
            record = _record_digest(entry)
        except ValueError as error:  # a NaN written into the file
            return None, f"its record holds a value that is not valid JSON ({error})", False
        if stored.get("record") != record:
            return None, "its record does not match its content digest (edited by hand?)", False
        if sha is not None and (not (folder / PREDICTIONS_FILE).is_file() or file_sha256(folder / PREDICTIONS_FILE) != sha):
            return None, "its stored predictions are missing or do not match their digest (edited by hand?)", False
        try:
            scores_intact = stored.get("scores") == _scores_digest(entry) and _valid_metrics(entry.get("metrics"))
        except ValueError:
            scores_intact = False
        if not scores_intact:
            return entry, "its metrics are missing, not numbers, or do not match their content digest", sha is not None
        return entry, None, False

    # ------------------------------------------------------------------ writing
    def store(self, key: JobKey, metrics: dict[str, dict[str, float | None]], record: dict[str, Any],
              predictions: Mapping[str, SplitPredictions] | None = None, validity: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write the job's predictions, then its entry, each atomically (a killed run leaves the old entry or none)."""
        if not _valid_metrics(metrics):
            raise ValueError(f"refusing to cache metrics that are not finite numbers (or None): {metrics!r}")
        sha = None
        if predictions is not None:
            stored_predictions.write(self.predictions_path(key), predictions)
            sha = file_sha256(self.predictions_path(key))
        entry = _json_safe({
            **record,
            "schema_version": SCHEMA_VERSION,
            "key": key.id,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "configuration": key.configuration,
            "libraries": key.libraries,
            "metrics": metrics,
            "validity": validity,
        })
        return self._write_entry(self.folder(key), entry, sha)

    def rewrite_scores(self, folder: Path, entry: dict[str, Any], scores: dict[str, Any]) -> dict[str, Any]:
        """Replace an entry's metrics and validity (recomputed from its predictions), atomically."""
        rescored = {**entry, **_json_safe(scores), "rescored": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")}
        return self._write_entry(folder, rescored, (entry.get("digests") or {}).get("predictions"))

    def _write_entry(self, folder: Path, entry: dict[str, Any], predictions_sha256: str | None) -> dict[str, Any]:
        entry = {name: value for name, value in entry.items() if name != "digests"}
        entry["digests"] = entry_digests(entry, predictions_sha256)
        text = json.dumps(entry, indent=2, sort_keys=True, allow_nan=False) + "\n"
        atomic_write_text(folder / RESULT_FILE, text)
        return json.loads(text)

    # ------------------------------------------------------------------ checkpoints
    def last_checkpoint(self, key: JobKey) -> Path | None:
        """The newest complete Trainer checkpoint of an interrupted run of this job, if any; newer incomplete ones (a
        run killed while saving) are removed, so that Trainer never trips on them."""
        folder = self.trainer_dir(key)
        found = sorted((p for p in folder.glob("checkpoint-*") if p.is_dir() and p.name.rsplit("-", 1)[1].isdigit()),
                       key=lambda p: int(p.name.rsplit("-", 1)[1]), reverse=True) if folder.is_dir() else []
        for checkpoint in found:
            if is_complete_checkpoint(checkpoint):
                return checkpoint
            LOG.warning("removing the incomplete checkpoint %s (a run killed while saving it)", checkpoint)
            shutil.rmtree(checkpoint, ignore_errors=True)
        return None

    def discard_checkpoints(self, key: JobKey) -> None:
        """Remove the Trainer checkpoints of a finished job (the result is stored; they only cost disk)."""
        shutil.rmtree(self.trainer_dir(key), ignore_errors=True)

    def forget(self, key: JobKey) -> None:
        """Drop this job's entry, predictions and checkpoints (--refresh): the next run trains from scratch."""
        self.entry_path(key).unlink(missing_ok=True)
        self.predictions_path(key).unlink(missing_ok=True)
        self.discard_checkpoints(key)

    def _warn_other_versions(self, key: JobKey) -> None:
        others = sorted(p.parent.name for p in (self.root / key.job_id).glob(f"*/{RESULT_FILE}"))
        if others:
            warnings.warn(CacheWarning(
                f"{self.root / key.job_id} holds a result of this job made with other library versions "
                f"({', '.join(others)}); this run has {key.libraries} and runs the job again"), stacklevel=3)
