"""Which commit of a Hub checkpoint or dataset a run uses, asked of the Hub or read from the local caches.

The Hub is reached only through huggingface_hub (and, for the files themselves, transformers and
datasets), with their own rules: HF_HUB_OFFLINE in every spelling huggingface_hub accepts,
TRANSFORMERS_OFFLINE, HF_DATASETS_OFFLINE for datasets, HF_ENDPOINT, HTTPS_PROXY / HTTP_PROXY, the
token of `hf auth login`, HF_HUB_ETAG_TIMEOUT (how long the one metadata request may take).

- `resolve_model(checkpoint)`: the commit a checkpoint's revision points at, asked of the Hub
  (HfApi.model_info), else read from the Hub cache (refs/<revision>, snapshots/<commit>: what
  `hf download` or from_pretrained left there). A checkpoint is one string through the harness: a Hub
  name (revision main) or `name@revision`, a branch, a tag or a commit (`split_revision`; what
  --bert-revision / --distilbert-revision make of the name: `with_revision`).
- `resolve_dataset(path, config, revision)`: the same for a Hub dataset, asked of the Hub
  (HfApi.dataset_info), else read from datasets' own Arrow cache: the folder load_dataset wrote,
  `<HF_DATASETS_CACHE>/<org>___<name>/<config>/<version>/<commit>/` (offline, datasets itself reads the
  newest one; a revision that is a commit picks that one).
- When the Hub does not answer (offline mode, no network, a proxy or a timeout), the answer comes from
  the cache, says why (`Resolved.note`), and the rest of the process reads the caches at once:
  transformers and datasets would otherwise retry every file for half a minute. Callers then load with
  `local_files_only` (harness.measure.models) or from the Arrow cache (harness.data.loading).
- What is in neither is a MissingInput naming the name, the revision and the fix; a name the Hub does
  not know is a ClaimsError with the close names of the cache and of the registry's checkpoints.

Not here: downloading or loading files (transformers, datasets), local folders (only `looks_like_local_path`).
"""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ClaimsError, MissingInput, did_you_mean, first_line

COMMIT = re.compile(r"[0-9a-f]{40}")
_RESOLVED: dict[tuple[str, str, str | None, str], Resolved | ClaimsError] = {}
_UNREACHABLE: list[str] = []  # why the Hub did not answer, once it has not: the process then reads the caches


@dataclass(frozen=True)
class Resolved:
    """A Hub repository at a revision: the commit it resolves to (None when it cannot be told) and where that came from."""

    repo: str  # "bert-base-uncased", "nyu-mll/glue"
    kind: str  # "model" or "dataset"
    revision: str  # as asked: a branch, a tag or a commit
    commit: str | None
    origin: str  # "hub": asked of the Hub; "cache": read from the local cache (load with local files only)
    note: str = ""  # why the cache was read, or why the commit is unknown
    config: str | None = None  # a dataset's configuration ("sst2")
    version: str | None = None  # where datasets' Arrow cache holds a dataset: <config>/<version>/<folder>
    folder: str | None = None  # that folder's name: the commit, for a dataset load_dataset fetched from the Hub

    @property
    def local_only(self) -> bool:
        return self.origin == "cache"

    def describe(self) -> str:
        """One line: nyu-mll/glue (sst2) @ main = 1a2b3c4d5e6f (Hugging Face cache: HF_HUB_OFFLINE is set)."""
        name = f"{self.repo} ({self.config})" if self.config else self.repo
        commit = self.commit[:12] if self.commit else "commit unknown"
        where = "the Hub" if self.origin == "hub" else "Hugging Face cache"
        return f"{name} @ {self.revision} = {commit} ({where}{': ' + self.note if self.note else ''})"

    def record(self) -> dict[str, Any]:
        """What results show of it: the revision asked, its commit (None: unknown, and why) and where that was read."""
        where = "the Hub" if self.origin == "hub" else "the Hugging Face cache" + (f" ({self.note})" if self.note else "")
        found = {"revision": self.revision, "commit": self.commit, "source": where}
        return found if self.commit else {**found, "unknown": self.note or "not recorded"}

    def identity(self) -> dict[str, Any]:
        """What pins it for a cache key: the name and the commit (a revision that names the same commit is the same
        key); where the commit is unknown, the revision asked and why."""
        if self.commit:
            return {"hub_name": self.repo, "commit": self.commit}
        return {"hub_name": self.repo, "revision": self.revision, "commit": None, "commit_unknown": self.note or "not recorded"}


