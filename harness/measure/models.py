"""Checkpoints and architectures: configs, models built from them, parameter counts and weight sizes.

Size and speed depend only on the architecture, so both are measured on models built from the
checkpoint's config (no weights needed). The config comes from the checkpoint itself (a local folder,
or a Hub name at its revision: from the Hub, or from the Hugging Face cache when the Hub does not
answer) and falls back to the copies in fixtures/configs/ for the paper's two checkpoints, so the size
and speed claims run offline. Loading trained weights and tokenizers for fine-tuning lives here too
(`load_pretrained`, `load_tokenizer`), with an error that names the fix when they cannot be had; whether
a checkpoint's weights can be had (`weights_problem`, WEIGHT_FILES) is decided here and nowhere else. A
Hub name is loaded at the commit harness.data.hub resolved its revision to, from the cache alone
(`local_files_only`) when the Hub did not answer: no per-file retries. Not here: which commit that is
(harness.data.hub), training.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    PretrainedConfig,
)

from harness.data.hub import Resolved, looks_like_local_path, resolve_model, split_revision
from harness.errors import MissingInput, first_line
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


def hub_kwargs(resolved: Resolved) -> dict[str, Any]:
    """from_pretrained's arguments for a resolved Hub checkpoint: its commit, and the cache alone when the Hub did not answer."""
    return {"revision": resolved.commit or resolved.revision, "local_files_only": resolved.local_only}


def load_config(checkpoint: str) -> Architecture:
    """The checkpoint's own config when it can be had, else the project's copy; else a MissingInput."""
    if looks_like_local_path(checkpoint):
        folder = local_folder(checkpoint)
        if not (folder / "config.json").is_file():
            raise MissingInput(f"checkpoint folder {checkpoint!r} has no config.json", CHECKPOINT_FIX)
        return Architecture(checkpoint, AutoConfig.from_pretrained(folder), f"local folder {checkpoint}")
    try:
        resolved = resolve_model(checkpoint)
        return Architecture(checkpoint, AutoConfig.from_pretrained(resolved.repo, **hub_kwargs(resolved)),
                            f"Hugging Face {resolved.describe()}")
    except (MissingInput, OSError) as error:
        missing = error if isinstance(error, MissingInput) else None
    bundled = CONFIG_DIR / split_revision(checkpoint)[0].split("/")[-1]
    if (bundled / "config.json").is_file():
        return Architecture(checkpoint, AutoConfig.from_pretrained(bundled), f"project copy fixtures/configs/{bundled.name}")
    if missing is not None:
        raise missing
    raise MissingInput(f"cannot get the config of checkpoint {checkpoint!r} from the Hub or the Hugging Face cache",
                       f"`hf download {split_revision(checkpoint)[0]} --revision {split_revision(checkpoint)[1]}` where the Hub "
                       "answers (the same HF_HOME), or pass a local folder with config.json")


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
    """Why a checkpoint's trained weights cannot be had here (a MissingInput naming the fix), or None; a Hub name the
    Hub does not know is a ClaimsError (raised)."""
    if looks_like_local_path(checkpoint):
        try:
            folder = local_folder(checkpoint)
        except MissingInput as missing:
            return missing
        if weight_files(folder):
            return None
        return MissingInput(f"checkpoint folder {checkpoint!r} has no weights (model.safetensors or pytorch_model.bin)",
                            "save the model there with save_pretrained(), or name a Hub checkpoint and connect to the internet")
    try:
        resolved = resolve_model(checkpoint)
    except MissingInput as missing:
        return missing
    if resolved.local_only and not any(_cached_file(resolved, name) for name in WEIGHT_FILES):
        return MissingInput(f"the Hugging Face cache holds {resolved.describe()} without its weights (model.safetensors "
                            "or pytorch_model.bin)", f"on a machine with internet and the same HF_HOME run `hf download "
                            f"{resolved.repo} --revision {resolved.revision}`, then run here")
    return None


def _cached_file(resolved: Resolved, filename: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(resolved.repo, filename, revision=resolved.commit or resolved.revision), str)


def _missing_file(resolved: Resolved, what: str, error: OSError) -> MissingInput:
    """A Hub checkpoint's file that transformers could not get (from the cache alone, or the Hub): one line and the fix."""
    return MissingInput(f"cannot load the {what} of {resolved.describe()} ({first_line(error)})",
                        f"on a machine with internet and the same HF_HOME run `hf download {resolved.repo} --revision "
                        f"{resolved.revision}`, then run here; or pass a local folder saved by save_pretrained()")


def load_pretrained(checkpoint: str, head: str | None, num_labels: int = 2) -> torch.nn.Module:
    """Trained weights of a checkpoint with a fresh head; a MissingInput that names the fix if they cannot be had."""
    problem = weights_problem(checkpoint)
    if problem is not None:
        raise problem
    kwargs: dict[str, Any] = {"num_labels": num_labels} if head == "sequence_classification" else {}
    if looks_like_local_path(checkpoint):
        return HEADS[head].from_pretrained(local_folder(checkpoint), **kwargs)
    resolved = resolve_model(checkpoint)
    try:
        return HEADS[head].from_pretrained(resolved.repo, **kwargs, **hub_kwargs(resolved))
    except OSError as error:
        raise _missing_file(resolved, "weights", error) from None


def load_tokenizer(checkpoint: str | Path) -> Any:
    """A checkpoint's own tokenizer (a local folder, or a Hub name at its resolved commit); a MissingInput naming the
    fix when its files are not there."""
    from transformers import AutoTokenizer

    if looks_like_local_path(str(checkpoint)):
        try:
            return AutoTokenizer.from_pretrained(str(checkpoint))
        except (OSError, ValueError) as error:
            raise MissingInput(f"cannot load the tokenizer of {str(checkpoint)!r} ({first_line(error)})",
                               "save the tokenizer beside the weights (tokenizer.save_pretrained(folder))") from None
    resolved = resolve_model(str(checkpoint))
    try:
        return AutoTokenizer.from_pretrained(resolved.repo, **hub_kwargs(resolved))
    except (OSError, ValueError) as error:
        raise _missing_file(resolved, "tokenizer", error) from None


def accepted_inputs(model: torch.nn.Module) -> set[str]:
    """The keyword arguments a model's forward takes (DistilBERT takes no token_type_ids)."""
    return set(inspect.signature(model.forward).parameters)
