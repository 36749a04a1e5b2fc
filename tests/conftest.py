"""Fixtures shared by the harness's own tests."""

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory) -> dict[str, str]:
    """tiny-bert and tiny-distilbert saved with seeded random weights and their tokenizers, as local checkpoints
    (tests/tiny_models.py); read only, shared by every test that fine-tunes."""
    from tiny_models import save_tiny_checkpoints

    return save_tiny_checkpoints(tmp_path_factory.mktemp("checkpoints"))


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """A data root in ../shared/data's layout: the GLUE and SQuAD fixtures and a few IMDb reviews (read only)."""
    from tiny_models import write_tiny_data

    return write_tiny_data(tmp_path_factory.mktemp("data"))


class TrainingForbidden(Exception):
    pass


@pytest.fixture
def no_training(monkeypatch):
    """Any Trainer.train call fails: proves a result came from the cache."""
    from transformers import Trainer

    def forbidden(*args, **kwargs):
        raise TrainingForbidden("Trainer.train was called")

    monkeypatch.setattr(Trainer, "train", forbidden)


@pytest.fixture
def offline(monkeypatch, tmp_path_factory):
    """The Hugging Face Hub not asked (offline mode, as huggingface_hub and datasets read it) and an empty Hub cache,
    whatever this machine's network and caches: tests never depend on them."""
    import datasets
    from huggingface_hub import constants

    from harness.data import hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # for subprocesses; the libraries read it at import:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    empty = tmp_path_factory.getbasetemp() / "empty-hub-cache"
    empty.mkdir(exist_ok=True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(empty))
    hub.forget()
    yield
    hub.forget()
