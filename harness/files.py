"""Files written whole or not at all, content digests, and the project's YAML tables read with one-line errors.

Every result, cache entry, report and plot is written through `atomic_write_bytes` (a temporary file
in the same folder, then os.replace), so a killed process leaves the old file or the new one, never
half of one. `file_sha256` and `digest` give the content hashes that cache keys and provenance use.
`read_yaml` reads the registry, the task table and the protocols, turning any unreadable file into a
ClaimsError that names it and the fix.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ClaimsError


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a file so that a killed process leaves either the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """atomic_write_bytes for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """A folder filled under a staging name beside `target`, then renamed over it: a reader sees a whole folder.
    Staging folders a killed writer left (`.<name>.*`) are removed first: call it under the writer's lock."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{target.name}.*"):
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)


def canonical_json(value: Any) -> str:
    """One spelling of a value: sorted keys, no spaces, so that equal configurations hash equal."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def digest(value: Any) -> str:
    """sha256 of a JSON-able value's canonical spelling."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=64)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def file_sha256(path: Path) -> str:
    """sha256 of a file's content, remembered per (path, size, mtime) for the session."""
    path = Path(path)
    stat = path.stat()
    return _file_sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def read_yaml(path: str | Path, what: str, fix: str) -> Any:
    """A YAML file's document; a one-line ClaimsError naming `what` and the file when it is missing, unreadable,
    not YAML (with the line and column) or nested beyond the parser's depth."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ClaimsError(f"{what} not found: {path}", fix) from None
    except IsADirectoryError:
        raise ClaimsError(f"{what} {path} is a directory, not a file", fix) from None
    except UnicodeDecodeError as error:
        raise ClaimsError(f"{what} {path} is not UTF-8 text (byte {error.start})", fix) from None
    except OSError as error:
        raise ClaimsError(f"{what} {path} cannot be read ({error.strerror})", fix) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(error, "problem", None) or error).split())
        raise ClaimsError(f"{path}{where}: not valid YAML ({problem})", "fix the YAML syntax at that line") from None
    except RecursionError:
        raise ClaimsError(f"{path}: nested too deeply to be read as the {what}", fix) from None
