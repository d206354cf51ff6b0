"""Worker for the ZeRO-path equivalence tests (run under torchrun or as one process).

Trains through the product's own entry points, then every rank runs a forward pass on a
fixed probe batch with the *trained, still sharded* model; rank 0 saves those logits so
the test can compare them with the reloaded, saved HF model.
"""
import os
import sys

import torch

from decomptune.config import parse_args
from decomptune.data import DecompileCollator, prepare_dataset
from decomptune.tokenizer import load_tokenizer
from decomptune.train.finalize import finalize_output
from decomptune.train.run import make_plan
from decomptune.train.zero import train_zero


def main(argv):
    cfg, ns, _ = parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", 1))
    tokenizer = load_tokenizer(None)
    plan = make_plan(cfg, ns.layout, world, tokenizer)
    train_ds, _ = prepare_dataset(cfg.data, tokenizer, split="train")
    collator = DecompileCollator(tokenizer)
    trainer = train_zero(cfg, tokenizer, train_ds, collator, plan.ds_config)
    probe = collator([train_ds[i] for i in range(2)])
    model = trainer.model_wrapped if plan.ds_config else trainer.model
    # Evidence that the layout really acted: the local size of one attention weight.
    q_proj = trainer.model.model.layers[0].self_attn.q_proj.weight
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=probe["input_ids"], attention_mask=probe["attention_mask"]).logits
    if int(os.environ.get("RANK", 0)) == 0:
        finalize_output(cfg, tokenizer)
        torch.save({"logits": logits.float(), "input_ids": probe["input_ids"],
                    "attention_mask": probe["attention_mask"],
                    # ZeRO-3 keeps this rank's partition in ds_tensor (param.data is a placeholder).
                    "q_proj_local_numel": q_proj.ds_tensor.numel() if hasattr(q_proj, "ds_tensor") else q_proj.numel(),
                    "q_proj_full_numel": trainer.model.config.hidden_size ** 2},
                   os.path.join(cfg.train.output_dir, "probe_logits.pt"))


if __name__ == "__main__":
    main(sys.argv[1:])
