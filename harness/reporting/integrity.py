"""What `python -m harness check` makes sure of before it recomputes a value: the run's inputs are the ones it read.

- the registry: the file the run read, found by the sha256 results.json records (the given --registry, else the
  recorded path, else claims/registry.yaml, whichever has that digest); another file only when told to
  (`--allow-other-registry`), never silently;
- the cache folder: the one given (or recorded) exists, when the run's claims read cache entries or it was named;
- results.json is whole: every claim of that registry has its entry, a verdict that says measured has its
  `measured`, the `summary` counts are its claims' verdicts counted again.
Each problem is one line naming the thing; harness.reporting.check recomputes the values themselves. This module
reads files and results; it judges and writes nothing.
"""

from __future__ import annotations

from pathlib import Path

from harness.files import file_sha256
from harness.judge.verdict import Status
from harness.reporting.results import RunResults, verdict_counts
from harness.spec.registry import DEFAULT_REGISTRY, Registry

MEASURED = (Status.REPRODUCED, Status.NOT_REPRODUCED, Status.INCONCLUSIVE, Status.NOT_JUDGED)  # verdicts of a measurement
OTHER_REGISTRY_FIX = ("pass the registry the run read with --registry FILE, or add --allow-other-registry to check "
                      "against it anyway (each row is then compared at its recorded version)")


def _short(digest: str | None) -> str:
    return "none recorded" if not digest else f"sha256 {digest[:12]}"


def choose_registry(run: RunResults, given: Path | None, allow_other: bool) -> tuple[Path, str | None]:
    """The registry file to check the run against, and the finding when it is not the one the run read (found by the
    digest results.json records). With allow_other, the given (else recorded, else default) file serves anyway."""
    recorded_path = Path(str(run.registry.get("path") or DEFAULT_REGISTRY))
    recorded = run.registry.get("sha256") if isinstance(run.registry.get("sha256"), str) else None
    candidates = [given] if given is not None else list(dict.fromkeys([recorded_path, DEFAULT_REGISTRY]))
    existing = [path for path in candidates if path.is_file()]
    if recorded is not None:
        for path in existing:
            if file_sha256(path) == recorded:
                return path, None
    if allow_other and existing:
        return existing[0], None
    if recorded is None:
        problem = "results.json records no registry digest, so the registry it read cannot be told from another"
    else:
        seen = "; ".join(f"{path} has {_short(file_sha256(path))}" for path in existing) or f"{recorded_path} is gone"
        problem = f"the run read {recorded_path} ({_short(recorded)}): no registry with that digest was found ({seen})"
    return (existing[0] if existing else recorded_path), f"registry: {problem}; fix: {OTHER_REGISTRY_FIX}"


def cache_folder_problem(cache_dir: Path, named: bool, run: RunResults, keys: list[str]) -> str | None:
    """Why the cache folder cannot be checked against: it does not exist (named with --cache-dir, or needed by the
    claims' cache keys), or it is a file."""
    if cache_dir.is_dir() or not (named or keys):
        return None
    what = "is a file, not a folder" if cache_dir.exists() else "does not exist"
    why = f"the run's claims read {len(keys)} cache entries" if keys else "it was named with --cache-dir"
    recorded = run.options.get("cache_dir")
    used = f"its options record {recorded}" if recorded else "it used the default, cache/"
    return f"cache folder {cache_dir} {what} ({why}); fix: pass the --cache-dir the run used ({used})"


def whole(run: RunResults, registry: Registry) -> list[str]:
    """What results.json lacks or says that its own claims do not: a registry claim without its entry, a verdict of a
    measurement without `measured`, `summary` counts that are not its claims' verdicts counted again."""
    problems = []
    present = {result.claim.id for result in run.claims}
    problems += [f"{claim.id}: a claim of {registry.path} with no entry in results.json (deleted?)"
                 for claim in registry.claims if claim.id not in present]
    problems += [f"{result.claim.id}: its verdict is {result.verdict.status.value!r}, a measurement's, but results.json "
                 "records no `measured`" for result in run.claims
                 if result.verdict.status in MEASURED and result.verdict.measured is None]
    counts = verdict_counts(run.claims)
    if counts != run.summary:
        problems.append(f"summary: results.json says {run.summary}, its claims' verdicts count {counts}")
    return problems
