"""The model card (README.md) of a trained model directory, built only from what training
left in it: decomptune_config.yaml, the prompt file, decomptune_run.json, metrics.jsonl,
loss.png, and an evaluation report (MODEL_DIR/eval/report.json) when one was made."""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import yaml

CARD_FILE = "README.md"
RUN_FACTS_FILE = "decomptune_run.json"
EVAL_REPORT = Path("eval") / "report.json"
CARD_MARK = "<!-- written by decomptune: `decomptune push` rewrites this file -->"


def save_run_facts(model_dir: str | Path) -> dict:
    """What the config cannot say: how many processes and nodes trained it (from the launcher)."""
    import decomptune

    facts = {"processes": int(os.environ.get("WORLD_SIZE", 1)),
             "nodes": int(os.environ.get("GROUP_WORLD_SIZE", os.environ.get("NNODES", 1))),
             "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
             "decomptune_version": getattr(decomptune, "__version__", "unknown")}
    Path(model_dir, RUN_FACTS_FILE).write_text(json.dumps(facts, indent=1) + "\n", encoding="utf-8")
    return facts


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); remove or regenerate it") from exc


def _hub_id(name: str) -> str | None:
    """A hub repo id ("org/name") that is not a local path: the only kind the card's metadata may name."""
    if name and re.fullmatch(r"[\w.-]+/[\w.-]+", name) and not Path(name).exists():
        return name
    return None


def _describe_model(name: str) -> str:
    if name == "tiny":
        return "`tiny`: decomptune's built-in test model (a small Llama with GQA, randomly initialised)"
    return f"[`{name}`](https://huggingface.co/{name})" if _hub_id(name) else f"`{name}` (a local model directory)"


def _describe_data(data: dict) -> str:
    path = data.get("data_path", "?")
    if path == "sample":
        return "the sample pairs shipped with decomptune (a smoke test, not a real training set)"
    return f"`{path}`" + (f", validated on `{data['validation_path']}`" if data.get("validation_path") else "")


