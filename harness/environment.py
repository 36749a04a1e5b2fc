"""Provenance of a run: hardware, library versions, git commit and date, as results must record them.

`hardware()` is the one home of what machine a figure comes from (CPU model and count, each GPU with
its driver, the torch and transformers builds): the speed claims record it beside their times, and
`collect()` (every stored result's environment) is built on it. This module only describes; it
measures and decides nothing.
"""

from __future__ import annotations

import datetime as _dt
import functools
import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from harness.paths import PROJECT_ROOT

LIBRARIES = ("torch", "transformers", "datasets", "tokenizers", "accelerate", "numpy", "scikit-learn",
             "scipy", "pandas", "filelock", "pytest", "pytest-benchmark")


def library_versions() -> dict[str, str | None]:
    """Installed version of every library that can change a result (None when absent); a fresh dict each call."""
    return dict(_installed_versions())


@functools.lru_cache(maxsize=1)
def _installed_versions() -> tuple[tuple[str, str | None], ...]:
    """Looked up once a process (every cache key asks): installing a library means a new process."""
    found = []
    for name in LIBRARIES:
        try:
            found.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            found.append((name, None))
    return tuple(found)


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (platform.processor() as a fallback)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@functools.lru_cache(maxsize=1)
def gpu_driver() -> str | None:
    """The NVIDIA driver's version from nvidia-smi (torch does not expose it), or None without one."""
    try:
        found = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                               capture_output=True, text=True, timeout=10).stdout.strip().splitlines()
    except (OSError, subprocess.SubprocessError):
        return None
    return found[0] if found else None


def gpu_info() -> list[dict[str, Any]]:
    """Name, memory, capability and driver of each CUDA device; empty without CUDA."""
    import torch

    from harness import device

    if not device.cuda_available():
        return []
    devices = []
    for index in range(device.gpu_count()):
        props = torch.cuda.get_device_properties(index)
        devices.append({"index": index, "name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
                        "capability": f"{props.major}.{props.minor}", "cuda": torch.version.cuda, "driver": gpu_driver()})
    return devices


def hardware() -> dict[str, Any]:
    """The machine a figure comes from: CPU model and count, each GPU with its driver, torch and transformers."""
    import torch

    return {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "gpus": gpu_info(), "torch": torch.__version__,
            "transformers": importlib.metadata.version("transformers")}


def git_commit(root: Path | None = None) -> str | None:
    """The project's git commit (with '-dirty' when the tree has changes), or None outside git."""
    root = root or PROJECT_ROOT
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return commit.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def collect() -> dict[str, Any]:
    """Everything about this machine and software that a stored result must carry."""
    import torch

    machine = hardware()
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": machine["cpu"],
        "cpu_count": machine["cpu_count"],
        "torch_threads": torch.get_num_threads(),
        "gpus": machine["gpus"],
        "libraries": library_versions(),  # torch and transformers among them
        "git_commit": git_commit(),
    }
