#!/usr/bin/env python
"""Train the small byte-level BPE tokenizer shipped in src/decomptune/assets/tokenizer/.

It is the embedded default's tokenizer ("tiny"): trained only on C text we may
redistribute (HumanEval-Decompile, MIT), so it can ship inside the package.

    .venv/bin/python scripts/train_tokenizer.py \
        --data ../shared/data/humaneval-decompile/decompile-eval-executable-gcc-ghidra.dev.json \
        --out src/decomptune/assets/tokenizer
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared/data/humaneval-decompile/decompile-eval-executable-gcc-ghidra.dev.json"
DEFAULT_OUT = REPO / "src/decomptune/assets/tokenizer"
SPECIAL_TOKENS = ["<s>", "</s>", "<pad>", "<unk>"]
# Text fields of a HumanEval-Decompile record that hold C: source, test driver, Ghidra output.
TEXT_FIELDS = ("c_func", "c_test", "input_asm_prompt")


def training_texts(paths: list[Path], c_files: list[Path]) -> list[str]:
    """Every distinct C text in the given HumanEval-Decompile JSON files, plus plain C files."""
    seen: dict[str, None] = {}  # ordered set: c_func/c_test repeat once per opt level
    for path in c_files:
        seen.setdefault(path.read_text(encoding="utf-8", errors="replace"))
    for path in paths:
        records = json.loads(path.read_text(encoding="utf-8"))
        for record in records:
            for name in TEXT_FIELDS:
                text = record.get(name)
                if isinstance(text, str) and text.strip():
                    seen.setdefault(text)
    return list(seen)


def train(texts: list[str], vocab_size: int) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    # Byte-level: every byte sequence is encodable, so decode(encode(c)) == c for any C file.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    # Add <s> in front like Llama tokenizers do, so the data pipeline's BOS path is exercised.
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    return tok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="+", default=[DEFAULT_DATA],
                        help="HumanEval-Decompile style JSON files (MIT) to learn merges from")
    parser.add_argument("--c_files", type=Path, nargs="*", default=[],
                        help="extra plain C/H files under a licence that lets us ship the result")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--vocab_size", type=int, default=4096)
    parser.add_argument("--model_max_length", type=int, default=2048)
    args = parser.parse_args(argv)

    texts = training_texts(args.data, args.c_files)
    if not texts:
        print(f"no C text found in {args.data}", file=sys.stderr)
        return 1
    tok = train(texts, args.vocab_size)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>",
        model_max_length=args.model_max_length,
        clean_up_tokenization_spaces=False,  # C spacing must survive decode exactly
    )
    args.out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(args.out)
    n_chars = sum(map(len, texts))
    print(f"trained on {len(texts)} texts ({n_chars:,} chars); vocab {tok.get_vocab_size()} -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
