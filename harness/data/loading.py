"""Load one split of a task as a `datasets.Dataset` with the Hub's columns, from the Hub or from local files.

Sources: the Hugging Face Hub (nyu-mll/glue, stanfordnlp/imdb, rajpurkar/squad; the default), or a
data root in the layout of ../shared/data:

    ROOT/glue/<CoLA|MNLI|MRPC|QNLI|QQP|RTE|SST-2|STS-B|WNLI>/{train,dev,dev_matched,dev_mismatched,test}.tsv
    ROOT/imdb/{train,test}.parquet | {train,test}.csv | aclImdb/{train,test}/{pos,neg}/ID_RATING.txt
    ROOT/squad/{train,dev}-v1.1.json

or one folder/file per kind (glue_dir, imdb_dir, squad_file: the CLI's --glue-dir, --imdb-dir,
--squad-file). With a data root, a file it lacks comes from the Hub when the Hub is reachable. Rows,
columns and label ids are the Hub's whichever source (the parsers are in harness.data.local_files). A
parsed local file is cached as Arrow under the datasets cache, keyed by the file's path, size and
time, so later loads and the tokenization maps on it are cached too.

Callers resolve a task once (harness.spec.tasks.get_task) and pass its TaskSpec; `locate` decides a
split's Source once, and the Source is what is loaded (`load`) and fingerprinted for cache keys
(`Source.identity`). Absent data (no local file and no Hub) is a MissingInput naming the task, the
split and the option that points at local files; a path of the wrong kind (a file given for a folder,
or a folder for the SQuAD file) is a ClaimsError naming it. Tokenizing is not done here (harness.data.preprocess).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import datasets

from harness.data import local_files
from harness.data.hub import hub_is_reachable
from harness.errors import ClaimsError, MissingInput, did_you_mean
from harness.files import digest, file_sha256
from harness.spec.tasks import TaskSpec

PARSER_VERSION = 2  # bump when a parser's output changes: it invalidates the cache
CACHE_ENV = "DISTILBERT_CLAIMS_DATA_CACHE"


@dataclass(frozen=True)
class Source:
    """Where one split of a task comes from: kind is hub, glue_tsv, imdb_parquet, imdb_csv, aclimdb or squad_json."""

    spec: TaskSpec
    split: str
    kind: str
    location: str  # a path, or the Hub's path/config

    @property
    def task(self) -> str:
        return self.spec.name

    def describe(self) -> str:
        """One line of provenance (for results): hub:nyu-mll/glue/cola or glue_tsv:/path/CoLA/dev.tsv."""
        return f"hub:{self.location}" if self.kind == "hub" else f"{self.kind}:{self.location}"

    def files(self) -> list[Path]:
        """Every local file this source reads (none for the Hub)."""
        if self.kind == "hub":
            return []
        path = Path(self.location)
        return [p for p, _ in local_files.imdb_tree_files(path, self.split)] if self.kind == "aclimdb" else [path]

    def identity(self) -> dict[str, Any]:
        """What pins the split's content for a cache key: the Hub's name, or the local files' content hashes
        (not their paths: the same file elsewhere is the same data)."""
        if self.kind == "hub":
            return {"kind": "hub", "location": self.location}
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
            f"ROOT/squad/) or {example}; pytest takes --data-dir ROOT; or run where huggingface.co is reachable")


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
        if _exists(kind, path, split):
            return Source(spec, split, kind, str(path.resolve()))
    explicit = {"glue_tsv": glue_dir, "imdb": imdb_dir, "squad_json": squad_file}[spec.local.format]
    if explicit is not None or (candidates and not hub_is_reachable()):
        looked = ", ".join(str(path) for _, path in candidates)
        raise MissingInput(f"task {spec.name!r}, split {split!r}: no local file found (looked for {looked})"
                          + ("" if explicit is not None else " and the Hugging Face Hub is unreachable"),
                          _how_to_point(spec, split))
    if not hub_is_reachable():
        raise MissingInput(f"task {spec.name!r}, split {split!r}: the Hugging Face Hub ({spec.hub_path}) is "
                          "unreachable and no local data was given", _how_to_point(spec, split))
    return Source(spec, split, "hub", f"{spec.hub_path}/{spec.hub_config}" if spec.hub_config else spec.hub_path)


def load(source: Source) -> datasets.Dataset:
    """The split a Source names, with the Hub's columns and label ids, from local files (cached) or the Hub."""
    if source.kind == "hub":
        return _load_hub(source.spec, source.split)
    return _cached(source, lambda: _parse(source))


def load_split(spec: TaskSpec, split: str, data_dir: Path | None = None, *, glue_dir: Path | None = None,
               imdb_dir: Path | None = None, squad_file: Path | None = None) -> datasets.Dataset:
    """locate, then load: one split of a task, from local files (cached) or the Hub."""
    return load(locate(spec, split, data_dir, glue_dir=glue_dir, imdb_dir=imdb_dir, squad_file=squad_file))


def _load_hub(spec: TaskSpec, split: str) -> datasets.Dataset:
    dataset = datasets.load_dataset(spec.hub_path, spec.hub_config, split=split)
    expected = list(features_for(spec))
    missing = [column for column in expected if column not in dataset.column_names]
    if missing:
        raise ClaimsError(f"{spec.hub_path} ({spec.hub_config or 'default'}) {split}: the Hub's dataset lacks "
                          f"columns {missing}; found {dataset.column_names}",
                          "the dataset on the Hub has changed: load local files instead (--data-dir)")
    return dataset.select_columns(expected)


def _parse(source: Source) -> datasets.Dataset:
    spec, path = source.spec, Path(source.location)
    features = features_for(spec)
    if source.kind == "glue_tsv":
        frame = local_files.read_glue_tsv(path, spec, source.split)
    elif source.kind in ("imdb_parquet", "imdb_csv"):
        frame = local_files.read_imdb_table(path, spec)
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
