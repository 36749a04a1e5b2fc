"""Fixtures shared by the harness's own tests."""

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def offline(monkeypatch):
    """The Hugging Face Hub unreachable (HF_HUB_OFFLINE=1), whatever this machine's network: tests never depend on it."""
    from harness.data import hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub.hub_is_reachable.cache_clear()
    yield
    hub.hub_is_reachable.cache_clear()