def looks_like_local_path(name: str) -> bool:
    """A checkpoint or dataset name that points at the file system rather than at the Hub.

    Hub names may contain one slash ("org/name"), so a slash alone does not make a path: an existing
    path, or one that starts with "/", "./", "../" or "~", does.
    """
    return os.path.exists(name) or name.startswith(("/", "./", "../", "~"))


def expand_local(name: str) -> str:
    """A checkpoint name as given, with a local folder's ~ expanded (a Hub name is left as it is)."""
    return os.path.expanduser(name) if looks_like_local_path(name) else name


def offline_reason(kind: str) -> str | None:
    """Why the libraries will not ask the Hub for this kind of repository (their offline switches, as they read
    them at import), or why this process stopped asking; None when it may ask."""
    if kind == "dataset":
        import datasets

        if datasets.config.HF_HUB_OFFLINE:
            return "offline mode (HF_HUB_OFFLINE or HF_DATASETS_OFFLINE)"
    else:
        from huggingface_hub import constants

        if constants.is_offline_mode():
            return "offline mode (HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE)"
    return _UNREACHABLE[0] if _UNREACHABLE else None


def forget() -> None:
    """Forget every resolution and that the Hub did not answer (tests; a long-lived process after the network returns)."""
    _RESOLVED.clear()
    _UNREACHABLE.clear()


def split_revision(checkpoint: str) -> tuple[str, str]:
    """A Hub checkpoint as (name, revision): `org/name@v1.0` -> ("org/name", "v1.0"); no `@`: the revision is main."""
    name, at, revision = checkpoint.rpartition("@")
    return (name, revision) if at and name and revision else (checkpoint, "main")


def with_revision(name: str, revision: str | None) -> str:
    """The checkpoint string for a name at a revision (main: the bare name, so both spellings are one job)."""
    return name if not revision or revision == "main" or looks_like_local_path(name) else f"{name}@{revision}"


def resolve_model(checkpoint: str) -> Resolved:
    """The commit a Hub checkpoint (`name` or `name@revision`) points at, asked once per process; a MissingInput or
    ClaimsError naming the name, the revision and the fix when neither the Hub nor the Hub cache has it."""
    name, revision = split_revision(checkpoint)
    return _resolve("model", name, None, revision)


def resolve_dataset(path: str, config: str | None, revision: str = "main") -> Resolved:
    """The commit of a Hub dataset's revision (asked once per process), from the Hub or datasets' Arrow cache."""
    return _resolve("dataset", path, config, revision or "main")


def recorded(checkpoint: str) -> dict[str, Any] | None:
    """What this process found for a Hub checkpoint (Resolved.record, or why its commit is unknown), without asking
    anything: None when it was never resolved here."""
    name, revision = split_revision(checkpoint)
    found = _RESOLVED.get(("model", name, None, revision))
    if found is None:
        return None
    return found.record() if isinstance(found, Resolved) else {"revision": revision, "commit": None, "unknown": found.what}


def _resolve(kind: str, repo: str, config: str | None, revision: str) -> Resolved:
    memo = (kind, repo, config, revision)
    if memo not in _RESOLVED:
        try:
            _RESOLVED[memo] = _ask_hub(kind, repo, config, revision)
        except ClaimsError as error:
            _RESOLVED[memo] = error
    found = _RESOLVED[memo]
    if isinstance(found, ClaimsError):
        raise found
    return found


