"""Load one split of a task as a `datasets.Dataset` with the Hub's columns, from the Hub or from local files.

Sources: the Hugging Face Hub (nyu-mll/glue, stanfordnlp/imdb, rajpurkar/squad; the default), or a
data root in the layout of ../shared/data:

    ROOT/glue/<CoLA|MNLI|MRPC|QNLI|QQP|RTE|SST-2|STS-B|WNLI>/{train,dev,dev_matched,dev_mismatched,test}.tsv
    ROOT/imdb/{train,test}.parquet | {train,test}.csv | aclImdb/{train,test}/{pos,neg}/ID_RATING.txt
    ROOT/squad/{train,dev}-v1.1.json

or one folder/file per kind (glue_dir, imdb_dir, squad_file: the CLI's --glue-dir, --imdb-dir,
--squad-file). With a data root, a file it lacks comes from the Hub, at the task's hub_revision resolved to a
commit by harness.data.hub (the Hub, or datasets' own cache when the Hub is not asked or does not answer).
Rows, columns and label ids are the Hub's whichever source (the parsers are in harness.data.local_files). A
parsed local file is cached as Arrow under the datasets cache, keyed by the file's path, size and
time, so later loads and the tokenization maps on it are cached too.

Callers resolve a task once (harness.spec.tasks.get_task) and pass its TaskSpec; `locate` decides a
split's Source once, and the Source is what is loaded (`load`) and fingerprinted for cache keys
(`Source.identity`). Absent data (no local file, and neither the Hub nor datasets' cache) is a MissingInput
naming the task, the split, the Hub dataset's revision and the options that point at local files; a path of the wrong kind (a file given for a folder,
or a folder for the SQuAD file), a path that is there but cannot be read as the file it should be (a
folder, a symlink loop) and a data root one level too deep (ROOT/glue given for ROOT) are ClaimsErrors
naming it: an error, never a skip or a silent fall-back to the Hub. Tokenizing is not done here (harness.data.preprocess).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets

from harness.data import hub, local_files, rows
from harness.errors import ClaimsError, MissingInput, did_you_mean
from harness.files import digest, file_sha256
from harness.spec.tasks import TaskSpec, load_tasks

PARSER_VERSION = 3  # bump when a parser's output or checks change: it invalidates the cache (3: per-field validation)
CACHE_ENV = "DISTILBERT_CLAIMS_DATA_CACHE"


@dataclass(frozen=True)
class Source:
    """Where one split of a task comes from: kind is hub, glue_tsv, imdb_parquet, imdb_csv, aclimdb or squad_json."""

    spec: TaskSpec
    split: str
    kind: str
    location: str  # a path, or the Hub's path/config
    hub: hub.Resolved | None = None  # a Hub dataset's revision and the commit it resolved to

    @property
    def task(self) -> str:
        return self.spec.name

    def describe(self) -> str:
        """One line of provenance (for results): hub:nyu-mll/glue/cola@<commit> or glue_tsv:/path/CoLA/dev.tsv."""
        if self.kind != "hub":
            return f"{self.kind}:{self.location}"
        return f"hub:{self.location}@{self.hub.commit or self.hub.revision + ' (commit unknown)'}" if self.hub else f"hub:{self.location}"

    def files(self) -> list[Path]:
        """Every local file this source reads (none for the Hub)."""
        if self.kind == "hub":
            return []
        path = Path(self.location)
        return [p for p, _ in local_files.imdb_tree_files(path, self.split)] if self.kind == "aclimdb" else [path]

    def identity(self) -> dict[str, Any]:
        """What pins the split's content for a cache key: the Hub's name with the commit its revision resolved to, or
        the local files' content hashes (not their paths: the same file elsewhere is the same data)."""
        if self.kind == "hub":
            return {"kind": "hub", "location": self.location, **(self.hub.identity() if self.hub else {})}
        if self.kind == "aclimdb":
            root = Path(self.location)
            listing = [(path.relative_to(root).as_posix(), path.stat().st_size) for path in self.files()]
            return {"kind": self.kind, "listing_sha256": digest(listing)}
        return {"kind": self.kind, "files": {path.name: file_sha256(path) for path in self.files()}}


