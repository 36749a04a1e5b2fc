"""Tiny local checkpoints and a tiny data root, shared by the tests that fine-tune (imported, not collected).

tiny-bert and tiny-distilbert (fixtures/configs/tiny-*: 32 wide, a 233-token vocabulary) saved with seeded
random weights and their tokenizers; the data root holds the GLUE and SQuAD fixtures and a few IMDb rows,
in ../shared/data's layout. Their scores mean nothing; the plumbing is what the tests check.
"""

import shutil
from pathlib import Path

import pandas as pd

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
IMDB_ROWS = [("a great film with good acting", 1), ("the best movie of the year", 1), ("very funny and fun", 1),
             ("i love this story", 1), ("a bad and boring film", 0), ("the worst movie of the year", 0),
             ("too long and very boring", 0), ("i hate this plot", 0)]


def save_tiny_checkpoints(root: Path) -> dict[str, str]:
    """{"bert": folder, "distilbert": folder}: the tiny models with seeded random weights and their tokenizers."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    folders = {}
    for role, name in (("bert", "tiny-bert"), ("distilbert", "tiny-distilbert")):
        torch.manual_seed(0)
        AutoModel.from_config(AutoConfig.from_pretrained(FIXTURES / "configs" / name)).save_pretrained(root / name)
        AutoTokenizer.from_pretrained(FIXTURES / "configs" / name).save_pretrained(root / name)
        folders[role] = str(root / name)
    return folders


def tiny_job(checkpoints: dict[str, str], data_root: Path, task: str = "sst2", role: str = "bert", **kwargs):
    """A fine-tuning job of one tiny model on the tiny data, under the `smoke` protocol."""
    from harness.measure.finetune.job import make_job

    return make_job(checkpoints[role], task, "smoke", data_dir=data_root, **kwargs)


def write_tiny_data(root: Path) -> Path:
    """A data root in ../shared/data's layout: the GLUE and SQuAD fixtures and a few IMDb reviews."""
    shutil.copytree(FIXTURES / "glue", root / "glue")
    shutil.copytree(FIXTURES / "squad", root / "squad")
    (root / "imdb").mkdir()
    frame = pd.DataFrame(IMDB_ROWS, columns=["text", "label"])
    frame.to_parquet(root / "imdb" / "train.parquet")
    frame.iloc[::2].to_parquet(root / "imdb" / "test.parquet")
    return root
