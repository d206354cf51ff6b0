"""`decomptune push OUT --repo NAME`: refresh OUT's model card, then upload the model
directory to the Hugging Face Hub (or the endpoint HF_ENDPOINT names) with huggingface_hub.
Training leftovers (checkpoints, TensorBoard/W&B logs, pickles) stay behind."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .model_card import CARD_FILE, CARD_MARK, write_model_card

# What a model repo must not receive: resumable training state and local logs.
IGNORE_PATTERNS = ["checkpoints/*", "checkpoint-*/*", "wandb/*", "tensorboard/*", "runs/*",
                   "*.pt", "training_args.bin", ".cache/*"]
MODEL_FILES = ("config.json",)


def check_model_dir(path: Path) -> None:
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a directory; pass a trained model directory (the run's --output_dir)")
    missing = [f for f in MODEL_FILES if not (path / f).exists()]
    weights = list(path.glob("*.safetensors"))
    if missing or not weights:
        raise FileNotFoundError(f"{path} holds no saved model ({', '.join(missing + ([] if weights else ['*.safetensors']))}"
                                " missing); for a pipeline checkpoint run `decomptune export CKPT OUT` first")


def push(model_dir: str | Path, repo_id: str, private: bool = False, token: str | None = None,
         revision: str | None = None, message: str | None = None, refresh_card: bool = True) -> str:
    """Upload; returns the commit URL."""
    from huggingface_hub import HfApi, constants

    model_dir = Path(model_dir)
    check_model_dir(model_dir)
    if constants.HF_HUB_OFFLINE:
        raise RuntimeError("HF_HUB_OFFLINE is set: pushing needs the network; run with HF_HUB_OFFLINE=0")
    card = model_dir / CARD_FILE
    # A card we wrote is rewritten (an evaluation may have been added since); a user's own is kept.
    if refresh_card and (not card.exists() or CARD_MARK in card.read_text(encoding="utf-8")):
        write_model_card(model_dir, repo_id)
    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    info = api.upload_folder(folder_path=str(model_dir), repo_id=repo_id, repo_type="model", revision=revision,
                             commit_message=message or f"Upload {model_dir.name} with decomptune",
                             ignore_patterns=IGNORE_PATTERNS)
    return str(getattr(info, "commit_url", info))


def main(argv: list[str] | None = None) -> int:
    from .errors import report_user_error

    p = argparse.ArgumentParser(prog="decomptune push", description=__doc__)
    p.add_argument("model_dir", help="a trained model directory (a run's --output_dir or an export)")
    p.add_argument("--repo", required=True, help="hub repository id, e.g. you/falcon3-7b-decompile")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--token", default=None, help="hub token (default: HF_TOKEN or `hf auth login`)")
    p.add_argument("--revision", default=None, help="branch to push to (default: main)")
    p.add_argument("--message", default=None, help="commit message")
    p.add_argument("--keep-card", action="store_true", help="upload README.md as it is, without rewriting it")
    p.add_argument("--debug", action="store_true")
    ns = p.parse_args(sys.argv[1:] if argv is None else argv)
    import httpx  # huggingface_hub's HTTP client: unreachable hosts raise its errors
    from huggingface_hub.errors import HfHubHTTPError

    try:
        url = push(ns.model_dir, ns.repo, ns.private, ns.token, ns.revision, ns.message, not ns.keep_card)
    except (FileNotFoundError, ValueError, RuntimeError, HfHubHTTPError) as exc:
        return report_user_error(exc, ns.debug)
    except httpx.HTTPError as exc:
        endpoint = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
        return report_user_error(RuntimeError(f"cannot reach the hub at {endpoint}: {exc}"), ns.debug)
    print(f"pushed {ns.model_dir} -> {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