def features_for(spec: TaskSpec) -> datasets.Features:
    """The Hub's features of a task (ClassLabel names for the labels, float32 for STS-B, int32 idx)."""
    if spec.kind == "extractive_qa":
        return datasets.Features({
            "id": datasets.Value("string"), "title": datasets.Value("string"),
            "context": datasets.Value("string"), "question": datasets.Value("string"),
            "answers": {"text": datasets.List(datasets.Value("string")),
                        "answer_start": datasets.List(datasets.Value("int32"))},
        })
    columns = {name: datasets.Value("string") for name in spec.text_columns}
    columns["label"] = (datasets.Value("float32") if spec.kind == "regression"
                        else datasets.ClassLabel(names=list(spec.label_names)))
    if spec.local.format == "glue_tsv":
        columns["idx"] = datasets.Value("int32")
    return datasets.Features(columns)


def _check_split(spec: TaskSpec, split: str) -> None:
    if split not in spec.splits:
        raise ClaimsError(f"task {spec.name!r} has no split {split!r}", did_you_mean(split, spec.splits))


def _how_to_point(spec: TaskSpec, split: str) -> str:
    if spec.local.format == "glue_tsv":
        file = spec.local.files.get(split, "dev.tsv")
        example = f"--glue-dir DIR (DIR/{spec.local.folder}/{file}, as download_glue_data.py writes it)"
    elif spec.local.format == "imdb":
        example = f"--imdb-dir DIR (DIR/{split}.parquet, DIR/{split}.csv with text,label, or the aclImdb/ folder)"
    else:
        example = f"--squad-file FILE ({spec.local.files.get(split, 'dev-v1.1.json')})"
    return (f"point at local files: `python -m harness data` takes --data-dir ROOT (ROOT/glue/, ROOT/imdb/, "
            f"ROOT/squad/) or {example}; pytest takes --data-dir ROOT")


def _local_candidates(spec: TaskSpec, split: str, data_dir: Path | None, glue_dir: Path | None,
                      imdb_dir: Path | None, squad_file: Path | None) -> list[tuple[str, Path]]:
    """The local files (or aclImdb folders) that would hold this split, most specific first."""
    fmt, folder = spec.local.format, spec.local.folder
    if fmt == "glue_tsv":
        name = spec.local.files[split]
        if glue_dir:  # the folder download_glue_data.py writes, or one task's folder under its own name
            roots = [glue_dir / folder] + ([glue_dir] if glue_dir.name.lower() == folder.lower() else [])
        else:
            roots = [data_dir / "glue" / folder] if data_dir else []
        return [("glue_tsv", root / name) for root in roots]
    if fmt == "squad_json":
        if squad_file:
            return [("squad_json", squad_file)]
        return [("squad_json", data_dir / folder / spec.local.files[split])] if data_dir and split in spec.local.files else []
    base = imdb_dir or (data_dir / folder if data_dir else None)
    if base is None:
        return []
    return [("imdb_parquet", base / f"{split}.parquet"), ("imdb_csv", base / f"{split}.csv"),
            ("aclimdb", base), ("aclimdb", base / "aclImdb")]


def _exists(kind: str, path: Path, split: str) -> bool:
    if kind == "aclimdb":
        sub = "train" if split == "unsupervised" else split
        return (path / sub).is_dir() and any((path / sub / part).is_dir() for part in ("neg", "pos", "unsup"))
    return path.is_file()


def _broken(kind: str, path: Path) -> str | None:
    """Why a path that is there cannot be read as the file a source needs (None: absent, or a readable file)."""
    if kind == "aclimdb" or not os.path.lexists(path):
        return None
    try:
        path.stat()
    except OSError as error:
        return "a symlink loop" if error.errno == errno.ELOOP else f"a broken symlink (to {os.readlink(path)})"
    if path.is_dir():
        return "a folder"
    if not path.is_file():
        return "not a regular file"
    return None if os.access(path, os.R_OK) else "not readable (permission denied)"


