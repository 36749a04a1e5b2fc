"""A cache entry's folder as bytes, and back: how a job's result reaches the driver when the workers have their own disks.

`pack(folder)` reads every file of one entry's folder (harness.measure.finetune.cache's layout: result.json, the
predictions, the kept model of a SQuAD job) except the Trainer checkpoints and the lock, which stay on the
worker (a resumed job needs them there, nobody else does). `store(cache, key, files)` writes them into the
driver's cache under the job's lock: the model folder whole or not at all (a temporary folder, then a
rename), every other file atomically (harness.files), result.json last, since it is the entry's commit
point; then the entry must read back intact (its digests) or it is refused. The bytes are copied as they
are, so an entry keeps the digests its worker wrote. Deciding whether a returned entry belongs to the job
(its key) is harness.execute.ray_executor's.
"""

from __future__ import annotations

from pathlib import Path

from harness.files import atomic_folder, atomic_write_bytes
from harness.measure.finetune.cache import LOCK_FILE, MODEL_DIR, RESULT_FILE, TRAINER_DIR, JobKey, ResultCache

LEFT_ON_THE_WORKER = (TRAINER_DIR, LOCK_FILE)  # checkpoints to resume from, and the lock file


def pack(folder: Path) -> dict[str, bytes]:
    """{path relative to the entry's folder: content} of the files that make the entry, checkpoints left out."""
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and relative.parts[0] not in LEFT_ON_THE_WORKER and not path.name.startswith("."):
            files[relative.as_posix()] = path.read_bytes()
    return files


def unpack(files: dict[str, bytes], folder: Path) -> None:
    """Write an entry's files into its folder: the model folder by one rename, result.json last. Call it under the lock."""
    folder.mkdir(parents=True, exist_ok=True)
    model = {name: data for name, data in files.items() if name.split("/", 1)[0] == MODEL_DIR}
    if model:
        with atomic_folder(folder / MODEL_DIR) as staging:
            for name, data in model.items():
                target = staging / name.split("/", 1)[1]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
    rest = sorted((name for name in files if name not in model), key=lambda name: name == RESULT_FILE)
    for name in rest:
        atomic_write_bytes(folder / name, files[name])


def holds(cache: ResultCache, key: JobKey, model: bool = False) -> bool:
    """Whether the cache holds the job's intact entry (model: and its kept model, as a teacher needs)."""
    return cache.peek(key) is not None and (not model or cache.has_model(key))


def store(cache: ResultCache, key: JobKey, files: dict[str, bytes], *, replace: bool = False) -> bool:
    """Put a worker's entry into this cache unless it holds it intact (replace: always); False if it does not verify."""
    with cache.lock(key):
        if replace or not holds(cache, key, model=f"{MODEL_DIR}/config.json" in files):
            unpack(files, cache.folder(key))
        return holds(cache, key)
