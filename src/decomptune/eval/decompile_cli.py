"""`decomptune decompile --model DIR [FILE|-]`: read one decompiled function (Ghidra
pseudo-C) and print the C source the model recovers."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from decomptune.errors import UserError, report_user_error


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="decomptune decompile", description=__doc__)
    p.add_argument("--model", required=True, help="a saved model directory")
    p.add_argument("input", nargs="?", default="-", help="file with the pseudo-C, or - for stdin (default)")
    p.add_argument("--prompt", default=None, help="template name or literal (default: the model's own)")
    p.add_argument("--max-new-tokens", type=int, default=512)
    p.add_argument("--tokenizer", default=None, help="default: the model directory's own")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def _read_input(source: str) -> str:
    if source == "-":
        code = sys.stdin.read()
    else:
        try:
            code = Path(source).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UserError(f"{source}: no such file") from None
        except UnicodeDecodeError:
            raise UserError(f"{source}: not UTF-8 text; pass the decompiler's C output") from None
    if not code.strip():
        raise UserError(f"{'stdin' if source == '-' else source}: empty input; pass one decompiled function")
    return code


def recover_source(model_dir: str, code: str, prompt: str | None = None, max_new_tokens: int = 512,
                   tokenizer: str | None = None) -> str:
    from decomptune.eval.generate import generate_texts, load_model
    from decomptune.prompts import load_template, render_prompt, resolve_template

    template = resolve_template(prompt) if prompt else load_template(model_dir)
    model, tok = load_model(model_dir, tokenizer)
    return generate_texts(model, tok, [render_prompt(template, code)], max_new_tokens)[0]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = _read_input(args.input)
        print(recover_source(args.model, code, args.prompt, args.max_new_tokens, args.tokenizer))
    except UserError as exc:
        return report_user_error(exc, args.debug)
    return 0


if __name__ == "__main__":
    sys.exit(main())
