"""Where models run: the one home of the CUDA decision (--device) and of the precision a device trains in.

`resolve` turns the --device choice into a torch device ("auto": CUDA when torch sees a GPU, else the
CPU; "cuda" without a GPU is a MissingInput naming the fix); `precision` is bf16 on a GPU that has
it, else fp32; `cuda_missing` says why a GPU-only measurement cannot run on the resolved device.
"""

from __future__ import annotations

from harness.errors import MissingInput

CHOICES = ("auto", "cpu", "cuda")


def cuda_available() -> bool:
    """Whether torch sees a CUDA GPU."""
    import torch

    return torch.cuda.is_available()


def gpu_count() -> int:
    """How many CUDA GPUs torch sees (0 without CUDA); through NVML, so CUDA is not initialised by asking."""
    import torch

    return torch.cuda.device_count()


def resolve(choice: str) -> str:
    """The torch device for a --device choice; 'cuda' without a GPU is a MissingInput."""
    if choice not in CHOICES:
        raise ValueError(f"--device {choice!r}: expected one of {', '.join(CHOICES)}")
    if choice == "auto":
        return "cuda" if cuda_available() else "cpu"
    if choice == "cuda" and not cuda_available():
        raise MissingInput("--device cuda: CUDA is not available on this machine (torch.cuda.is_available() is False)",
                           "use --device cpu or auto")
    return choice


def cuda_missing(device: str) -> str | None:
    """Why a GPU-only measurement cannot run on this resolved device, or None when it can."""
    if device == "cuda":
        return None
    if not cuda_available():
        return "needs CUDA: torch.cuda.is_available() is False"
    return "--device cpu was chosen; GPU rows run with --device auto or cuda"


def precision(device: str) -> str:
    """bf16 mixed precision on a GPU that supports it, else fp32."""
    import torch

    return "bf16" if device == "cuda" and cuda_available() and torch.cuda.is_bf16_supported() else "fp32"