def _training_rows(cfg: dict, facts: dict, metrics: list[dict]) -> list[tuple[str, str]]:
    t, lay = cfg.get("train", {}), cfg.get("layout", {})
    processes = facts.get("processes", 1)
    dp = max(1, processes // max(1, lay.get("tp", 1) * lay.get("pp", 1)))
    per_device, accumulation = t.get("per_device_train_batch_size"), t.get("gradient_accumulation_steps", 1)
    steps = [r["step"] for r in metrics if "loss" in r]
    losses = [r["loss"] for r in metrics if "loss" in r]
    runtime = [r["train_runtime"] for r in metrics if "train_runtime" in r]
    offload = [k for k in ("optimizer", "param") if lay.get(f"offload_{k}")]
    layout = (f"tp={lay.get('tp', 1)}, pp={lay.get('pp', 1)}, dp={dp}, ZeRO-{lay.get('zero_stage', 1)}"
              + (f", offload {'+'.join(offload)}" if offload else ""))
    if t.get("use_deepspeed") is False:
        layout = f"dp={dp}, plain PyTorch (DeepSpeed off)"
    rows = [
        ("layout", layout),
        ("processes / nodes", f"{processes} / {facts.get('nodes', 1)}"),
        ("epochs / max steps", f"{t.get('num_train_epochs')} / {t.get('max_steps')}"),
        ("batch", f"{per_device} per device x {accumulation} accumulation x {dp} replicas"
                  + (f" = {per_device * accumulation * dp}" if isinstance(per_device, int) else "")),
        ("learning rate", f"{t.get('learning_rate')} ({t.get('lr_scheduler_type')}, warmup {t.get('warmup_ratio')})"),
        ("optimizer", f"{t.get('optim')}, weight decay {t.get('weight_decay')}, max grad norm {t.get('max_grad_norm')}"),
        ("precision", "bf16" if t.get("bf16") else "fp32"),
        ("max length", f"{cfg.get('data', {}).get('model_max_length')} tokens "
                       f"(longer rows: {cfg.get('data', {}).get('overlong_policy')})"),
        ("seed", str(t.get("seed"))),
    ]
    if steps:
        rows.append(("steps trained", str(steps[-1])))
        rows.append(("training loss", f"{losses[0]:.4f} (first log) -> {losses[-1]:.4f} (last log)"))
    if runtime:
        rows.append(("training time", f"{runtime[-1]:.0f} s"))
    return rows


def _eval_section(model_dir: Path, metrics: list[dict]) -> list[str]:
    report = _read_json(model_dir / EVAL_REPORT)
    lines: list[str] = []
    if report.get("levels"):
        lines += ["## Evaluation", "", f"Re-executability on the benchmark (`{EVAL_REPORT}`):", "",
                  "| level | rows | re-executable % | compiles % | edit similarity % |", "|---|---:|---:|---:|---:|"]
        for level, v in report["levels"].items():
            lines.append(f"| {level} | {v['rows']} | {v['reexec_rate']:.2f} | {v['compile_rate']:.2f} | "
                         f"{v['edit_similarity']:.2f} |")
        if report.get("average"):
            a = report["average"]
            lines.append(f"| **average** | {report.get('total', {}).get('rows', '')} | {a['reexec_rate']:.2f} | "
                         f"{a['compile_rate']:.2f} | {a['edit_similarity']:.2f} |")
        lines.append("")
    evals = [r for r in metrics if "eval/reexec_rate" in r]
    if evals:
        last = evals[-1]
        lines += ["## Evaluation during training" if not lines else "### During training", "",
                  f"Last in-training evaluation (step {last['step']}, a subset of the benchmark):", "",
                  "| metric | value |", "|---|---:|"]
        lines += [f"| {k.split('/', 1)[1]} | {100 * v:.1f} % |" for k, v in last.items()
                  if k.startswith("eval/") and isinstance(v, (int, float))]
        lines.append("")
    return lines


def build_model_card(model_dir: str | Path, repo_id: str | None = None) -> str:
    from huggingface_hub import ModelCardData

    from .prompts import load_template
    from .train.finalize import RUN_CONFIG_FILE
    from .train.reporting import read_metrics

    model_dir = Path(model_dir)
    cfg_path = model_dir / RUN_CONFIG_FILE
    if not cfg_path.exists():
        raise FileNotFoundError(f"{cfg_path} not found: {model_dir} is not the output of `decomptune train` "
                                "(a model card needs the run's config)")
    cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8")) or {}
    facts = _read_json(model_dir / RUN_FACTS_FILE)
    metrics = read_metrics(model_dir)
    base = cfg.get("model", {}).get("model_name_or_path", "?")
    data = cfg.get("data", {})
    meta = ModelCardData(base_model=_hub_id(base), library_name="transformers", pipeline_tag="text-generation",
                         tags=["decompilation", "ghidra", "decomptune"],
                         datasets=[d for d in [_hub_id(data.get("data_path", ""))] if d] or None)
    template = load_template(model_dir)
    name = repo_id or str(model_dir)
    lines = ["---", meta.to_yaml(), "---", CARD_MARK, "", f"# {repo_id or model_dir.name}", "",
             "Turns Ghidra pseudo-C back into C source: a causal LM fine-tuned with "
             "[decomptune](https://pypi.org/project/decomptune/).", "",
             f"- **Base model:** {_describe_model(base)}",
             f"- **Training data:** {_describe_data(data)} (columns `{data.get('input_column')}` -> "
             f"`{data.get('output_column')}`)",
             f"- **Prompt template:** `{data.get('prompt_template')}`", "",
             "## Prompt", "", "The model was trained on this prompt; `{}` is where the decompiled function goes "
             "(the template is also in `decomptune_prompt.txt`):", "", "```text", template.rstrip("\n"), "```", "",
             "## Use", "", "```python", "from transformers import AutoModelForCausalLM, AutoTokenizer", "",
             f'repo = "{name}"', "tokenizer = AutoTokenizer.from_pretrained(repo)",
             "model = AutoModelForCausalLM.from_pretrained(repo)",
             'pseudo_c = open("function.ghidra.c").read()  # Ghidra\'s output for one function',
             f"prompt = {template!r}.replace('{{}}', pseudo_c, 1)",
             'ids = tokenizer(prompt, return_tensors="pt")',
             "out = model.generate(**ids, max_new_tokens=512, do_sample=False)",
             'print(tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))', "```", "",
             "or `decomptune decompile --model MODEL_DIR FILE`.", "",
             "## Training", "", "| setting | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in _training_rows(cfg, facts, metrics)]
    lines.append("")
    if (model_dir / "loss.png").exists():
        lines += ["![training loss and learning rate](loss.png)", ""]
    lines += _eval_section(model_dir, metrics)
    lines += ["The full run configuration is in `decomptune_config.yaml`; per-step metrics in `metrics.jsonl`.", ""]
    return "\n".join(lines)


def write_model_card(model_dir: str | Path, repo_id: str | None = None) -> Path:
    path = Path(model_dir) / CARD_FILE
    path.write_text(build_model_card(model_dir, repo_id), encoding="utf-8")
    return path
