"""`make demo`: fine-tune the embedded tiny model on the shipped sample with 2 CPU
processes, show the loss falling, reload the saved model and decompile one example."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO_CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def decompile_one(model_dir: Path, max_new_tokens: int = 200) -> tuple[str, str, str]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .data.load import load_split
    from .prompts import load_template, render_prompt

    rows, _ = load_split("sample", None, "validation") or load_split("sample", None, "train")
    row = min(rows, key=lambda r: len(r["instruction"]))  # the shortest: quick to generate on CPU
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    prompt = render_prompt(load_template(model_dir), row["instruction"])
    ids = tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                             eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    text = tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    return row["instruction"], row["output"], text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="decomptune demo", description=__doc__)
    p.add_argument("--config", default=str(REPO_CONFIGS / "tiny-cpu.yaml"))
    p.add_argument("--output_dir", default="runs/demo")
    p.add_argument("--nproc", type=int, default=4, help="processes (the preset's layout is pp=2 x tp=2)")
    p.add_argument("--max_steps", type=int, default=None)
    args, extra = p.parse_known_args(argv)
    if not Path(args.config).is_file():
        print(f"error: demo config {args.config} not found (run from a source checkout, or pass --config)",
              file=sys.stderr)
        return 2
    from .train.run import main as train_main

    out = Path(args.output_dir)
    train_argv = ["--config", args.config, "--output_dir", str(out), "--nproc_per_node", str(args.nproc),
                  "--logging_steps", "10", *extra]
    if args.max_steps:
        train_argv += ["--max_steps", str(args.max_steps)]
    if out.exists():
        (out / "metrics.jsonl").unlink(missing_ok=True)
    start = time.time()
    rc = train_main(train_argv)
    if rc != 0:
        return rc
    took = time.time() - start
    from .train.reporting import step_losses

    losses = sorted(step_losses(out).items())
    from .config import RunConfig, apply_mapping, load_yaml

    saved = RunConfig()
    apply_mapping(saved, load_yaml(out / "decomptune_config.yaml"), "decomptune_config.yaml")
    layout = f" (layout tp={saved.layout.tp},pp={saved.layout.pp},zero={saved.layout.zero_stage})"
    print(f"\n== demo: trained in {took:.0f} s on {args.nproc} processes{layout}; saved to {out}")
    print("   step   loss")
    for step, loss in losses:
        print(f"   {step:>4}   {loss:.4f}")
    if len(losses) >= 2:
        print(f"   loss {losses[0][1]:.3f} -> {losses[-1][1]:.3f}"
              f" ({'falling' if losses[-1][1] < losses[0][1] else 'NOT falling'})")
    print("\n== reloading the saved model and decompiling one validation example")
    pseudo, source, recovered = decompile_one(out)
    print("--- Ghidra pseudo-C:\n" + pseudo)
    print("--- original source:\n" + source)
    print("--- model output:\n" + recovered)
    print(json.dumps({"demo_wall_s": round(took, 1), "first_loss": losses[0][1] if losses else None,
                      "last_loss": losses[-1][1] if losses else None}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