def data_root_problem(root: Path) -> str | None:
    """Why a data root is one level too deep (ROOT/glue given for ROOT: it holds what glue/, imdb/ or squad/ hold), or
    None. pytest checks --data-dir with it before anything runs; locate names the file it looked for instead."""
    if not root.is_dir() or any((root / kind).is_dir() for kind in ("glue", "imdb", "squad")):
        return None
    inside = {spec.local.folder for spec in load_tasks().values() if spec.local.format == "glue_tsv"}
    inside |= {"train-v1.1.json", "dev-v1.1.json", "train.parquet", "test.parquet", "train.csv", "test.csv", "aclImdb"}
    held = sorted(name for name in inside if (root / name).exists())
    if not held:
        return None
    return (f"is one level too deep: it holds {', '.join(held[:3])}{', ...' if len(held) > 3 else ''} itself, where a data "
            f"root holds glue/, imdb/ and squad/; pass its parent: --data-dir {root.parent}")


def _too_deep(data_dir: Path, candidates: list[tuple[str, Path]], split: str) -> ClaimsError | None:
    """A data root given one level too deep (ROOT/glue for ROOT): what was looked for because of it, or None."""
    for kind, path in candidates:
        relative = path.relative_to(data_dir).parts if path.is_relative_to(data_dir) else ()
        if len(relative) < 2:
            continue
        inside = data_dir.joinpath(*relative[1:])
        if _exists(kind, inside, split):
            why = f"it holds {Path(*relative[1:])} itself"
        elif data_dir.name == relative[0] and not (data_dir / relative[0]).exists():
            why = f"it is named {relative[0]}/ and holds no {relative[0]}/"
        else:
            continue
        return ClaimsError(f"the data root {data_dir} is one level too deep ({why}), so {path} was looked for and is "
                           "not there", f"pass its parent: --data-dir {data_dir.parent}")
    return None


# What each of locate's paths names, and whether it is a folder: data_dir, glue_dir, imdb_dir, squad_file.
GIVEN_PATHS = (("data root", True), ("GLUE folder", True), ("IMDb folder", True), ("SQuAD file", False))


def locate(spec: TaskSpec, split: str, data_dir: Path | None = None, *, glue_dir: Path | None = None,
           imdb_dir: Path | None = None, squad_file: Path | None = None) -> Source:
    """Decide where a split comes from, without reading it: a local file when given or present, else the Hub."""
    _check_split(spec, split)
    paths = [Path(p).expanduser() if p is not None else None for p in (data_dir, glue_dir, imdb_dir, squad_file)]
    for (what, wants_folder), path in zip(GIVEN_PATHS, paths, strict=True):
        if path is not None and path.exists() and path.is_dir() != wants_folder:
            raise ClaimsError(f"the {what} {path} is a {'file' if wants_folder else 'folder'}, not a "
                              f"{'folder' if wants_folder else 'file'}", _how_to_point(spec, split))
    candidates = _local_candidates(spec, split, *paths)
    for kind, path in candidates:
        problem = _broken(kind, path)
        if problem:  # the path is there: a broken file is an error, never a skip or a silent fall-back to the Hub
            raise ClaimsError(f"task {spec.name!r}, split {split!r}: {path} is {problem}, not a readable file",
                              "replace it with the file itself (or a symlink to it), or remove it")
        if _exists(kind, path, split):
            return Source(spec, split, kind, str(path.resolve()))
    too_deep = _too_deep(paths[0], candidates, split) if paths[0] is not None else None
    if too_deep is not None:
        raise too_deep
    explicit = {"glue_tsv": glue_dir, "imdb": imdb_dir, "squad_json": squad_file}[spec.local.format]
    looked = f"no local file found (looked for {', '.join(str(path) for _, path in candidates)})" if candidates else ""
    if explicit is not None:
        raise MissingInput(f"task {spec.name!r}, split {split!r}: {looked}", _how_to_point(spec, split))
    try:
        resolved = hub.resolve_dataset(spec.hub_path, spec.hub_config, spec.hub_revision)
    except MissingInput as missing:  # neither the Hub nor datasets' cache has it
        raise MissingInput(f"task {spec.name!r}, split {split!r}: {looked + ' and ' if looked else ''}{missing.what}",
                           f"{missing.fix}; or {_how_to_point(spec, split)}") from None
    return Source(spec, split, "hub", f"{spec.hub_path}/{spec.hub_config}" if spec.hub_config else spec.hub_path, resolved)


