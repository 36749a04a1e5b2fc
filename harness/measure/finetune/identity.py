"""What pins a fine-tuning job's result, for its cache key: checkpoint content, harness code, libraries, devices.

- `checkpoint_identity`: a local folder by the sha256 of its weight files, config.json and tokenizer files
  (whichever of TOKENIZER_FILES exist: an uncased vocabulary swapped for a cased one is another key),
  not its path; a Hub name by the commit `main` resolves to (it pins the tokenizer files too).
- `code_identity`: a fingerprint of each module that trains or preprocesses (KEYED_MODULES), the sha256
  of its syntax tree with the docstrings dropped (comments are not in a tree), so editing the code
  changes the key and editing its documentation does not. Derived, never a number bumped by hand.
  The metric code (harness.measure.metrics) is not keyed: `python -m harness rescore` recomputes the
  metrics of stored predictions instead of training again.
- `key_libraries`: the versions of the libraries that change a trained result.
- `training_devices`: how many devices Trainer spreads one step over (it multiplies the batch by them).
The key itself is assembled by harness.measure.finetune.job_key; where entries live is harness.measure.finetune.cache.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.util
import os
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
    """What pins a checkpoint: a local folder's weight, config and tokenizer files, or the Hub commit it resolves to."""
    from harness.data.hub import hub_is_reachable, looks_like_local_path
    from harness.measure.models import weight_files

    if looks_like_local_path(checkpoint):
        folder = Path(checkpoint)  # content, not the path
        return {"local_files": files_identity([*weight_files(folder), folder / "config.json",
                                               *(folder / name for name in TOKENIZER_FILES)])}
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
