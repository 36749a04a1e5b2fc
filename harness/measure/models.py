"""Checkpoints and architectures: configs, models built from them, parameter counts and weight sizes.

Size and speed depend only on the architecture, so both are measured on models built from the
checkpoint's config (no weights needed). The config comes from the checkpoint itself (a local folder,
or the Hub when it answers) and falls back to the copies in fixtures/configs/ for the paper's two
checkpoints, so the size and speed claims run offline. Loading trained weights for fine-tuning lives
here too (`load_pretrained`), with an error that names the fix when they cannot be had; whether a
checkpoint's weights can be had (`weights_problem`, WEIGHT_FILES) is decided here and nowhere else.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    PretrainedConfig,
)

from harness.data.hub import hub_is_reachable, looks_like_local_path
from harness.errors import MissingInput
from harness.paths import FIXTURES

CONFIG_DIR = FIXTURES / "configs"
BYTES_PER_FP32 = 4
# The files that hold a checkpoint's trained weights (save_pretrained writes one of them).
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
# The heads a claim may need on top of the encoder, by the AutoModel class that builds them.
HEADS = {
    None: AutoModel,
    "sequence_classification": AutoModelForSequenceClassification,
    "question_answering": AutoModelForQuestionAnswering,
}


@dataclass(frozen=True)
class Architecture:
    """A checkpoint's name and its config, and where that config came from."""

    checkpoint: str
    config: PretrainedConfig
    config_source: str

    @property
    def layers(self) -> int:
        return self.config.num_hidden_layers


CHECKPOINT_FIX = "point --bert-checkpoint/--distilbert-checkpoint at a folder saved by save_pretrained()"


def local_folder(checkpoint: str) -> Path:
    """A local checkpoint's folder (~ expanded); a MissingInput when the path does not exist or is a file."""
    folder = Path(checkpoint).expanduser()
    if not folder.exists():
        raise MissingInput(f"checkpoint folder {checkpoint!r} does not exist", f"check the path; {CHECKPOINT_FIX}")
    if not folder.is_dir():
        raise MissingInput(f"checkpoint {checkpoint!r} is a file, not a folder", CHECKPOINT_FIX)
    return folder


def load_config(checkpoint: str) -> Architecture:
    """The checkpoint's own config when it can be had, else the project's copy; else a MissingInput."""
    if looks_like_local_path(checkpoint):
        folder = local_folder(checkpoint)
        if not (folder / "config.json").is_file():
            raise MissingInput(f"checkpoint folder {checkpoint!r} has no config.json", CHECKPOINT_FIX)
        return Architecture(checkpoint, AutoConfig.from_pretrained(folder), f"local folder {checkpoint}")
    if hub_is_reachable():
        return Architecture(checkpoint, AutoConfig.from_pretrained(checkpoint), f"Hugging Face Hub {checkpoint}")
    bundled = CONFIG_DIR / checkpoint.split("/")[-1]
    if (bundled / "config.json").is_file():
        return Architecture(checkpoint, AutoConfig.from_pretrained(bundled), f"project copy fixtures/configs/{bundled.name}")
    raise MissingInput(f"cannot get the config of checkpoint {checkpoint!r}: the Hub is unreachable and no local copy exists",
                      "connect to the internet, or pass a local folder with config.json")


def build(architecture: Architecture, head: str | None = None, num_labels: int = 2, device: str = "meta") -> torch.nn.Module:
    """The architecture with random weights (on the meta device by default: shapes only, no memory)."""
    config = architecture.config
    if head == "sequence_classification":
        settings = {k: v for k, v in config.to_dict().items() if k not in ("id2label", "label2id")}
        config = type(config).from_dict({**settings, "num_labels": num_labels})
    with torch.device(device):
        return HEADS[head].from_config(config)


def count_parameters(model: torch.nn.Module) -> int:
    """Trainable parameters, each tensor counted once (tied weights are one tensor)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def size_summary(architecture: Architecture) -> dict[str, float | int | str]:
    """Exact parameter counts of the bare encoder and of each head, and the fp32 weight size."""
    encoder = count_parameters(build(architecture))
    return {
        "checkpoint": architecture.checkpoint,
        "config_source": architecture.config_source,
        "layers": architecture.layers,
        "encoder_parameters": encoder,
        "sequence_classification_2_labels_parameters": count_parameters(build(architecture, "sequence_classification", 2)),
        "regression_1_label_parameters": count_parameters(build(architecture, "sequence_classification", 1)),
        "question_answering_parameters": count_parameters(build(architecture, "question_answering")),
        # fp32: 4 bytes a parameter; MB = 10^6 bytes, MiB = 2^20 bytes.
        "fp32_megabytes": round(encoder * BYTES_PER_FP32 / 1e6, 1),
        "fp32_mebibytes": round(encoder * BYTES_PER_FP32 / 2**20, 1),
    }


def weight_files(folder: Path) -> list[Path]:
    """The weight files a local checkpoint folder holds (empty: it has none)."""
    return [folder / name for name in WEIGHT_FILES if (folder / name).is_file()]


def weights_problem(checkpoint: str) -> MissingInput | None:
    """Why a checkpoint's trained weights cannot be had here (a MissingInput naming the fix), or None."""
    if looks_like_local_path(checkpoint):
        try:
            folder = local_folder(checkpoint)
        except MissingInput as missing:
            return missing
        if weight_files(folder):
            return None
        return MissingInput(f"checkpoint folder {checkpoint!r} has no weights (model.safetensors or pytorch_model.bin)",
                            "save the model there with save_pretrained(), or name a Hub checkpoint and connect to the internet")
    if hub_is_reachable():
        return None
    return MissingInput(f"pretrained weights of {checkpoint!r} need the Hugging Face Hub, which is unreachable",
                        "run with internet access, or pass a local folder with the weights (--bert-checkpoint / --distilbert-checkpoint)")


def load_pretrained(checkpoint: str, head: str, num_labels: int = 2) -> torch.nn.Module:
    """Trained weights of a checkpoint with a fresh head; a MissingInput that names the fix if they cannot be had."""
    problem = weights_problem(checkpoint)
    if problem is not None:
        raise problem
    kwargs = {"num_labels": num_labels} if head == "sequence_classification" else {}
    return HEADS[head].from_pretrained(local_folder(checkpoint) if looks_like_local_path(checkpoint) else checkpoint, **kwargs)


def accepted_inputs(model: torch.nn.Module) -> set[str]:
    """The keyword arguments a model's forward takes (DistilBERT takes no token_type_ids)."""
    return set(inspect.signature(model.forward).parameters)