def load(source: Source) -> datasets.Dataset:
    """The split a Source names, with the Hub's columns and label ids, from local files (cached) or the Hub."""
    if source.kind == "hub":
        return _load_hub(source)
    return _cached(source, lambda: _parse(source))


def load_split(spec: TaskSpec, split: str, data_dir: Path | None = None, *, glue_dir: Path | None = None,
               imdb_dir: Path | None = None, squad_file: Path | None = None) -> datasets.Dataset:
    """locate, then load: one split of a task, from local files (cached) or the Hub."""
    return load(locate(spec, split, data_dir, glue_dir=glue_dir, imdb_dir=imdb_dir, squad_file=squad_file))


def _load_hub(source: Source) -> datasets.Dataset:
    spec, split = source.spec, source.split
    resolved = source.hub or hub.resolve_dataset(spec.hub_path, spec.hub_config, spec.hub_revision)
    dataset = hub.load_dataset_split(resolved, split)
    expected = list(features_for(spec))
    missing = [column for column in expected if column not in dataset.column_names]
    if missing:
        raise ClaimsError(f"{spec.hub_path} ({spec.hub_config or 'default'}) {split}: the Hub's dataset lacks "
                          f"columns {missing}; found {dataset.column_names}",
                          "the dataset on the Hub has changed: load local files instead (--data-dir)")
    dataset = dataset.select_columns(expected)
    rows.check_rows(spec, split, dataset, f"hub:{resolved.repo}/{resolved.config or 'default'}@{resolved.commit or resolved.revision}")
    return dataset


def _parse(source: Source) -> datasets.Dataset:
    spec, path = source.spec, Path(source.location)
    features = features_for(spec)
    if source.kind == "glue_tsv":
        frame = local_files.read_glue_tsv(path, spec, source.split)
    elif source.kind in ("imdb_parquet", "imdb_csv"):
        frame = local_files.read_imdb_table(path, spec, source.split)
    elif source.kind == "aclimdb":
        frame = local_files.read_imdb_tree(path, source.split)
    else:
        return datasets.Dataset.from_list(local_files.read_squad_json(path), features=features)
    return datasets.Dataset.from_pandas(frame, features=features, preserve_index=False)


def _stamp(source: Source) -> list[tuple[str, int, int]]:
    """Path, size and modification time of every file a source reads: the Arrow cache key's input."""
    return [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in source.files()]


def cache_root() -> Path:
    """Where parsed local files are kept: $DISTILBERT_CLAIMS_DATA_CACHE, else under the datasets cache."""
    chosen = os.environ.get(CACHE_ENV)
    return Path(chosen) if chosen else Path(datasets.config.HF_DATASETS_CACHE) / "distilbert_claims"


def _cached(source: Source, build) -> datasets.Dataset:
    """Load the parsed split from the Arrow cache, or parse, save (atomically) and load it."""
    spec = source.spec
    key = digest([PARSER_VERSION, spec.name, spec.version, source.split, source.kind, _stamp(source)])
    target = cache_root() / f"{spec.name}-{source.split}-{key[:16]}"
    if (target / "dataset_info.json").is_file():
        return datasets.load_from_disk(str(target))
    dataset = build()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
        quiet = datasets.are_progress_bars_disabled()
        datasets.disable_progress_bars()
        try:
            dataset.save_to_disk(str(staging))
        finally:
            if not quiet:
                datasets.enable_progress_bars()
        try:
            staging.rename(target)
        except OSError:  # another process saved it first
            shutil.rmtree(staging, ignore_errors=True)
    except OSError:
        return dataset  # a read-only cache: the in-memory dataset still serves
    return datasets.load_from_disk(str(target))
