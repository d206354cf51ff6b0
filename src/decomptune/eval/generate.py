"""Greedy generation of recovered C source: batched with left padding, tokenized exactly as
training tokenized prompts (BOS + prompt), cut at EOS; resumable through predictions.jsonl."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from decomptune.errors import UserError
from decomptune.eval.benchmark import Key, Task
from decomptune.prompts import load_template, render_prompt, resolve_template

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationSettings:
    prompt: str | None = None  # None: the template stored in the model directory
    max_new_tokens: int = 512
    batch_size: int = 4
    tokenizer: str | None = None  # None: the model directory's own tokenizer


def load_model(model_dir: str | Path, tokenizer_name: str | None = None):
    """(model in eval mode on the best device, tokenizer with a pad token)."""
    from transformers import AutoModelForCausalLM

    from decomptune.tokenizer import load_tokenizer

    if not Path(model_dir, "config.json").exists():
        raise UserError(f"{model_dir}: not a saved model directory (no config.json); "
                        "pass the directory written by training or `decomptune export`")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
    try:
        tokenizer = load_tokenizer(tokenizer_name or str(model_dir))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot load a tokenizer from {tokenizer_name or model_dir} ({exc}); "
                        "save the tokenizer with the model or pass --tokenizer") from None
    return model, tokenizer


def _prompt_ids(tokenizer, prompts: list[str], max_prompt_tokens: int) -> list[list[int]]:
    # As training does (data/tokenize.py): BOS if the tokenizer uses one, then the prompt.
    bos = tokenizer.bos_token_id
    adds_bos = bos is not None and tokenizer("x", add_special_tokens=True)["input_ids"][:1] == [bos]
    ids = tokenizer(prompts, add_special_tokens=False)["input_ids"]
    # Keep the end of an over-long prompt: the question and the code's tail (as training does).
    return [([bos] if adds_bos else []) + row[-max_prompt_tokens:] for row in ids]


def _cut_at_eos(ids: list[int], stop_ids: set[int]) -> list[int]:
    for i, token in enumerate(ids):
        if token in stop_ids:
            return ids[:i]
    return ids


@torch.no_grad()
def generate_texts(model, tokenizer, prompts: list[str], max_new_tokens: int) -> list[str]:
    """Greedy continuations of `prompts` (one batch), without the prompt and cut at EOS."""
    limit = getattr(model.config, "max_position_embeddings", None) or 4096
    rows = _prompt_ids(tokenizer, prompts, max(1, limit - max_new_tokens - 1))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    width = max(map(len, rows))
    device = next(model.parameters()).device
    input_ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows], device=device)
    attention = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
    eos = tokenizer.eos_token_id
    out = model.generate(input_ids=input_ids, attention_mask=attention, max_new_tokens=max_new_tokens,
                         do_sample=False, num_beams=1, eos_token_id=eos, pad_token_id=pad,
                         temperature=None, top_p=None, top_k=None)
    stop = {eos} if eos is not None else set()
    return [tokenizer.decode(_cut_at_eos(row[width:].tolist(), stop), skip_special_tokens=True)
            for row in out]


def generate_for_tasks(model, tokenizer, tasks: list[Task], template: str, max_new_tokens: int,
                       batch_size: int, progress: bool = True, on_batch=None) -> dict[Key, str]:
    """Predictions for `tasks`, longest prompts first (less padding; memory trouble shows early)."""
    prompts = {task.key: render_prompt(template, task.input_code) for task in tasks}
    order = sorted(tasks, key=lambda t: len(prompts[t.key]), reverse=True)
    results: dict[Key, str] = {}
    bar = tqdm(total=len(order), desc="generating", unit="row", disable=not progress)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        texts = generate_texts(model, tokenizer, [prompts[t.key] for t in batch], max_new_tokens)
        done = {t.key: text for t, text in zip(batch, texts)}
        results.update(done)
        if on_batch is not None:
            on_batch(done)
        bar.update(len(batch))
    bar.close()
    return results


def _done_rows(path: Path) -> dict[Key, str]:
    """Rows already generated; a torn last line (the run was killed mid-write) is dropped."""
    done: dict[Key, str] = {}
    if not path.exists():
        return done
    lines = path.read_text(encoding="utf-8").splitlines()
    kept = []
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
            done[(row["task_id"], row["type"])] = row["prediction"]
            kept.append(line)
        except (json.JSONDecodeError, KeyError, TypeError):
            if number != len(lines):
                raise UserError(f"{path}:{number}: not a prediction row; delete the file to regenerate") from None
            log.warning("%s: dropping a torn last line from an interrupted run", path)
    if len(kept) != len(lines):
        path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
    return done


def generate_predictions(model_dir: str | Path, tasks: list[Task], out_path: str | Path,
                         settings: GenerationSettings = GenerationSettings()) -> Path:
    """Append predictions for the tasks not yet in out_path; return out_path."""
    if settings.batch_size < 1 or settings.max_new_tokens < 1:
        raise UserError("--batch-size and --max-new-tokens must be at least 1")
    out_path = Path(out_path)
    done = _done_rows(out_path)
    todo = [task for task in tasks if task.key not in done]
    log.info("%d rows already generated in %s, %d to go", len(tasks) - len(todo), out_path, len(todo))
    if not todo:
        return out_path
    template = resolve_template(settings.prompt) if settings.prompt else load_template(model_dir)
    model, tokenizer = load_model(model_dir, settings.tokenizer)
    with open(out_path, "a", encoding="utf-8") as f:
        def write(batch: dict[Key, str]) -> None:
            for (task_id, level), text in batch.items():
                f.write(json.dumps({"task_id": task_id, "type": level, "prediction": text}) + "\n")
            f.flush()  # a killed run resumes from the last whole batch

        generate_for_tasks(model, tokenizer, todo, template, settings.max_new_tokens,
                           settings.batch_size, on_batch=write)
    return out_path
