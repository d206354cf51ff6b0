"""What every finished run leaves in OUTPUT besides the weights: tokenizer, prompt, config."""
from __future__ import annotations

from pathlib import Path

from ..config import RunConfig, save_config
from ..prompts import save_template

RUN_CONFIG_FILE = "decomptune_config.yaml"


def finalize_output(cfg: RunConfig, tokenizer) -> None:
    out = Path(cfg.train.output_dir)
    tokenizer.save_pretrained(out)
    # Evaluation must prompt the model exactly as it was trained.
    save_template(out, cfg.data.prompt_template)
    save_config(cfg, out / RUN_CONFIG_FILE)