def _ask_hub(kind: str, repo: str, config: str | None, revision: str) -> Resolved:
    """Ask the Hub (one metadata request, huggingface_hub's own client); on no answer, read the cache."""
    reason = offline_reason(kind)
    if reason is None:
        from huggingface_hub import HfApi, constants
        from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

        ask = HfApi().dataset_info if kind == "dataset" else HfApi().model_info
        try:
            info = ask(repo, revision=revision, timeout=constants.HF_HUB_ETAG_TIMEOUT)
            return Resolved(repo, kind, revision, info.sha, "hub", config=config)
        except RevisionNotFoundError:
            raise ClaimsError(f"the Hub's {kind} {repo!r} has no revision {revision!r}",
                              f"name a branch, a tag or a commit of https://huggingface.co/{_url_part(kind)}{repo}") from None
        except RepositoryNotFoundError as error:  # a typo, or a private / gated repository without access
            reason = f"the Hub does not give {repo!r} ({type(error).__name__}, HTTP {error.response.status_code})"
            cached = _from_cache(kind, repo, config, revision, reason, required=False)
            if cached is not None:
                return cached
            raise ClaimsError(f"{kind} {repo!r} is not on the Hugging Face Hub, or this user may not read it",
                              f"{_close_names(kind, repo)}; for a private or gated one log in (`hf auth login`) "
                              "or set HF_TOKEN") from None
        except ValueError as error:  # huggingface_hub's HFValidationError: not a repository name at all
            raise ClaimsError(f"{repo!r} is not a Hub {kind} name ({first_line(error)})", _close_names(kind, repo)) from None
        except Exception as error:  # noqa: BLE001 - no network, a proxy, a timeout, a Hub error: read the cache
            reason = f"the Hub did not answer ({type(error).__name__}: {first_line(error)})"
            if not isinstance(error, HfHubHTTPError) or error.response.status_code >= 500:
                _UNREACHABLE[:] = [reason]
    return _from_cache(kind, repo, config, revision, reason, required=True)


def _from_cache(kind: str, repo: str, config: str | None, revision: str, reason: str, required: bool) -> Resolved | None:
    found = _cached_model(repo, revision) if kind == "model" else _cached_dataset(repo, config, revision)
    if found is not None:
        commit, version, note, folder = found
        return Resolved(repo, kind, revision, commit, "cache", "; ".join(filter(None, (reason, note))), config, version, folder)
    if not required:
        return None
    raise MissingInput(f"{_named(kind, repo, config)} at revision {revision!r}: {reason}, and it is not in the "
                       f"{'Hugging Face' if kind == 'model' else 'datasets'} cache ({cache_folder(kind)})",
                       _fetch_fix(kind, repo, config, revision))


def cache_folder(kind: str) -> str:
    """Where the libraries keep what they fetched: the Hub cache for checkpoints, datasets' Arrow cache for datasets."""
    if kind == "dataset":
        import datasets

        return str(datasets.config.HF_DATASETS_CACHE)
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _cached_model(name: str, revision: str) -> tuple[str, None, str, None] | None:
    """(commit, None, note, None) of a checkpoint's revision in the Hub cache: its config.json's snapshot, as transformers finds it."""
    from huggingface_hub import try_to_load_from_cache

    path = try_to_load_from_cache(name, "config.json", revision=revision)
    return (Path(path).parent.name, None, "", None) if isinstance(path, str) else None


def dataset_cache_root(path: str) -> Path:
    """datasets' Arrow cache folder of a Hub dataset: nyu-mll/glue -> <HF_DATASETS_CACHE>/nyu-mll___glue."""
    from datasets.naming import camelcase_to_snakecase

    parts = path.split("/")
    parts[-1] = camelcase_to_snakecase(parts[-1])
    return Path(cache_folder("dataset")) / "___".join(parts)


def _cached_dataset(path: str, config: str | None, revision: str) -> tuple[str | None, str, str, str] | None:
    """(commit, version, note, folder) of a dataset configuration in datasets' Arrow cache: the folder of that commit when the
    revision is one, else the newest one (the one load_dataset itself reads offline)."""
    name = config or "default"
    folders = []
    for info in dataset_cache_root(path).glob(f"{name}/*/*/dataset_info.json"):
        try:
            if json.loads(info.read_text(encoding="utf-8")).get("config_name") == name:
                folders.append(info.parent)
        except (OSError, ValueError):
            continue
    if COMMIT.fullmatch(revision):
        folders = [folder for folder in folders if folder.name == revision]
    if not folders:
        return None
    newest = max(folders, key=lambda folder: folder.stat().st_mtime)
    note = f"the newest of {len(folders)} cached revisions, as datasets reads it offline" if len(folders) > 1 else ""
    if not COMMIT.fullmatch(newest.name):
        return None, newest.parent.name, f"its cache folder {newest.name} is not a commit: the revision used is unknown", newest.name
    return newest.name, newest.parent.name, note, newest.name


