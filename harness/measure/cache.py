"""The result cache: every fine-tuning job's metrics, stored under a key derived from all that decides them.

Layout under the cache root (default <repo>/cache/, option --cache-dir):
    <job_id>/<env_id>/result.json   the job's metrics, its whole configuration, library versions, device,
                                    wall time and provenance, written atomically
    <job_id>/<env_id>/trainer/      Trainer checkpoints while the job runs (an interrupted job resumes from
                                    the last one; removed once result.json is written)
    <job_id>/<env_id>/model/        the fine-tuned model, kept only when another job needs it (a teacher)
job_id hashes the canonical JSON of the job's configuration (checkpoint and its revision or weight hash,
task spec, protocol values, seed, data source, device and precision, harness job version); env_id hashes
the versions of torch, transformers and datasets. A corrupt entry, or a missing one where other library
versions left a result, is reported with a CacheWarning and the job reruns: never a wrong result.
This module stores and finds results; running a job is harness.measure.finetune's.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.files import atomic_write_text, canonical_json, digest, file_sha256
from harness.paths import DEFAULT_CACHE_DIR

SCHEMA_VERSION = 1
KEY_LIBRARIES = ("torch", "transformers", "datasets")
RESULT_FILE = "result.json"


class CacheWarning(UserWarning):
    """A cached result could not be used (corrupt, or made by other library versions): the job reruns."""


def key_libraries() -> dict[str, str | None]:
    """The versions of the libraries whose change invalidates a result."""
    from harness.environment import library_versions

    versions = library_versions()
    return {name: versions.get(name) for name in KEY_LIBRARIES}


def files_identity(paths: list[Path]) -> dict[str, str]:
    """{file name: content sha256} of the files that exist among `paths`."""
    return {path.name: file_sha256(path) for path in sorted(paths) if path.is_file()}


def checkpoint_identity(checkpoint: str) -> dict[str, Any]:
    """What pins a checkpoint's weights: a local folder's weight-file hashes, or the Hub commit it resolves to."""
    from harness.data.hub import hub_is_reachable, looks_like_local_path
    from harness.measure.models import weight_files

    if looks_like_local_path(checkpoint):
        folder = Path(checkpoint)  # content, not the path: the weight files and config.json
        return {"local_files": files_identity([*weight_files(folder), folder / "config.json"])}
    return {"hub_name": checkpoint, "revision": _hub_revision(checkpoint, hub_is_reachable())}


def _hub_revision(name: str, online: bool) -> str | None:
    """The commit `main` points at: from the local Hub cache (offline), else asked of the Hub; None if unknown."""
    from huggingface_hub import constants

    ref = Path(constants.HF_HUB_CACHE) / f"models--{name.replace('/', '--')}" / "refs" / "main"
    if ref.is_file():
        return ref.read_text(encoding="utf-8").strip()
    if online:
        from huggingface_hub import HfApi

        try:
            return HfApi().model_info(name).sha
        except Exception:  # noqa: BLE001 - an unknown revision only makes the key less specific
            return None
    return None


@dataclass(frozen=True)
class JobKey:
    """Where one job's result lives: job_id from its configuration, env_id from the library versions."""

    configuration: dict[str, Any]
    libraries: dict[str, str | None] = field(default_factory=key_libraries)

    @property
    def job_id(self) -> str:
        return digest(self.configuration)[:24]

    @property
    def env_id(self) -> str:
        return digest(self.libraries)[:12]

    @property
    def id(self) -> str:
        return f"{self.job_id}/{self.env_id}"


def _valid_metrics(metrics: Any) -> bool:
    """{split: {metric: finite float, or None where undefined}} with at least one value."""
    def valid(value: Any) -> bool:
        return value is None or isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

    return (isinstance(metrics, dict) and bool(metrics)
            and all(isinstance(values, dict) and values and all(map(valid, values.values())) for values in metrics.values()))


class ResultCache:
    """Results of fine-tuning jobs under one root folder."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else DEFAULT_CACHE_DIR

    def folder(self, key: JobKey) -> Path:
        return self.root / key.job_id / key.env_id

    def entry_path(self, key: JobKey) -> Path:
        return self.folder(key) / RESULT_FILE

    def trainer_dir(self, key: JobKey) -> Path:
        return self.folder(key) / "trainer"

    def model_dir(self, key: JobKey) -> Path:
        return self.folder(key) / "model"

    def load(self, key: JobKey) -> dict[str, Any] | None:
        """The stored entry of this job, or None (with a CacheWarning when one was there but unusable)."""
        path = self.entry_path(key)
        if not path.is_file():
            self._warn_other_versions(key)
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            return self._unusable(path, f"not readable JSON ({error})")
        if not isinstance(entry, dict) or entry.get("schema_version") != SCHEMA_VERSION:
            return self._unusable(path, f"cache schema {entry.get('schema_version') if isinstance(entry, dict) else None!r}, "
                                        f"this harness writes {SCHEMA_VERSION}")
        if entry.get("libraries") != key.libraries:
            return self._unusable(path, f"made with {entry.get('libraries')}, this run has {key.libraries}")
        if entry.get("configuration") != json.loads(canonical_json(key.configuration)):
            return self._unusable(path, "its stored configuration differs from this job's (a hash collision or an edited file)")
        if not _valid_metrics(entry.get("metrics")):
            return self._unusable(path, "its metrics are missing or not numbers")
        return entry

    def store(self, key: JobKey, metrics: dict[str, dict[str, float]], record: dict[str, Any]) -> dict[str, Any]:
        """Write the job's entry atomically (a killed run leaves the old entry or none, never half of one)."""
        if not _valid_metrics(metrics):
            raise ValueError(f"refusing to cache metrics that are not finite numbers (or None): {metrics!r}")
        entry = {
            "schema_version": SCHEMA_VERSION,
            "key": key.id,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "configuration": key.configuration,
            "libraries": key.libraries,
            "metrics": metrics,
            **record,
        }
        atomic_write_text(self.entry_path(key), json.dumps(entry, indent=2, sort_keys=True, default=str) + "\n")
        return json.loads(self.entry_path(key).read_text(encoding="utf-8"))

    def last_checkpoint(self, key: JobKey) -> Path | None:
        """The newest complete Trainer checkpoint of an interrupted run of this job, if any."""
        from transformers.trainer_utils import get_last_checkpoint

        folder = self.trainer_dir(key)
        found = get_last_checkpoint(str(folder)) if folder.is_dir() else None
        return Path(found) if found else None

    def discard_checkpoints(self, key: JobKey) -> None:
        """Remove the Trainer checkpoints of a finished job (the result is stored; they only cost disk)."""
        shutil.rmtree(self.trainer_dir(key), ignore_errors=True)

    def forget(self, key: JobKey) -> None:
        """Drop this job's entry and checkpoints (--refresh): the next run trains from scratch."""
        self.entry_path(key).unlink(missing_ok=True)
        self.discard_checkpoints(key)

    def _unusable(self, path: Path, why: str) -> None:
        warnings.warn(CacheWarning(f"cached result {path} cannot be used: {why}; the job runs again and replaces it"),
                      stacklevel=3)
        return None

    def _warn_other_versions(self, key: JobKey) -> None:
        others = sorted(p.parent.name for p in (self.root / key.job_id).glob(f"*/{RESULT_FILE}"))
        if others:
            warnings.warn(CacheWarning(
                f"{self.root / key.job_id} holds a result of this job made with other library versions "
                f"({', '.join(others)}); this run has {key.libraries} and runs the job again"), stacklevel=3)
