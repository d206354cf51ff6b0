"""Pipeline-layout checkpoints: save, resume, and export to one HF safetensors model.

A checkpoint is DeepSpeed's own directory (`<output_dir>/checkpoints/step-N/`: one file
per pipeline layer and tensor-parallel rank, optimizer and scheduler state per rank)
plus what makes it self-describing: the model's config.json, the tokenizer, the prompt
template, and `decomptune_pipeline.json` (layout and data position).

`decomptune export CKPT OUT` (main() below) glues the TP shards and pipeline stages
back into one model that `from_pretrained` loads. Resuming needs the same layout;
to change layout, export and start a new run from the exported model (slice on load).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

from .models import llama

META_FILE = "decomptune_pipeline.json"
CHECKPOINTS_DIR = "checkpoints"
RNG_FILE = "rng_state_{rank}.pth"


def checkpoint_root(output_dir: str | Path) -> Path:
    return Path(output_dir) / CHECKPOINTS_DIR


def save_pipeline_checkpoint(engine, root: Path, step: int, config, grid, tokenizer=None,
                             prompt_template: str | None = None, keep: int | None = None) -> Path:
    """Collective: every rank writes its part. Returns the step's directory.

    Crash-safe (see train/checkpointing.py): written under root/.staging, made visible by a
    rename once complete, `latest` updated last. keep: how many complete step directories
    to keep (the newest; like save_total_limit)."""
    import deepspeed

    from .train import checkpointing as ckpt

    tag = ckpt.PIPELINE.name(step)
    staged = ckpt.staging_dir(root, tag)
    rank0 = deepspeed.comm.get_rank() == 0
    if rank0:
        ckpt.clear_staging(root)
    deepspeed.comm.barrier()
    with ckpt.writing(staged, root, ckpt.PIPELINE):
        engine.save_checkpoint(str(staged.parent), tag=tag, client_state={"data_step": step}, save_latest=False)
        if rank0:
            for script in staged.parent.glob("*.py"):  # DeepSpeed's zero_to_fp32.py etc., beside the tag
                script.replace(staged / script.name)
            config.save_pretrained(staged)
            meta = {"step": step, "tp": grid.tp, "pp": grid.pp, "dp": grid.dp}
            (staged / META_FILE).write_text(json.dumps(meta, indent=1))
            if tokenizer is not None:
                tokenizer.save_pretrained(staged)
            if prompt_template is not None:
                from .prompts import save_template

                save_template(staged, prompt_template)
        staged.mkdir(parents=True, exist_ok=True)
        torch.save(rng_state(), staged / RNG_FILE.format(rank=deepspeed.comm.get_rank()))
        ckpt.fsync_tree(staged)
    deepspeed.comm.barrier()
    if rank0:
        ckpt.commit(staged, ckpt.PIPELINE, root, step)
        ckpt.rotate(root, ckpt.PIPELINE, keep)
    deepspeed.comm.barrier()
    return root / tag


def rng_state() -> dict:
    """This rank's random generators (dropout masks, any sampling), saved per rank like HF does."""
    import random

    import numpy as np

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    import random

    import numpy as np

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def resolve_step_dir(path: str | Path) -> Path:
    """A step directory, or a checkpoints root (-> the step its `latest` file names)."""
    path = Path(path)
    if (path / META_FILE).exists():
        return path
    for root in (path, path / CHECKPOINTS_DIR):
        latest = root / "latest"
        if latest.exists():
            return root / latest.read_text().strip()
    raise FileNotFoundError(f"{path} is not a decomptune pipeline checkpoint: expected {META_FILE} in it, "
                            f"or a 'latest' file in it or in {path / CHECKPOINTS_DIR}")


def load_pipeline_checkpoint(engine, path: str | Path) -> int:
    """Restore model, optimizer and scheduler in place; returns the step to continue from."""
    step_dir = resolve_step_dir(path)
    meta = json.loads((step_dir / META_FILE).read_text())
    grid = engine.grid
    here = {"tp": grid.get_slice_parallel_world_size(), "pp": grid.pipe_parallel_size,
            "dp": grid.data_parallel_size}
    saved = {k: meta[k] for k in here}
    if saved != here:
        raise ValueError(f"checkpoint {step_dir} was saved with layout {saved}, this run is {here}: resuming "
                         f"needs the same layout. To change layout, `decomptune export {step_dir} OUT` "
                         "and train from OUT")
    load_path, client_state = engine.load_checkpoint(str(step_dir.parent), tag=step_dir.name)
    if load_path is None:
        raise FileNotFoundError(f"DeepSpeed found no checkpoint files in {step_dir}")
    rng_file = step_dir / RNG_FILE.format(rank=torch.distributed.get_rank())
    if rng_file.exists():
        set_rng_state(torch.load(rng_file, weights_only=False))
    return int(client_state["data_step"])


def consolidated_state_dict(step_dir: Path, config) -> dict[str, torch.Tensor]:
    """HF-named full tensors from the per-layer, per-TP-rank files of one step."""
    state = {}
    for idx, kind in enumerate(llama.layer_kinds(config)):
        files = sorted(step_dir.glob(f"layer_{idx:02d}-*model_states.pt"))
        if not files:
            if kind == llama.HEAD and config.tie_word_embeddings:
                continue  # the tied head is the embedding, saved with layer 0
            raise FileNotFoundError(f"{step_dir} lacks the weights of pipeline layer {idx} ({kind}); "
                                    "the checkpoint is incomplete")
        shards = [torch.load(f, map_location="cpu", weights_only=True) for f in files]
        for key in shards[0]:
            state[llama.hf_name(kind, key, config)] = llama.join_shards([s[key] for s in shards], key).contiguous()
    return state


def export(checkpoint: str | Path, out_dir: str | Path) -> Path:
    """Consolidate a pipeline checkpoint (any tp x pp x dp) into one HF safetensors model."""
    from huggingface_hub import save_torch_state_dict
    from transformers import AutoConfig

    step_dir = resolve_step_dir(checkpoint)
    config = AutoConfig.from_pretrained(step_dir)
    state = consolidated_state_dict(step_dir, config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_torch_state_dict(state, out, max_shard_size="5GB")
    config.save_pretrained(out)
    if (step_dir / "tokenizer_config.json").exists():
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(step_dir).save_pretrained(out)
    from .prompts import PROMPT_FILE

    if (step_dir / PROMPT_FILE).exists():
        shutil.copy(step_dir / PROMPT_FILE, out / PROMPT_FILE)
    return out


def main(argv: list[str] | None = None) -> int:
    from .errors import report_user_error

    parser = argparse.ArgumentParser(
        prog="decomptune export",
        description="Consolidate a pipeline checkpoint (TP shards + stages) into one HF safetensors model.")
    parser.add_argument("checkpoint", help="a step directory (.../checkpoints/step-N) or a checkpoints root "
                                           "(uses its 'latest'), or the run's output_dir")
    parser.add_argument("out", help="directory to write the HF model to")
    parser.add_argument("--debug", action="store_true")
    ns = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        out = export(ns.checkpoint, ns.out)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        return report_user_error(exc, ns.debug)
    print(f"exported {resolve_step_dir(ns.checkpoint)} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