def load_dataset_split(resolved: Resolved, split: str) -> Any:
    """One split of a resolved Hub dataset: read from datasets' Arrow cache when it holds that commit (no request at all),
    else load_dataset at the commit (which fetches it and writes that cache); a MissingInput naming the fix when neither works."""
    import datasets

    version = resolved.version or _cached_version(resolved)
    folder = resolved.folder or resolved.commit
    try:
        if version and folder:
            from datasets.packaged_modules.cache.cache import Cache  # the reader load_dataset itself uses offline

            builder = Cache(repo_id=resolved.repo, dataset_name=resolved.repo.split("/")[-1],
                            config_name=resolved.config or "default", version=version, hash=folder)
            return builder.as_dataset(split=split)
        if resolved.local_only:
            raise FileNotFoundError("not in the cache")
        return datasets.load_dataset(resolved.repo, resolved.config, split=split, revision=resolved.commit or resolved.revision)
    except (OSError, ValueError) as error:  # ConnectionError and FileNotFoundError are OSErrors
        raise MissingInput(f"cannot load split {split!r} of {resolved.describe()} ({first_line(error)})",
                           _fetch_fix("dataset", resolved.repo, resolved.config, resolved.revision)) from None


def _cached_version(resolved: Resolved) -> str | None:
    """The version folder under which datasets' Arrow cache holds this commit of the configuration, or None."""
    if not resolved.commit:
        return None
    found = _cached_dataset(resolved.repo, resolved.config, resolved.commit)
    return found[1] if found else None


def _named(kind: str, repo: str, config: str | None) -> str:
    return f"dataset {repo!r} ({config})" if kind == "dataset" and config else f"{kind} {repo!r}"


def _url_part(kind: str) -> str:
    return "datasets/" if kind == "dataset" else ""


def _fetch_fix(kind: str, repo: str, config: str | None, revision: str) -> str:
    if kind == "model":
        close = _close_names("model", repo).split(" known: ")[0]  # a typo's likely fix first, before the download's
        fetch = (f"on a machine with internet and the same HF_HOME run `hf download {repo} --revision {revision}`, then run "
                 "here (HF_HUB_OFFLINE=1 skips the Hub); or pass a local folder (--bert-checkpoint / --distilbert-checkpoint DIR)")
        return f"{close} If {repo!r} is the name meant: {fetch}" if close.startswith("did you mean") else fetch
    call = f"datasets.load_dataset({repo!r}, {config!r}, revision={revision!r})" if config else \
        f"datasets.load_dataset({repo!r}, revision={revision!r})"
    return (f"on a machine with internet and the same HF_HOME run `python -c \"import datasets; {call}\"` (it writes the "
            "Arrow cache that datasets reads offline), then run here; or pass local files (--data-dir)")


def cached_names(kind: str) -> list[str]:
    """The repositories of a kind that the Hub cache holds (models--org--name -> org/name)."""
    prefix = f"{kind}s--"
    try:
        entries = os.listdir(cache_folder("model"))  # the Hub cache holds both kinds' downloads
    except OSError:
        return []
    return sorted(entry[len(prefix):].replace("--", "/") for entry in entries if entry.startswith(prefix))


def _close_names(kind: str, repo: str) -> str:
    """The close names among the cache's and, for checkpoints, the registry's ("did you mean ...?"), every one when few."""
    known = set(cached_names(kind))
    if kind == "model":
        from harness.spec import registry

        try:
            known |= set(registry.load(registry.DEFAULT_REGISTRY).paper.get("checkpoints", {}).values())
        except ClaimsError:
            pass
    if repo in known:  # a known name that is absent needs fetching, not another name
        return f"{repo!r} is a known name"
    if len(known) <= 8:
        return did_you_mean(repo, known) if known else "check the name on https://huggingface.co"
    close = difflib.get_close_matches(repo, sorted(known), n=3)
    return f"did you mean {', '.join(map(repr, close))}?" if close else "check the name on https://huggingface.co"


