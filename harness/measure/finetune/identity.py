"""What pins a fine-tuning job's result, for its cache key: checkpoint content, harness code, libraries, devices.

- `checkpoint_identity`: a local folder by the sha256 of its weight files, config.json and tokenizer files
  (whichever of TOKENIZER_FILES exist: an uncased vocabulary swapped for a cased one is another key),
  not its path; a Hub name (`name` or `name@revision`) by the commit its revision resolves to, asked of
  the Hub or read from the Hugging Face cache (harness.data.hub; it pins the tokenizer files too).
- `code_identity`: a fingerprint of each module that trains or preprocesses (KEYED_MODULES), the sha256
  of its syntax tree with the docstrings dropped (comments are not in a tree), so editing the code
  changes the key and editing its documentation does not. Derived, never a number bumped by hand.
  The metric code (harness.measure.metrics) is not keyed: `python -m harness rescore` recomputes the
  metrics of stored predictions instead of training again.
- `key_libraries`: the versions of the libraries that change a trained result.
- `training_devices`: how many devices Trainer spreads one step over (it multiplies the batch by them).
- `revisions`: what the Hub names of some jobs resolved to (revision, commit, where it was read), for results.
The key itself is assembled by harness.measure.finetune.job_key; where entries live is harness.measure.finetune.cache.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.device import gpu_count
from harness.files import file_sha256

KEY_LIBRARIES = ("torch", "transformers", "datasets", "tokenizers", "accelerate", "numpy")
KEYED_MODULES = ("harness.measure.finetune.training", "harness.measure.finetune.job", "harness.measure.finetune.run", "harness.measure.finetune.distill",
                 "harness.data.preprocess", "harness.data.loading", "harness.data.local_files", "harness.measure.models")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                   "vocab.txt", "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model", "tokenizer.model")


def key_libraries() -> dict[str, str | None]:
    """The installed versions of the libraries whose change invalidates a trained result (None when absent)."""
    from harness.environment import library_versions

    versions = library_versions()
    return {name: versions.get(name) for name in KEY_LIBRARIES}


def files_identity(paths: list[Path]) -> dict[str, str]:
    """{file name: content sha256} of the files that exist among `paths`."""
    return {path.name: file_sha256(path) for path in sorted(paths) if path.is_file()}


def checkpoint_identity(checkpoint: str) -> dict[str, Any]:
    """What pins a checkpoint: a local folder's weight, config and tokenizer files, or the Hub commit it resolves to
    (harness.data.hub.resolve_model; unknown where neither the Hub nor its cache can tell: the key is less specific)."""
    from harness.data.hub import looks_like_local_path, resolve_model, split_revision
    from harness.errors import MissingInput
    from harness.measure.models import weight_files

    if looks_like_local_path(checkpoint):
        folder = Path(checkpoint)  # content, not the path
        return {"local_files": files_identity([*weight_files(folder), folder / "config.json",
                                               *(folder / name for name in TOKENIZER_FILES)])}
    try:
        return resolve_model(checkpoint).identity()
    except MissingInput as missing:  # the job cannot run here; its key says which name and revision it would need
        name, revision = split_revision(checkpoint)
        return {"hub_name": name, "revision": revision, "commit": None, "commit_unknown": missing.what}


def revisions(jobs: Iterable[Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """What each Hub name the jobs (harness.measure.finetune.job.Job) read resolved to when their keys were computed in
    this process (harness.data.hub; nothing is asked here), for results: {"checkpoints": {name: record}, "datasets":
    {path/config: record}}, a record holding the revision asked, the commit (None when it cannot be told, with why) and
    where it was read. Local folders and files are keyed by their content and not listed."""
    from harness.data.hub import looks_like_local_path, recorded, split_revision

    found: dict[str, dict[str, dict[str, Any]]] = {"checkpoints": {}, "datasets": {}}
    for job in jobs:
        for one in (job, job.teacher) if job.teacher else (job,):
            record = None if looks_like_local_path(one.checkpoint) else recorded(one.checkpoint)
            if record is not None:
                found["checkpoints"][split_revision(one.checkpoint)[0]] = record
            for source in (vars(one).get("sources") or {}).values():  # located for the key already, never here
                if source.kind == "hub" and source.hub is not None:
                    found["datasets"][source.location] = source.hub.record()
    return found


def source_fingerprint(source: str) -> str:
    """sha256 of a module's syntax tree without its docstrings: code edits change it, comments and docs do not."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode("utf-8")).hexdigest()


def module_source(module: str) -> str:
    """A module's source text, found without importing it."""
    found = importlib.util.find_spec(module)
    if found is None or not found.origin:
        raise ModuleNotFoundError(f"cannot find the source of {module}")
    return Path(found.origin).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def code_identity() -> dict[str, str]:
    """{module: fingerprint} of the harness code that trains and preprocesses (read once per process)."""
    return {module: source_fingerprint(module_source(module))[:16] for module in KEYED_MODULES}


def training_devices(device: str) -> int:
    """How many devices Trainer spreads one optimisation step over: a distributed launch's processes, else the
    GPUs it sees (it wraps the model in DataParallel and multiplies the batch by them), 1 on a CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world > 1:
        return world
    return max(gpu_count(), 1) if device == "cuda" else 1
