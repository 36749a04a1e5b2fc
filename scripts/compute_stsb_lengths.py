"""Compute fixtures/stsb_dev_lengths.json: the token length of each STS-B dev pair under bert-base-uncased.

The speed claims time one forward pass per pair, so what they need of STS-B dev is each pair's length
(and where its first segment ends, for the token types). This script computes them once from the real
data with the real tokenizer and writes them with their provenance (the data file's sha256, the
vocabulary's sha256, the libraries and the date), so that a fresh clone can time inputs of exactly
those lengths offline. It does not time anything.

    python scripts/compute_stsb_lengths.py --data-dir ../shared/data --vocab ../shared/models/bert-base-uncased/vocab.txt
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.environment import library_versions  # noqa: E402
from harness.errors import ClaimsError  # noqa: E402
from harness.files import file_sha256  # noqa: E402
from harness.measure.speed import inputs as speed_inputs  # noqa: E402

LISTS = ("lengths", "first_segment_lengths")


def compute(data_dir: Path | None, vocab: Path) -> dict:
    """The fixture document: lengths, first-segment lengths and provenance."""
    from transformers import BertTokenizerFast

    vocab_sha = file_sha256(vocab)
    if vocab_sha != speed_inputs.BERT_VOCAB_SHA256:
        raise ClaimsError(f"{vocab} has sha256 {vocab_sha}, not bert-base-uncased's {speed_inputs.BERT_VOCAB_SHA256}",
                          "pass bert-base-uncased's vocab.txt (--vocab)")
    tokenizer = BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    source = speed_inputs.stsb_dev(data_dir)
    encodings = speed_inputs.tokenize_pairs(speed_inputs.stsb_dev_pairs(source), tokenizer)
    lengths = [int(e["input_ids"].shape[1]) for e in encodings]
    first_segments = [int((e["token_type_ids"] == 0).sum()) for e in encodings]
    versions = library_versions()
    return {
        "description": "Token length of each STS-B dev pair ([CLS] sentence1 [SEP] sentence2 [SEP]) under the "
                       "bert-base-uncased tokenizer, in the dataset's order; first_segment_lengths counts the tokens "
                       "of type 0 ([CLS] sentence1 [SEP]). Derived numbers only: no text.",
        "provenance": {
            "data": _portable(source.describe(), data_dir),
            "data_sha256": file_sha256(Path(source.location)) if source.kind != "hub" else None,
            "tokenizer": f"BertTokenizerFast(vocab_file=vocab.txt, do_lower_case=True), truncation at "
                         f"{speed_inputs.MAX_LENGTH} tokens",
            "vocab_sha256": vocab_sha,
            "transformers": versions.get("transformers"),
            "tokenizers": versions.get("tokenizers"),
            "date": _dt.datetime.now(_dt.timezone.utc).date().isoformat(),
            "script": "scripts/compute_stsb_lengths.py",
        },
        "pairs": len(lengths),
        "tokens": sum(lengths),
        "lengths": lengths,
        "first_segment_lengths": first_segments,
    }


def _portable(source: str, data_dir: Path | None) -> str:
    """The data source without this machine's absolute path: glue_tsv:<data root>/glue/STS-B/dev.tsv."""
    if data_dir is None:
        return source
    return source.replace(str(Path(data_dir).resolve()), "<data root>")


def render(document: dict) -> str:
    """JSON with the provenance indented and each list of 1500 numbers on one line."""
    head = json.dumps({k: v for k, v in document.items() if k not in LISTS}, indent=2)[:-2]  # drop the closing "\n}"
    lists = ",\n".join(f'  "{key}": {json.dumps(document[key])}' for key in LISTS)
    return f"{head},\n{lists}\n}}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data",
                        help="data root with glue/STS-B/dev.tsv; 'hub' for the Hugging Face Hub. Default: %(default)s")
    parser.add_argument("--vocab", type=Path, default=ROOT.parent / "shared" / "models" / "bert-base-uncased" / "vocab.txt",
                        help="bert-base-uncased's vocab.txt (sha256-checked). Default: %(default)s")
    parser.add_argument("--output", type=Path, default=speed_inputs.LENGTHS_FIXTURE, help="Default: %(default)s")
    args = parser.parse_args(argv)
    data_dir = None if str(args.data_dir) == "hub" else args.data_dir
    try:
        document = compute(data_dir, args.vocab)
    except ClaimsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    text = render(document)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}: {document['pairs']} pairs, {document['tokens']} tokens, lengths "
          f"{min(document['lengths'])} to {max(document['lengths'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
