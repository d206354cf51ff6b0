"""What every finished run leaves in OUTPUT besides the weights: tokenizer, prompt, config,
the loss plot and the model card (README.md)."""
from __future__ import annotations

import logging
from pathlib import Path

from ..config import RunConfig, save_config
from ..prompts import save_template

RUN_CONFIG_FILE = "decomptune_config.yaml"
log = logging.getLogger(__name__)


def finalize_output(cfg: RunConfig, tokenizer) -> None:
    from ..model_card import save_run_facts, write_model_card
    from ..plot import render_loss_plot
    from .reporting import read_metrics

    out = Path(cfg.train.output_dir)
    tokenizer.save_pretrained(out)
    # Evaluation must prompt the model exactly as it was trained.
    save_template(out, cfg.data.prompt_template)
    save_config(cfg, out / RUN_CONFIG_FILE)
    save_run_facts(out)
    if any("loss" in row for row in read_metrics(out)):
        log.info("loss plot: %s", render_loss_plot(out))
    else:
        log.info("no training loss was logged (fewer steps than --logging_steps?): no loss.png")
    log.info("model card: %s", write_model_card(out))
