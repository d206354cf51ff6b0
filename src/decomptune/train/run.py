"""`decomptune train` / `python -m decomptune.train`: validate everything, then train.

Everything that can be wrong (flags, YAML, layout vs model shape, DeepSpeed config, data
rows, output dir) is decided here before any worker process is spawned. Launched by
torchrun/deepspeed, each rank re-validates cheaply (the tokenized data is cached).
"""
from __future__ import annotations

import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from ..config import ConfigError, RunConfig, parse_args
from ..errors import UserError, report_user_error
from .watchdog import Heartbeat

log = logging.getLogger("decomptune.train")


@dataclass
class TrainPlan:
    cfg: RunConfig
    world_size: int
    layout: object
    ds_config: dict | None
    model_config: object


def launched_by_launcher() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def model_shape(cfg: RunConfig, tokenizer):
    from ..models.tiny import TINY_NAME, tiny_llama_config

    if cfg.model.model_name_or_path == TINY_NAME:
        return tiny_llama_config(vocab_size=len(tokenizer))
    from transformers import AutoConfig, LlamaConfig

    from ..models.presets import KNOWN_SHAPES

    try:
        return AutoConfig.from_pretrained(cfg.model.model_name_or_path)
    except OSError as exc:
        if cfg.model.model_name_or_path in KNOWN_SHAPES:  # offline: the shape is all validation needs
            return LlamaConfig(**KNOWN_SHAPES[cfg.model.model_name_or_path])
        raise UserError(f"cannot read the model config of {cfg.model.model_name_or_path!r}: {exc}. "
                        "Pass a local model directory (with config.json) or 'tiny'.") from exc


def check_model_path(name: str) -> None:
    """A path-like model name that is not there: say so before the tokenizer loader guesses a hub repo."""
    if name == "tiny" or not name.startswith(("/", ".", "~")):
        return
    path = Path(name).expanduser()
    if not path.is_dir():
        raise UserError(f"--model_name_or_path {name}: no such directory; give a local model directory "
                        "(with config.json), a hub name such as tiiuae/Falcon3-7B-Base, or 'tiny'")
    if not (path / "config.json").is_file():
        raise UserError(f"--model_name_or_path {name}: {path} has no config.json, so it is not a Hugging Face "
                        "model directory; point at the directory save_pretrained wrote")


def make_plan(cfg: RunConfig, layout_text: str | None, world_size: int, tokenizer) -> TrainPlan:
    from ..parallel.layout import Layout, parse_layout_overrides, validate

    model_config = model_shape(cfg, tokenizer)
    if layout_text and layout_text.strip().lower() == "auto":
        from ..parallel.plan import apply_auto_layout

        layout_text = apply_auto_layout(cfg, model_config, world_size)
    if layout_text:
        for key, value in parse_layout_overrides(layout_text).items():
            if key != "dp":  # dp is derived from the world size; validate() checks an explicit one
                setattr(cfg.layout, key, value)
    layout = Layout.from_args(cfg.layout, world_size)
    user_ds_config = None
    if cfg.train.deepspeed and cfg.train.use_deepspeed:
        from ..parallel.ds_config import layout_from_ds_config, load_and_check, read_ds_json

        if not layout_text:
            # A user ds.json without --layout: its stage/offload/AutoTP size are the layout.
            layout = layout_from_ds_config(read_ds_json(cfg.train.deepspeed), world_size, base=cfg.layout)
        # The user's JSON first: each of its problems is said with what DeepSpeed would really do.
        user_ds_config = load_and_check(cfg.train.deepspeed, layout, cfg.train, world_size)
    for warning in validate(layout, model_config, world_size,
                            gradient_accumulation_steps=cfg.train.gradient_accumulation_steps,
                            max_grad_norm=cfg.train.max_grad_norm):
        log.warning(warning)
    resolve_resume(cfg, layout, model_config)
    if not cfg.train.use_deepspeed:
        # Plain PyTorch (DDP when launched on several processes): the reference runs use it.
        if layout.tp > 1 or layout.pp > 1:
            raise UserError("--use_deepspeed false cannot shard a model: tp and pp need DeepSpeed; "
                            "drop --use_deepspeed false or use --layout tp=1,pp=1")
        return TrainPlan(cfg, world_size, layout, None, model_config)
    from ..parallel.ds_config import build_ds_config

    if user_ds_config is not None:
        ds_config = user_ds_config
    elif layout.path == "pipeline":
        ds_config = None  # train_pipeline builds it once the number of steps is known
    else:
        ds_config = build_ds_config(layout, cfg.train, world_size)
    return TrainPlan(cfg, world_size, layout, ds_config, model_config)


def resolve_resume(cfg: RunConfig, layout, model_config) -> None:
    """--resume auto|PATH (or --resume_from_checkpoint PATH) -> one checked checkpoint path, or None."""
    from . import checkpointing as ckpt

    t = cfg.train
    if t.resume and t.resume_from_checkpoint and t.resume != t.resume_from_checkpoint:
        raise UserError(f"--resume {t.resume} and --resume_from_checkpoint {t.resume_from_checkpoint} contradict "
                        "each other: give only one of them")
    scheme = ckpt.PIPELINE if layout.path == "pipeline" else ckpt.ZERO
    path = ckpt.resolve_resume(t.resume or t.resume_from_checkpoint, t.output_dir, scheme)
    if path is not None:
        ckpt.check_same_model(path, model_config, cfg.model.model_name_or_path)
        if layout.path == "pipeline":
            ckpt.check_same_layout(path, layout.tp, layout.pp, layout.dp)
    t.resume, t.resume_from_checkpoint = None, (str(path) if path else None)


def check_output_dir(path: str) -> None:
    """Refuse an output_dir that cannot be written, without creating it: a run refused up
    front leaves nothing behind (training creates it when it first writes)."""
    target = Path(path).expanduser().absolute()
    existing = target
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"--output_dir {path}: {existing} is a file, not a directory; choose another --output_dir")
    try:  # os.access says yes to root even on read-only mounts: really try
        tempfile.TemporaryDirectory(dir=existing).cleanup()
    except OSError as exc:
        raise UserError(f"--output_dir {path} is not writable ({existing}: {exc.strerror}); choose another "
                        "--output_dir or fix its permissions") from exc


def spawn_torchrun(nproc: int, argv: list[str]) -> int:
    # Strip our own launch flag; torchrun sets RANK/WORLD_SIZE for the children.
    child_argv = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == "--nproc_per_node":
            skip = True
            continue
        if arg.startswith("--nproc_per_node="):
            continue
        child_argv.append(arg)
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    from .watchdog import describe_failure

    # torchrun in this process: its ChildFailedError says which rank died and how.
    os.environ.pop("LOCAL_SIZE", None)  # makes DeepSpeed's CPU comm ~20x slower
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    args = ["--standalone", f"--nproc_per_node={nproc}", *CHILD_ENTRY, *child_argv]
    log.info("launching: torchrun %s", " ".join(args))
    try:
        torchrun.run(torchrun.parse_args(args))
    except ChildFailedError as exc:
        raise UserError(describe_failure(exc)) from exc
    except SignalException as exc:  # Ctrl-C or a scheduler's SIGTERM: torchrun stopped every rank
        raise UserError(f"stopped by {exc.sigval.name}; every rank was stopped. Completed checkpoints are kept: "
                        "rerun with --resume auto to continue from the newest one") from exc
    return 0


# What each spawned rank runs (tests swap in a fault-injecting script).
CHILD_ENTRY = ["-m", "decomptune.train"]


def run(argv: list[str]) -> int:
    from ..data import prepare_dataset
    from ..tokenizer import load_tokenizer

    cfg, ns, notes = parse_args(argv)
    for note in notes:
        log.warning(note)
    launched = launched_by_launcher()
    heartbeat = Heartbeat.start_from_env(cfg.train.dead_rank_timeout) if launched and not ns.check_only else None
    world_size = int(os.environ["WORLD_SIZE"]) if launched else (ns.nproc_per_node or 1)
    rank = int(os.environ.get("RANK", 0))
    from .progress import configure_console

    configure_console(rank)  # bars on rank 0's terminal, plain lines in logs, quiet elsewhere

    check_model_path(cfg.model.model_name_or_path)
    tokenizer = load_tokenizer(cfg.model.tokenizer_name_or_path or
                               (None if cfg.model.model_name_or_path == "tiny" else cfg.model.model_name_or_path))
    plan = make_plan(cfg, ns.layout, world_size, tokenizer)
    # Ranks on one machine take turns: the first tokenizes into the datasets cache, the rest reuse it.
    with FileLock(os.path.join(tempfile.gettempdir(), "decomptune-data.lock")):
        train_ds, _report = prepare_dataset(cfg.data, tokenizer, split="train")  # logs its report
    if len(train_ds) == 0:
        raise UserError(f"no training rows left from {cfg.data.data_path} (see the data report above)")
    if rank == 0:
        check_output_dir(cfg.train.output_dir)
    if ns.check_only:
        if rank == 0:
            print(f"OK: layout {plan.layout} on {world_size} process(es); path={plan.layout.path}; "
                  f"{len(train_ds)} training rows")
        if heartbeat:
            heartbeat.stop()
        return 0

    if not launched and world_size > 1:
        return spawn_torchrun(world_size, argv)

    from ..data import make_collator
    from .finalize import finalize_output

    collator = make_collator(cfg.data, tokenizer, cfg.model)  # padded rows, or packed ones (--packing)
    if plan.layout.path == "pipeline":
        from .pipeline import train_pipeline

        train_pipeline(cfg, plan.model_config, tokenizer, train_ds, collator)
    else:
        from .zero import train_zero

        train_zero(cfg, tokenizer, train_ds, collator, plan.ds_config, callbacks=extra_callbacks(cfg))
    if rank == 0:
        finalize_output(cfg, tokenizer)
    if heartbeat:
        heartbeat.stop()
    return 0


def extra_callbacks(cfg: RunConfig) -> list:
    if not (cfg.train.eval_benchmark and cfg.train.eval_every > 0):
        return []
    from ..eval.in_training import EvalCallback

    return [EvalCallback(cfg.train.eval_benchmark, every=cfg.train.eval_every, limit=cfg.train.eval_limit,
                         prompt=cfg.data.prompt_template)]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    debug = "--debug" in argv
    try:
        return run(argv)
    except user_errors() as exc:
        return report_user_error(exc, debug)
    except RuntimeError as exc:
        from .watchdog import EXIT_PEER_DEAD, peer_lost

        if debug or not peer_lost(exc):
            raise
        print(f"error: rank {os.environ.get('RANK', '?')} lost its connection to another rank, which died or "
              f"hung ({str(exc).splitlines()[0][-160:]}); the launcher names the rank that failed",
              file=sys.stderr, flush=True)
        return EXIT_PEER_DEAD


def user_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean bad input, answered with one message; anything else is our bug."""
    from ..data import DataError
    from ..parallel.ds_config import DeepSpeedConfigError
    from ..parallel.layout import LayoutError

    return (UserError, ConfigError, DataError, LayoutError, DeepSpeedConfigError, FileNotFoundError)


if __name__ == "__main__":
    sys.exit(main())
